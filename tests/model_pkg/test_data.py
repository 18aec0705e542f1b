"""MNIST loading: every source, every failure named; the pipeline sees train digits only."""

import gzip
import os
import shutil

import numpy as np
import pytest

from model_pkg import data
from model_pkg.data import DataError


@pytest.fixture(scope="module")
def mnist():
    return data.load_mnist(allow_download=False)


def test_vendored_copy_loads_and_is_mnist(mnist):
    assert mnist.source == data.VENDORED_PATH and mnist.sha256 == data.VENDORED_SHA256
    assert mnist.x_train.shape == (60_000, 28, 28) and mnist.x_test.shape == (10_000, 28, 28)
    counts = np.bincount(mnist.y_test, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    altered = tmp_path / "mnist.npz"
    shutil.copy(data.VENDORED_PATH, altered)
    with open(altered, "r+b") as handle:   # flip one byte in the middle
        handle.seek(os.path.getsize(altered) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(data, "VENDORED_PATH", str(altered))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))
    with pytest.raises(DataError) as err:
        data.load_mnist(allow_download=False)
    message = str(err.value)
    assert "sha256" in message and "does not match" in message and str(altered) in message


def test_nothing_found_names_every_place_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "VENDORED_PATH", str(tmp_path / "gone.npz"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(DataError) as err:
        data.load_mnist(allow_download=False)
    message = str(err.value)
    assert str(tmp_path / "gone.npz") in message
    assert str(tmp_path / "keras" / "datasets" / "mnist.npz") in message
    assert "--data PATH" in message


def test_keras_cache_is_a_source(tmp_path, monkeypatch):
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    shutil.copy(data.VENDORED_PATH, cache / "mnist.npz")
    monkeypatch.setattr(data, "VENDORED_PATH", str(tmp_path / "gone.npz"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert data.load_mnist(allow_download=False).source == str(cache / "mnist.npz")


def test_explicit_npz_with_wrong_shapes_is_refused(tmp_path, mnist):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=mnist.x_train[:100], y_train=mnist.y_train,
             x_test=mnist.x_test, y_test=mnist.y_test)
    with pytest.raises(DataError, match=r"x_train has shape \(100, 28, 28\), expected \(60000"):
        data.load_mnist(path)


def test_explicit_npz_with_wrong_dtype_or_keys_is_refused(tmp_path, mnist):
    path = tmp_path / "float.npz"
    np.savez(path, x_train=mnist.x_train.astype(np.float32), y_train=mnist.y_train,
             x_test=mnist.x_test, y_test=mnist.y_test)
    with pytest.raises(DataError, match="x_train has dtype float32, expected uint8"):
        data.load_mnist(path)
    np.savez(tmp_path / "keys.npz", images=mnist.x_test)
    with pytest.raises(DataError, match="missing arrays"):
        data.load_mnist(tmp_path / "keys.npz")


def test_explicit_path_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        data.load_mnist(tmp_path / "nope.npz")


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(header + array.tobytes())


def test_idx_folder_loads_the_same_digits(tmp_path, mnist):
    for key, name in data.IDX_FILES.items():
        array = getattr(mnist, key)
        _write_idx(tmp_path / name, array, 2051 if key.startswith("x_") else 2049)
    loaded = data.load_mnist(tmp_path)
    assert loaded.source == str(tmp_path) and loaded.sha256 is None
    np.testing.assert_array_equal(loaded.x_train, mnist.x_train)
    np.testing.assert_array_equal(loaded.y_test, mnist.y_test)


def test_idx_folder_with_bad_magic_or_missing_file(tmp_path, mnist):
    with pytest.raises(DataError, match="missing IDX files"):
        data.load_mnist(tmp_path)
    for key, name in data.IDX_FILES.items():
        _write_idx(tmp_path / name, getattr(mnist, key), 1234)
    with pytest.raises(DataError, match="IDX magic number 1234, expected 2051"):
        data.load_mnist(tmp_path)


def test_to_model_range():
    out = data.to_model_range(np.array([[[0, 255]]], dtype=np.uint8))
    assert out.shape == (1, 1, 2, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out.ravel(), [-1.0, 1.0])
