"""Publishing versions: stage, fsync, rename to the next integer, never reuse one.

``<models-dir>/cgan/`` holds numbered version folders and, hidden from TF
Serving (it only looks at numeric names), ``.staging-<pid>-*`` folders being
built, ``.publish.lock`` and ``.last_version``, the high-water mark that keeps
a deleted version's number from coming back.
"""

import contextlib
import fcntl
import os
import shutil
import tempfile

from model_pkg import contract
from model_pkg.fileio import atomic_write_text, fsync_dir, fsync_tree

_STAGING_PREFIX = ".staging-"
_HIGH_WATER = ".last_version"
_LOCK = ".publish.lock"


def model_root(models_dir):
    return os.path.join(os.path.abspath(models_dir), contract.MODEL_NAME)


def list_versions(root):
    """Sorted published version numbers under ``root``."""
    if not os.path.isdir(root):
        return []
    return sorted(int(n) for n in os.listdir(root)
                  if n.isdigit() and int(n) > 0 and os.path.isdir(os.path.join(root, n)))


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_staging(root):
    """Removes staging folders whose exporting process is gone (killed exports)."""
    if not os.path.isdir(root):
        return []
    removed = []
    for name in os.listdir(root):
        if not name.startswith(_STAGING_PREFIX):
            continue
        pid = name[len(_STAGING_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or not _pid_alive(int(pid)):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            removed.append(name)
    return removed


@contextlib.contextmanager
def staging_dir(root):
    """A fresh staging folder inside ``root``; removed unless it was published."""
    os.makedirs(root, exist_ok=True)
    path = tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-", dir=root)
    try:
        yield path
    finally:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _publish_lock(root):
    with open(os.path.join(root, _LOCK), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)   # waits: exports queue, never collide
        yield


def _high_water(root):
    try:
        with open(os.path.join(root, _HIGH_WATER)) as handle:
            return int(handle.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def publish(root, staging, finalize):
    """Renames ``staging`` to the next version; returns (version, folder).

    ``finalize(staging, version)`` writes what depends on the number (the
    manifest, the ONNX metadata) under the lock, just before the rename.
    """
    with _publish_lock(root):
        version = max(list_versions(root) + [_high_water(root)]) + 1
        target = os.path.join(root, str(version))
        if os.path.exists(target):
            raise RuntimeError(f"{target} exists although {version} is past every version")
        finalize(staging, version)
        # mkdtemp made it 0700; TF Serving (as another user) must read the version.
        os.chmod(staging, 0o755)
        fsync_tree(staging)
        os.rename(staging, target)
        fsync_dir(root)
        atomic_write_text(os.path.join(root, _HIGH_WATER), f"{version}\n")
    return version, target
