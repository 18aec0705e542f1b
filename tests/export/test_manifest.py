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
    assert manifest["onnx"]["builder"] == "rewritten (export/onnx_graph.py)"
    assert manifest["onnx"]["builder_reason"].startswith("the seed architecture")
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


@pytest.fixture
def fake_version(tmp_path):
    """A version folder whose files are placeholders but whose manifest is well-formed:
    fast to build, and verify_version passes on it."""
    from model_pkg.export.manifest import REQUIRED_FILES, write_manifest

    folder = tmp_path / "cgan" / "1"
    for rel in REQUIRED_FILES:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(rel.encode())
    write_manifest(str(folder), {
        "version": 1, "signature": contract.signature_description(), "quality": None,
        "training": {"step": 3, "checkpoint": "ckpt-3", "config": {"preset": "seed"}}})
    verify_version(str(folder))
    return folder


def _rewrite(folder, edit=None, text=None):
    """Rewrites manifest.json from ``edit(manifest)`` (digest kept consistent) or raw text."""
    path = folder / contract.MANIFEST_NAME
    if text is None:
        manifest = json.loads(path.read_text())
        edit(manifest)
        manifest["digest"] = manifest_digest(manifest)
        text = json.dumps(manifest)
    path.write_text(text)
    return path


def _nan(folder):
    manifest = json.loads((folder / contract.MANIFEST_NAME).read_text())
    text = json.dumps(manifest).replace('"quality": null', '"quality": {"label_accuracy": NaN}')
    return _rewrite(folder, text=text)


@pytest.mark.parametrize("malformed, rule", [
    (_nan, "NaN"),
    (lambda f: _rewrite(f, text='{"training": ' + "[" * 100_000 + "]" * 100_000 + "}"),
     "nested"),
    (lambda f: _rewrite(f, text='{"a": ' + '{"a": ' * 60 + "1" + "}" * 61), "nested"),
    (lambda f: _rewrite(f, lambda m: m.pop("training")), "'training'"),
    (lambda f: _rewrite(f, lambda m: m["training"].pop("step")), "training.step"),
    (lambda f: _rewrite(f, lambda m: m["training"].update(config=[])), "training.config"),
    (lambda f: _rewrite(f, lambda m: m.update(version=True)), "version"),
    (lambda f: _rewrite(f, lambda m: m.update(quality="good")), "quality"),
    (lambda f: _rewrite(f, lambda m: m["files"].update({"../../etc/passwd": "0" * 64})),
     r"\.\."),
    (lambda f: _rewrite(f, lambda m: m["files"].update({"/etc/passwd": "0" * 64})),
     "relative"),
    (lambda f: _rewrite(f, lambda m: m["files"].update({"model.onnx": 5})), "sha256"),
    (lambda f: _rewrite(f, text=json.dumps(dict(
        json.loads((f / contract.MANIFEST_NAME).read_text()), digest=None))), "digest"),
])
def test_every_malformed_manifest_is_an_integrity_error_naming_the_file(fake_version,
                                                                        malformed, rule):
    path = malformed(fake_version)
    with pytest.raises(IntegrityError, match=rule) as err:
        verify_version(str(fake_version))
    assert str(path) in str(err.value)


def test_evaluate_on_a_manifest_without_training_says_why_without_a_traceback(fake_version):
    import subprocess
    import sys

    _rewrite(fake_version, lambda m: m.pop("training"))
    out = subprocess.run([sys.executable, "-m", "model_pkg", "evaluate", str(fake_version)],
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "manifest.json" in out.stderr and "'training'" in out.stderr
