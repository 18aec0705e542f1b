"""Publishing versions: stage, fsync, rename to the next integer, never reuse one.

``<models-dir>/cgan/`` holds numbered version folders and, hidden from TF
Serving (it only looks at numeric names), ``.staging-<pid>-<owner>-*`` folders
being built, ``.publish.lock`` and ``.last_version``, the high-water mark that
keeps a deleted version's number from coming back.

``<owner>`` stamps the host and PID namespace the pid belongs to: the compose
pipeline container and an export on the host share ./artifacts, and a pid from
one namespace says nothing about a process in the other.
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import tempfile
import time

from model_pkg import contract
from model_pkg.fileio import atomic_write_text, fsync_dir, fsync_tree

_STAGING_PREFIX = ".staging-"
_HIGH_WATER = ".last_version"
_LOCK = ".publish.lock"
# A staging folder whose pid cannot be checked here (another host or PID
# namespace, or a name without an owner) is removed only once nothing in it has
# changed for this long: far longer than any export, so a live one is never taken.
FOREIGN_STAGING_MAX_AGE_S = 24 * 3600


def model_root(models_dir):
    return os.path.join(os.path.abspath(models_dir), contract.MODEL_NAME)


def list_versions(root):
    """Sorted published version numbers under ``root``."""
    if not os.path.isdir(root):
        return []
    return sorted(int(n) for n in os.listdir(root)
                  if _is_number(n) and int(n) > 0 and os.path.isdir(os.path.join(root, n)))


def _is_number(name):
    # ASCII digits only, as TF Serving reads version folders: str.isdigit also
    # accepts "²" (int() refuses it) and "١" (int() reads it as 1).
    return name.isascii() and name.isdigit()


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_token():
    """12 hex digits naming this host and PID namespace (hostname, /proc/self/ns/pid inode)."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:   # no /proc (not Linux): the hostname alone
        namespace = "?"
    identity = f"{socket.gethostname()}|{namespace}".encode()
    return hashlib.sha256(identity).hexdigest()[:12]


def staging_prefix(pid=None):
    """The name prefix of a staging folder made by ``pid`` (default: this process) here."""
    return f"{_STAGING_PREFIX}{os.getpid() if pid is None else pid}-{owner_token()}-"


def _newest_change(folder):
    """The latest mtime of ``folder`` and everything in it (a live export keeps writing)."""
    newest = os.lstat(folder).st_mtime
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(parent, name)).st_mtime)
            except OSError:
                pass   # removed while we looked
    return newest


def _is_stale(root, name, owner):
    """Dead if its pid is gone and the pid is ours to check; otherwise judged by age."""
    pid, _, rest = name[len(_STAGING_PREFIX):].partition("-")
    same_namespace = rest.split("-", 1)[0] == owner and rest.count("-") >= 1
    if _is_number(pid) and same_namespace:
        return not _pid_alive(int(pid))
    age = time.time() - _newest_change(os.path.join(root, name))
    return age > FOREIGN_STAGING_MAX_AGE_S


def clean_stale_staging(root):
    """Removes staging folders of exports that are gone (killed): by pid when the folder
    was made in this host and PID namespace, else by age (FOREIGN_STAGING_MAX_AGE_S)."""
    if not os.path.isdir(root):
        return []
    removed, owner = [], owner_token()
    for name in sorted(os.listdir(root)):
        if name.startswith(_STAGING_PREFIX) and _is_stale(root, name, owner):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            removed.append(name)
    return removed


@contextlib.contextmanager
def staging_dir(root):
    """A fresh staging folder inside ``root``; removed unless it was published."""
    os.makedirs(root, exist_ok=True)
    path = tempfile.mkdtemp(prefix=staging_prefix(), dir=root)
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


def _readable_by_all(root, staging):
    """Folders 0755 and files 0644 under ``staging``; ``root`` listable by everyone."""
    os.chmod(root, os.stat(root).st_mode | 0o055)
    for folder, _, files in os.walk(staging):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


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
        # TF Serving (nobody in docker-compose.yml) must read the version whatever the
        # exporter's umask (mkdtemp gives 0700; umask 077 gives 0600 files inside).
        _readable_by_all(root, staging)
        fsync_tree(staging)
        os.rename(staging, target)
        fsync_dir(root)
        atomic_write_text(os.path.join(root, _HIGH_WATER), f"{version}\n")
    return version, target
