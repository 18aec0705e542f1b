"""MNIST: find it, verify it, and feed the training digits (never the test digits).

Sources, in order, when no explicit path is given:
  1. the copy vendored in this package (``model_pkg/assets/mnist.npz``), sha256-checked;
  2. Keras's cache (``$KERAS_HOME/datasets/mnist.npz`` or ``~/.keras/datasets/mnist.npz``);
  3. Keras's download (``keras.datasets.mnist.load_data``), where a network allows it.
An explicit path (a Keras-layout ``.npz`` or a folder with the four IDX ``.gz``
files) is used alone: if it is wrong the error says so instead of silently
training on something else.
"""

import dataclasses
import gzip
import os

import numpy as np

from model_pkg import contract
from model_pkg.fileio import sha256_file

VENDORED_PATH = os.path.join(os.path.dirname(__file__), "assets", "mnist.npz")
# The vendored file (see model_pkg/assets/MNIST.md for its provenance).
VENDORED_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
# Keras's own download of mnist.npz (the hash keras.datasets.mnist checks).
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
_IMAGE_SHAPE = (contract.IMAGE_SIZE, contract.IMAGE_SIZE)
_EXPECTED = {
    "x_train": (contract.MNIST_TRAIN_SIZE, *_IMAGE_SHAPE),
    "y_train": (contract.MNIST_TRAIN_SIZE,),
    "x_test": (contract.MNIST_TEST_SIZE, *_IMAGE_SHAPE),
    "y_test": (contract.MNIST_TEST_SIZE,),
}


class DataError(RuntimeError):
    """MNIST could not be found or is not what it should be."""


@dataclasses.dataclass(frozen=True)
class Mnist:
    """MNIST as uint8 arrays: x_* [N,28,28] in 0..255, y_* [N] in 0..9."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str           # where it was read from
    sha256: str | None    # of the file read (None for IDX folders)


def load_mnist(path=None, allow_download=True):
    """Loads MNIST from ``path`` or, when None, from the first source that works.

    Raises DataError naming every place it looked and how to fix it.
    """
    if path is not None:
        return _load_path(os.fspath(path))
    failures = []
    for name, loader in _default_sources(allow_download):
        try:
            return loader()
        except (DataError, OSError, ValueError) as err:
            failures.append(f"  - {name}: {err}")
    raise DataError(
        "MNIST not found. Looked in:\n" + "\n".join(failures) +
        "\nFix: restore model_pkg/assets/mnist.npz from a fresh clone, or pass "
        "--data PATH (a Keras-layout mnist.npz, or a folder with "
        + ", ".join(IDX_FILES.values()) + ").")


def _default_sources(allow_download):
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    cache = os.path.join(keras_home, "datasets", "mnist.npz")
    sources = [
        (f"vendored copy {VENDORED_PATH}", lambda: _load_npz(VENDORED_PATH, {VENDORED_SHA256})),
        (f"Keras cache {cache}",
         lambda: _load_npz(cache, {KERAS_SHA256, VENDORED_SHA256})),
    ]
    if allow_download:
        sources.append(("Keras download (keras.datasets.mnist.load_data)", _keras_download))
    return sources


def _load_path(path):
    if os.path.isdir(path):
        return _load_idx_folder(path)
    if not os.path.exists(path):
        raise DataError(f"--data {path}: no such file or folder")
    return _load_npz(path, expected_sha256=None)


def _load_npz(path, expected_sha256):
    if not os.path.isfile(path):
        raise DataError(f"{path}: file does not exist")
    digest = sha256_file(path)
    if expected_sha256 is not None and digest not in expected_sha256:
        raise DataError(f"{path}: sha256 {digest} does not match the expected "
                        f"{' or '.join(sorted(expected_sha256))} (corrupt or altered file)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = sorted(set(_EXPECTED) - set(npz.files))
            if missing:
                raise DataError(f"{path}: missing arrays {missing}; a Keras-layout "
                                f"mnist.npz has {sorted(_EXPECTED)}")
            arrays = {key: npz[key] for key in _EXPECTED}
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"{path}: not a readable .npz file ({err})") from err
    return _checked(arrays, source=path, sha256=digest)


def _read_idx(path, magic, ndim):
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: not a readable gzip file ({err})") from err
    header = 4 + 4 * ndim
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic or len(raw) < header:
        raise DataError(f"{path}: IDX magic number {found}, expected {magic}")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: {body.size} values for dimensions {dims}")
    return body.reshape(dims)


def _load_idx_folder(folder):
    missing = [name for name in IDX_FILES.values()
               if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise DataError(f"--data {folder}: missing IDX files {missing}")
    arrays = {}
    for key, name in IDX_FILES.items():
        is_images = key.startswith("x_")
        arrays[key] = _read_idx(os.path.join(folder, name),
                                magic=2051 if is_images else 2049, ndim=3 if is_images else 1)
    return _checked(arrays, source=folder, sha256=None)


def _keras_download():
    import keras  # deferred: heavy, and only needed on this path

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as err:  # keras raises several types for network failures
        raise DataError(f"download failed ({type(err).__name__}: {err})") from err
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return _checked(arrays, source="keras.datasets.mnist", sha256=KERAS_SHA256)


def _checked(arrays, source, sha256):
    """Verifies dtypes, shapes and label range; returns a Mnist."""
    for key, shape in _EXPECTED.items():
        array = arrays[key]
        if array.dtype != np.uint8:
            raise DataError(f"{source}: {key} has dtype {array.dtype}, expected uint8")
        if tuple(array.shape) != shape:
            raise DataError(f"{source}: {key} has shape {tuple(array.shape)}, expected {shape}")
    for key in ("y_train", "y_test"):
        if arrays[key].max() > contract.LABEL_MAX:
            raise DataError(f"{source}: {key} has label {arrays[key].max()}, "
                            f"expected {contract.LABEL_MIN}..{contract.LABEL_MAX}")
    return Mnist(source=source, sha256=sha256, **arrays)


def to_model_range(images_uint8):
    """uint8 [N,28,28] in 0..255 -> float32 [N,28,28,1] in [-1, 1] (the tanh range)."""
    return images_uint8[..., None].astype(np.float32) / 127.5 - 1.0
