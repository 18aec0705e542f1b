"""Every loader refuses a tampered or incomplete version, naming the file."""

import json
import os

import pytest

from model_pkg import contract
from model_pkg.export.manifest import IntegrityError, manifest_digest, verify_version
from model_pkg.export.runtimes import CApiRuntime, OnnxRuntime, SavedModelRuntime
from model_pkg.serving.generate import open_client

LOADERS = {"onnx": OnnxRuntime, "savedmodel_tf2": SavedModelRuntime,
           "savedmodel_c_api": CApiRuntime}


def _flip_byte(path):
    with open(path, "r+b") as handle:
        handle.seek(os.path.getsize(path) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0x01]))


def test_published_version_verifies_and_lists_every_file(published):
    manifest = verify_version(published[1])
    assert manifest["version"] == 1 and manifest["model_name"] == "cgan"
    for rel in ("saved_model.pb", "variables/variables.index", "model.onnx",
                "assets.extra/tf_serving_warmup_requests"):
        assert rel in manifest["files"]
    assert manifest["signature"] == contract.signature_description()
    assert manifest["onnx"]["opset"] == 17 and manifest["training"]["step"] == 3
    for lib in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"):
        assert manifest["libraries"][lib]
    assert manifest_digest(manifest) == manifest["digest"]


@pytest.mark.parametrize("rel", ["model.onnx", "saved_model.pb",
                                 "variables/variables.data-00000-of-00001",
                                 "assets.extra/tf_serving_warmup_requests"])
@pytest.mark.parametrize("damage", ["flip", "remove"])
def test_damaged_file_is_refused_by_every_loader(version_copy, rel, damage):
    path = version_copy / rel
    _flip_byte(path) if damage == "flip" else path.unlink()
    for name, loader in LOADERS.items():
        with pytest.raises(IntegrityError) as err:
            loader(str(version_copy))
        assert str(path) in str(err.value), name


def test_edited_manifest_is_refused(version_copy):
    path = version_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["training"]["step"] = 99999
    path.write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="manifest.json: digest does not match"):
        verify_version(version_copy)


def test_missing_or_corrupt_manifest_is_refused(version_copy):
    path = version_copy / "manifest.json"
    _flip_byte(path)
    with pytest.raises(IntegrityError, match="manifest.json"):
        OnnxRuntime(str(version_copy))
    path.unlink()
    with pytest.raises(IntegrityError, match="manifest.json: missing"):
        open_client("savedmodel", model=str(version_copy))


def test_an_unlisted_file_is_refused(version_copy):
    (version_copy / "variables" / "extra.bin").write_bytes(b"x")
    with pytest.raises(IntegrityError, match="files not in the manifest.*extra.bin"):
        verify_version(version_copy)


def test_version_number_must_match_the_folder(version_copy, tmp_path):
    moved = tmp_path / "cgan" / "2"
    os.rename(version_copy, moved)
    with pytest.raises(IntegrityError, match="version 1 does not match folder '2'"):
        verify_version(moved)


def test_onnx_metadata_carries_version_and_manifest_digest(published):
    runtime = OnnxRuntime(published[1])
    manifest = verify_version(published[1])
    assert runtime.metadata["version"] == "1" and runtime.metadata["model_name"] == "cgan"
    assert runtime.metadata["manifest_digest"] == manifest["digest"]
    assert json.loads(runtime.metadata["signature"]) == json.loads(
        json.dumps(contract.signature_description()))
