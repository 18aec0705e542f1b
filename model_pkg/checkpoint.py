"""Atomic, verifiable training checkpoints.

Layout under ``<workdir>/checkpoints/``:
    ckpt-00001000/state.npz     every variable (G, D, both optimizers, step)
    ckpt-00001000/meta.json     step, sha256 of state.npz, history, data source
    ckpt-00001000/config.json   the config that produced it
A checkpoint is written into ``.staging-*`` and renamed into place after an
fsync, so a folder named ``ckpt-*`` is always complete; its state.npz is still
re-hashed on load, and a damaged one is skipped with a warning.
"""

import json
import os
import re
import shutil
import tempfile
import warnings

import numpy as np

from model_pkg.fileio import atomic_write_json, fsync_dir, fsync_tree, sha256_file

_NAME = re.compile(r"^ckpt-(\d{8})$")
_STAGING_PREFIX = ".staging-"


class CheckpointError(RuntimeError):
    """A checkpoint is damaged or does not fit the model it is loaded into."""


def checkpoint_root(workdir):
    return os.path.join(workdir, "checkpoints")


def save(workdir, step, variables, meta, config_json):
    """Writes checkpoint ``step`` atomically; returns its folder.

    Args:
      variables: {key: variable with .numpy()} (see ConditionalGAN.state_variables).
      meta: JSON-able dict stored in meta.json (step and sha256 are added).
    """
    root = checkpoint_root(workdir)
    os.makedirs(root, exist_ok=True)
    final = os.path.join(root, f"ckpt-{step:08d}")
    if os.path.isdir(final):
        return final   # the same step was already saved whole; never rewrite it
    staging = tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=root)
    try:
        state_path = os.path.join(staging, "state.npz")
        np.savez(state_path, **{key: np.asarray(v.numpy()) for key, v in variables.items()})
        full_meta = dict(meta, step=step, state_sha256=sha256_file(state_path))
        atomic_write_json(os.path.join(staging, "meta.json"), full_meta)
        with open(os.path.join(staging, "config.json"), "w") as handle:
            handle.write(config_json)
        fsync_tree(staging)
        os.rename(staging, final)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def list_checkpoints(workdir):
    """[(step, folder)] of complete checkpoints, oldest first."""
    root = checkpoint_root(workdir)
    if not os.path.isdir(root):
        return []
    found = []
    for name in os.listdir(root):
        match = _NAME.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(root, name)))
    return sorted(found)


def read_meta(folder):
    """Reads meta.json and re-hashes state.npz; raises CheckpointError if they disagree."""
    meta_path = os.path.join(folder, "meta.json")
    state_path = os.path.join(folder, "state.npz")
    try:
        with open(meta_path) as handle:
            meta = json.load(handle)
        digest = sha256_file(state_path)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{folder}: unreadable checkpoint ({err})") from err
    if digest != meta.get("state_sha256"):
        raise CheckpointError(f"{state_path}: sha256 {digest} does not match meta.json "
                              f"({meta.get('state_sha256')}): damaged checkpoint")
    return meta


def latest_valid(workdir):
    """(step, folder, meta) of the newest checkpoint that verifies, or None.

    Damaged checkpoints are skipped with a warning: resuming from an older one
    repeats some steps but never trains on corrupt weights.
    """
    for step, folder in reversed(list_checkpoints(workdir)):
        try:
            return step, folder, read_meta(folder)
        except CheckpointError as err:
            warnings.warn(f"skipping damaged checkpoint: {err}", stacklevel=2)
    return None


def restore(folder, variables):
    """Assigns every variable from ``folder``/state.npz; keys must match exactly."""
    with np.load(os.path.join(folder, "state.npz"), allow_pickle=False) as npz:
        saved = set(npz.files)
        missing, extra = sorted(set(variables) - saved), sorted(saved - set(variables))
        if missing or extra:
            raise CheckpointError(f"{folder}: checkpoint does not fit this model "
                                  f"(missing {missing[:5]}, unexpected {extra[:5]})")
        for key, variable in variables.items():
            value = npz[key]
            if tuple(value.shape) != tuple(variable.shape):
                raise CheckpointError(f"{folder}: {key} has shape {value.shape}, "
                                      f"model expects {tuple(variable.shape)}")
            variable.assign(value)


def prune(workdir, keep):
    """Deletes all but the newest ``keep`` checkpoints, and staging leftovers."""
    root = checkpoint_root(workdir)
    for _, folder in list_checkpoints(workdir)[:-keep]:
        shutil.rmtree(folder, ignore_errors=True)
    clean_staging(root)


def clean_staging(root):
    """Removes half-written ``.staging-*`` folders (left by a killed process)."""
    if not os.path.isdir(root):
        return
    for name in os.listdir(root):
        if name.startswith(_STAGING_PREFIX):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
