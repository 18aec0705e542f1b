"""manifest.json: what a version is, and the check every loader runs first.

``files`` maps every other file of the version folder to its sha256.
``digest`` is the sha256 of the manifest's canonical JSON without ``digest``
itself, without the hash of model.onnx and without ``signing``; model.onnx
carries that digest in its metadata_props, so the ONNX file and the manifest
vouch for each other. ``signing`` (export/signing.py), when present, is an
Ed25519 signature over the rest of the manifest.
"""

import hashlib
import json
import os

from model_pkg import contract
from model_pkg.fileio import atomic_write_json, sha256_file

MANIFEST_FORMAT = 1
# Files a complete version must list (TF Serving's and ONNX Runtime's inputs).
REQUIRED_FILES = ("saved_model.pb", "variables/variables.index", contract.WARMUP_RELPATH,
                  contract.ONNX_NAME)


class IntegrityError(RuntimeError):
    """A version folder does not match its manifest (tampered, damaged or incomplete)."""


def file_digests(version_dir):
    """{posix relative path: sha256} of every file but manifest.json, sorted."""
    digests = {}
    for folder, _, names in os.walk(version_dir):
        for name in names:
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, version_dir).replace(os.sep, "/")
            if rel != contract.MANIFEST_NAME:
                digests[rel] = sha256_file(full)
    return dict(sorted(digests.items()))


def manifest_digest(manifest):
    """sha256 of the canonical manifest minus ``digest``, ``signing`` and the model.onnx hash."""
    core = {k: v for k, v in manifest.items() if k not in ("digest", "signing")}
    core["files"] = {k: v for k, v in manifest["files"].items() if k != contract.ONNX_NAME}
    canonical = json.dumps(core, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def write_manifest(version_dir, manifest):
    """Adds ``files`` (all current files) and ``digest``, writes manifest.json atomically."""
    manifest = dict(manifest, files=file_digests(version_dir))
    manifest["digest"] = manifest_digest(manifest)
    atomic_write_json(os.path.join(version_dir, contract.MANIFEST_NAME), manifest)
    return manifest


def read_manifest(version_dir):
    """The parsed manifest.json of ``version_dir``; any malformed one is an IntegrityError
    naming the file (never a ValueError, RecursionError or KeyError further on)."""
    path = os.path.join(version_dir, contract.MANIFEST_NAME)
    try:
        with open(path) as handle:
            manifest = json.load(handle, parse_constant=_refuse_constant)
    except FileNotFoundError:
        raise IntegrityError(f"{path}: missing; not a published version") from None
    except RecursionError:
        raise IntegrityError(f"{path}: nested too deeply to be a manifest") from None
    except (OSError, ValueError) as err:
        raise IntegrityError(f"{path}: unreadable or not JSON ({err})") from err
    check_schema(manifest, path)
    return manifest


def _refuse_constant(name):
    # json accepts NaN and Infinity by default; the digest (allow_nan=False) would not.
    raise ValueError(f"{name} is not a JSON number (NaN and Infinity are refused)")


_MAX_DEPTH = 16   # well above a real manifest's nesting; keeps json.dumps clear of recursion limits


def _depth(value):
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= _MAX_DEPTH and isinstance(node, (dict, list)):
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)   # True is an int


def check_schema(manifest, path):
    """Raises IntegrityError naming ``path`` and the rule for a manifest of the wrong shape."""
    def refuse(rule):
        raise IntegrityError(f"{path}: {rule}")

    if not isinstance(manifest, dict):
        refuse("not a JSON object")
    if _depth(manifest) > _MAX_DEPTH:
        refuse(f"nested too deeply (more than {_MAX_DEPTH} levels)")
    for key in ("version", "files", "signature", "digest", "training"):
        if key not in manifest:
            refuse(f"has no {key!r} field")
    if not _is_int(manifest["version"]) or manifest["version"] < 1:
        refuse(f"version {manifest['version']!r} must be an integer >= 1")
    if not isinstance(manifest["digest"], str):
        refuse("digest must be a string")
    _check_files(manifest["files"], refuse)
    training = manifest["training"]
    if not isinstance(training, dict):
        refuse("training must be an object")
    if not _is_int(training.get("step")):
        refuse("training.step must be an integer")
    if not isinstance(training.get("checkpoint"), str):
        refuse("training.checkpoint must be a string")
    if not isinstance(training.get("config"), dict):
        refuse("training.config must be an object")
    if not isinstance(manifest.get("quality"), (dict, type(None))):
        refuse("quality must be an object or null")


def _check_files(files, refuse):
    """'files': relative POSIX paths inside the version folder -> sha256 hex strings."""
    if not isinstance(files, dict):
        refuse("'files' is not an object")
    for rel, digest in files.items():
        parts = rel.split("/")
        if not rel or rel.startswith("/") or "\\" in rel:
            refuse(f"files: {rel!r} must be a relative POSIX path inside the version folder")
        if ".." in parts or "." in parts or "" in parts:
            refuse(f"files: {rel!r} must not contain '..', '.' or empty parts")
        if not isinstance(digest, str) or len(digest) != 64 or digest.strip(_HEX):
            refuse(f"files: {rel!r} must map to a sha256 (64 hex digits), not {digest!r}")


_HEX = "0123456789abcdef"


def verify_version(version_dir, trusted_keys=None):
    """Returns the manifest if every file matches it; raises IntegrityError naming the file.

    With trusted public keys (``trusted_keys``, else $MODEL_PKG_TRUSTED_KEYS) the
    manifest must also carry a valid signature by one of them (export/signing.py).
    """
    version_dir = os.path.abspath(version_dir)
    if not os.path.isdir(version_dir):
        raise IntegrityError(f"{version_dir}: no such version folder")
    manifest = read_manifest(version_dir)
    where = os.path.join(version_dir, contract.MANIFEST_NAME)
    version, files = manifest["version"], manifest["files"]
    name = os.path.basename(version_dir)
    if name.isascii() and name.isdigit() and int(name) != version:
        raise IntegrityError(f"{where}: version {version!r} does not match folder {name!r}")
    for rel in REQUIRED_FILES:
        if rel not in files:
            raise IntegrityError(f"{where}: does not list {rel}; incomplete version")
    actual = file_digests(version_dir)
    for rel, expected in files.items():
        if rel not in actual:
            raise IntegrityError(f"{os.path.join(version_dir, rel)}: missing")
        if actual[rel] != expected:
            raise IntegrityError(f"{os.path.join(version_dir, rel)}: sha256 {actual[rel]} "
                                 f"does not match the manifest ({expected})")
    extra = sorted(set(actual) - set(files))
    if extra:
        raise IntegrityError(f"{version_dir}: files not in the manifest: {extra}")
    if manifest_digest(manifest) != manifest["digest"]:
        raise IntegrityError(f"{where}: digest does not match its contents (edited manifest)")
    from model_pkg.export import signing  # here: signing imports this module

    signing.check(manifest, where, trusted_keys)
    return manifest
