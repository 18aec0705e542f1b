"""Signed versions: an Ed25519 signature over the whole manifest.

The manifest already proves the files are intact (their sha256); the
signature proves who published them. ``model-pkg export --signing-key KEY``
(or $MODEL_PKG_SIGNING_KEY) adds a ``signing`` field to manifest.json:

    {"algorithm": "ed25519", "key_id": <sha256 of the raw public key, 16 hex>,
     "value": <base64 signature of the canonical manifest without "signing">}

Every loader of the package runs ``check`` through verify_version: when
trusted public keys are configured ($MODEL_PKG_TRUSTED_KEYS, a PEM file with
one or more public keys, or a folder of them), an unsigned version, a bad
signature or an unknown key is refused, naming the version. With the variable
unset, nothing is required (a signature present is not checked); set but empty
is an error, never "checks off".
docs/security.md has the key handling.
"""

import base64
import hashlib
import json
import os

from model_pkg.export.manifest import IntegrityError

ALGORITHM = "ed25519"
FIELD = "signing"
TRUSTED_KEYS_ENV = "MODEL_PKG_TRUSTED_KEYS"
SIGNING_KEY_ENV = "MODEL_PKG_SIGNING_KEY"


class SignatureError(IntegrityError):
    """A version's signature is missing, wrong, or from a key that is not trusted."""


def canonical_bytes(manifest):
    """The bytes the signature covers: the manifest without its ``signing`` field."""
    core = {k: v for k, v in manifest.items() if k != FIELD}
    return json.dumps(core, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def key_id(public_key):
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key_pair(private_path, public_path):
    """Writes a new Ed25519 private key (mode 0600, PEM) and its public key; returns key_id.

    Neither file may exist beforehand, not even as a symlink: a link planted
    where a key goes would otherwise make keygen overwrite the link's target.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    for path in (private_path, public_path):   # both checked first: no half-made pair
        if os.path.lexists(path):
            raise SignatureError(f"{path}: exists (a file or a symlink); keygen never "
                                 "overwrites a key. Remove it or choose another folder")
    key = Ed25519PrivateKey.generate()
    _create_new(private_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), 0o600)
    _create_new(public_path, key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    return key_id(key.public_key())


def _create_new(path, data, mode):
    """Writes ``data`` to a file that must not exist yet; O_EXCL and O_NOFOLLOW refuse a
    file or symlink created there after the check above (a race, not just a plant)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError as err:
        raise SignatureError(f"{path}: exists (a file or a symlink); keygen never "
                             "overwrites a key") from err
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_private_key(path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        with open(path, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise SignatureError(f"signing key {path}: cannot be read as a PEM private key ({err})") \
            from err
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"signing key {path}: must be an Ed25519 key")
    return key


def sign(manifest, private_key):
    """The manifest with its ``signing`` field set."""
    signature = private_key.sign(canonical_bytes(manifest))
    return dict(manifest, **{FIELD: {"algorithm": ALGORITHM,
                                     "key_id": key_id(private_key.public_key()),
                                     "value": base64.b64encode(signature).decode()}})


def load_trusted_keys(source):
    """{key_id: public key} from a PEM file (one or more keys) or a folder of .pem files."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    paths = ([os.path.join(source, n) for n in sorted(os.listdir(source)) if n.endswith(".pem")]
             if os.path.isdir(source) else [source])
    keys = {}
    for path in paths:
        try:
            text = open(path, "rb").read()
        except OSError as err:
            raise SignatureError(f"trusted keys {path}: {err}") from err
        blocks = [b"-----BEGIN PUBLIC KEY-----" + part for part in
                  text.split(b"-----BEGIN PUBLIC KEY-----")[1:]]
        for block in blocks:
            key = serialization.load_pem_public_key(block)
            if not isinstance(key, Ed25519PublicKey):
                raise SignatureError(f"trusted keys {path}: only Ed25519 public keys are used")
            keys[key_id(key)] = key
    if not keys:
        raise SignatureError(f"trusted keys {source}: no public key found")
    return keys


def trusted_keys_from_env():
    """The keys $MODEL_PKG_TRUSTED_KEYS names, or None when it is not set.

    Set but empty is an error: an unfilled template (``${VAR:-}`` in compose, a CI
    secret that did not resolve) must not quietly turn signature checks off.
    Leaving the variable unset is the one way to run without them.
    """
    source = os.environ.get(TRUSTED_KEYS_ENV)
    if source is None:
        return None
    if not source.strip():
        raise SignatureError(f"{TRUSTED_KEYS_ENV} is set but empty: point it at a PEM file or "
                             "a folder of .pem public keys, or unset it to run without "
                             "signature checks")
    return load_trusted_keys(source)


def check(manifest, where, trusted=None):
    """Raises SignatureError unless ``manifest`` is signed by one of the ``trusted`` keys
    (default: $MODEL_PKG_TRUSTED_KEYS); does nothing when no keys are configured."""
    trusted = trusted_keys_from_env() if trusted is None else trusted
    if not trusted:
        return   # the common case: every verify_version passes here, cryptography unloaded
    from cryptography.exceptions import InvalidSignature

    signing = manifest.get(FIELD)
    if not isinstance(signing, dict) or signing.get("algorithm") != ALGORITHM:
        raise SignatureError(f"{where}: version {manifest.get('version')} is not signed, and "
                             f"{TRUSTED_KEYS_ENV} requires a signature")
    key = trusted.get(signing.get("key_id"))
    if key is None:
        raise SignatureError(f"{where}: version {manifest.get('version')} is signed by key "
                             f"{signing.get('key_id')!r}, which is not trusted")
    try:
        key.verify(base64.b64decode(signing.get("value", "")), canonical_bytes(manifest))
    except (InvalidSignature, ValueError) as err:
        raise SignatureError(f"{where}: version {manifest.get('version')} has a bad signature "
                             "(the manifest changed after signing, or it is forged)") from err
