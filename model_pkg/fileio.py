"""Small file helpers that make writes atomic and contents verifiable.

Everything the package persists (checkpoints, configs, later the model
versions) goes through here, so that a process killed at any instant leaves
either the old file or the new one, never a torn one.
"""

import hashlib
import json
import os
import tempfile


def sha256_file(path, chunk_size=1 << 20):
    """Hex sha256 of a file's bytes, read in chunks (files may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path):
    """Flushes a directory entry so a rename inside it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path, data, mode=None):
    """Writes bytes to ``path`` via a temp file in the same folder + rename.

    The file gets ``mode``, else the mode of the file it replaces, else 0644:
    mkstemp's 0600 would hide a config or a manifest from a server that runs as
    another user (docker-compose.yml runs TF Serving as nobody).
    """
    folder = os.path.dirname(os.path.abspath(path))
    if mode is None:
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def atomic_write_text(path, text, mode=None):
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_json(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def fsync_tree(root):
    """fsyncs every file and folder under ``root`` (before it is renamed into place)."""
    for folder, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(folder)
