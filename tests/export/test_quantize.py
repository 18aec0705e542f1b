"""model.int8.onnx: written beside model.onnx, within its tolerance, covered by the manifest
and the signature, left out (with the reason) when it fails its own gate."""

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from model_pkg import contract
from model_pkg.export import quantize, signing
from model_pkg.export.exporter import export_from_workdir
from model_pkg.export.manifest import IntegrityError, verify_version
from model_pkg.export.parity import golden_inputs

INT8 = quantize.INT8_NAME
SEED_LIKE = {"label_accuracy": 0.999, "worst_label_accuracy": 0.998, "frechet_ratio": 3.7,
             "coverage_ratio": 0.89}


@pytest.fixture(scope="module")
def signed_pair(trained_workdir, tmp_path_factory):
    """(trusted keys, version with the int8 file, version refused it): two signed exports
    of the 3-step model, the second with a pixel tolerance no int8 file can meet."""
    keys = tmp_path_factory.mktemp("int8_keys")
    signing.generate_key_pair(str(keys / "key.pem"), str(keys / "key.pub.pem"))
    models = str(tmp_path_factory.mktemp("int8_models"))
    kept = export_from_workdir(trained_workdir, models, log=lambda *_: None, quality=False,
                               signing_key=str(keys / "key.pem"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quantize, "TOLERANCE", quantize.Tolerance(max_abs=1e-6, mean_abs=1e-7))
        refused = export_from_workdir(trained_workdir, models, log=lambda *_: None,
                                      quality=False, signing_key=str(keys / "key.pem"))
    return signing.load_trusted_keys(str(keys / "key.pub.pem")), kept, refused


def test_the_int8_file_is_published_quantized_and_within_its_recorded_tolerance(published):
    version = published[1]
    record = verify_version(version)["reduced_precision"]["int8"]
    assert record["published"] and record["file"] == INT8
    assert INT8 in verify_version(version)["files"]
    ops = {node.op_type for node in onnx.load(os.path.join(version, INT8)).graph.node}
    assert "QLinearConv" in ops and "Conv" not in ops
    sessions = [ort.InferenceSession(os.path.join(version, name),
                                     providers=["CPUExecutionProvider"])
                for name in (contract.ONNX_NAME, INT8)]
    diffs = []
    for label, noise in golden_inputs():
        out = [s.run(None, {"label": label, "noise": noise})[0] for s in sessions]
        assert out[1].shape == (len(label), *contract.IMAGE_SHAPE)
        assert out[1].dtype == np.float32 and 0 <= out[1].min() and out[1].max() <= 1
        diffs.append(np.abs(out[1] - out[0]).ravel())
    measured = np.concatenate(diffs)
    assert measured.max() == pytest.approx(record["difference"]["golden"]["max_abs"], abs=1e-6)
    assert measured.mean() == pytest.approx(record["difference"]["golden"]["mean_abs"],
                                            abs=1e-6)
    for where in ("golden", "random_draw"):
        for key in ("max_abs", "mean_abs"):
            assert record["difference"][where][key] <= record["tolerance"][key]
    # Not a copy of the float file: it really computes in int8.
    assert record["difference"]["golden"]["max_abs"] > contract.PARITY_ATOL
    assert record["quality"] is None and "quality NOT measured" in record["reason"]


def test_the_float_file_keeps_its_parity_gate(published):
    parity = verify_version(published[1])["parity"]
    assert parity["atol"] == contract.PARITY_ATOL == 1e-5
    assert max(parity["max_abs_diff"].values()) <= 1e-5
    assert not any("int8" in pair for pair in parity["max_abs_diff"])


def test_signed_versions_verify_with_and_without_the_int8_file(signed_pair):
    trusted, kept, refused = signed_pair
    assert INT8 in verify_version(kept, trusted_keys=trusted)["files"]
    assert INT8 not in verify_version(refused, trusted_keys=trusted)["files"]


@pytest.mark.parametrize("damage", ["flip", "remove"])
def test_a_damaged_int8_file_fails_verification(signed_pair, tmp_path, damage):
    import shutil

    trusted, kept, _ = signed_pair
    copy = tmp_path / "cgan" / "1"
    shutil.copytree(kept, copy)
    path = copy / INT8
    if damage == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    with pytest.raises(IntegrityError, match=str(path)):
        verify_version(copy, trusted_keys=trusted)


def test_a_refused_int8_file_leaves_the_version_published_without_it(signed_pair):
    _, _, refused = signed_pair
    manifest = verify_version(refused)
    record = manifest["reduced_precision"]["int8"]
    assert not record["published"] and not os.path.exists(os.path.join(refused, INT8))
    assert record["reason"].startswith("refused: ") and "pixel difference" in record["reason"]
    assert record["tolerance"] == {"max_abs": 1e-6, "mean_abs": 1e-7}
    assert sorted(set(os.listdir(signed_pair[1])) - set(os.listdir(refused))) == [INT8]
    with open(os.path.join(refused, contract.MANIFEST_NAME)) as handle:
        assert json.load(handle)["files"] == manifest["files"]


def test_calibration_draws_the_training_distribution_with_balanced_labels():
    feeds = quantize.calibration_feeds()
    assert len(feeds) == quantize.CALIBRATION_BATCHES
    labels = np.concatenate([f["label"] for f in feeds])
    noise = np.concatenate([f["noise"] for f in feeds])
    counts = np.bincount(labels, minlength=10)
    assert labels.dtype == np.int32 and counts.max() - counts.min() <= 1 * len(feeds)
    assert noise.dtype == np.float32 and noise.shape[1] == contract.NOISE_DIM
    assert abs(noise.mean()) < 0.05 and abs(noise.std() - 1) < 0.05
    np.testing.assert_array_equal(noise, np.concatenate(
        [f["noise"] for f in quantize.calibration_feeds()]))   # a fixed seed


def test_the_difference_tolerance_names_what_it_breaks():
    within = {"golden": {"max_abs": 0.1, "mean_abs": 0.01}}
    assert quantize.difference_reasons(within, quantize.Tolerance()) == []
    beyond = {"random_draw": {"max_abs": 0.7, "mean_abs": 0.01}}
    assert quantize.difference_reasons(beyond, quantize.Tolerance()) == [
        "random_draw max abs pixel difference 0.7000, must be <= 0.5"]


@pytest.mark.parametrize("change, reason", [
    ({"frechet_ratio": 3.7 * 1.2}, "Fréchet ratio vs baseline"),
    ({"coverage_ratio": 0.85}, "coverage ratio vs baseline"),
    ({"label_accuracy": 0.99}, "label accuracy vs baseline"),
])
def test_the_int8_quality_gate_measures_against_the_float_file(change, reason):
    assert quantize.quality_gate(SEED_LIKE | {"frechet_ratio": 3.8}, SEED_LIKE)["blessed"]
    result = quantize.quality_gate(SEED_LIKE | change, SEED_LIKE)
    assert not result["blessed"] and any(reason in r for r in result["reasons"])


def test_the_int8_file_refuses_what_model_onnx_refuses(published):
    """Only the convolutions are quantized: the label and shape checks (Reshapes) stay, so the
    int8 file refuses exactly the bad inputs model.onnx refuses (NaN / Inf noise is the
    validator's job in both, docs/CONTRACT.md)."""
    from model_pkg.export.parity import bad_inputs

    options = ort.SessionOptions()
    options.log_severity_level = 3   # the refusals are expected
    sessions = {name: ort.InferenceSession(os.path.join(published[1], name), options,
                                           providers=["CPUExecutionProvider"])
                for name in (contract.ONNX_NAME, INT8)}
    for case, (label, noise) in bad_inputs().items():
        outcome = {}
        for name, session in sessions.items():
            try:
                session.run(None, {"label": label, "noise": noise})
                outcome[name] = "returned"
            except Exception:  # noqa: BLE001 - any refusal counts
                outcome[name] = "refused"
        assert outcome[INT8] == outcome[contract.ONNX_NAME], case
        assert outcome[INT8] == ("returned" if case in ("NaN noise", "Inf noise") else "refused")
