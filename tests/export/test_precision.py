"""precision=: float stays model.onnx and exact, int8 runs model.int8.onnx within its recorded
tolerance, bf16 only where the export measured OpenVINO in bfloat16, fast measures the offered
paths per batch size; the CLI's --precision."""

import os
import shutil

import numpy as np
import pytest

from model_pkg import cli
from model_pkg.export import fast_path, quantize
from model_pkg.export import precision as paths
from model_pkg.export.manifest import IntegrityError, verify_version
from model_pkg.export.parity import bad_inputs, golden_inputs
from model_pkg.serving.local_clients import OnnxClient, SavedModelClient
from model_pkg.validation import InputError

INT8 = quantize.INT8_NAME


@pytest.fixture(scope="module")
def refused(refused_version):
    return refused_version


def _all_golden(client):
    return [client.generate(label, noise) for label, noise in golden_inputs()]


def test_float_is_the_default_and_stays_exact(published):
    default = OnnxClient(published[1], device="cpu")
    named = OnnxClient(published[1], device="cpu", precision="float")
    tf = SavedModelClient(published[1])
    assert default.precision == named.precision == "float"
    assert named.precision_record["tolerance"] == {"max_abs": 1e-5}
    for (label, noise), a, b in zip(golden_inputs(), _all_golden(default), _all_golden(named)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(b, tf.generate(label, noise), rtol=0, atol=1e-5)


def test_int8_runs_the_int8_file_within_its_recorded_tolerance(published):
    record = verify_version(published[1])["reduced_precision"]["int8"]
    float_client = OnnxClient(published[1], device="cpu")
    int8 = OnnxClient(published[1], device="cpu", precision="int8")
    assert int8.precision == "int8" and int8.precision_record["file"] == INT8
    assert int8.precision_record["tolerance"] == record["tolerance"]
    diffs = np.concatenate([np.abs(a - b).ravel() for a, b in
                            zip(_all_golden(int8), _all_golden(float_client))])
    assert diffs.max() == pytest.approx(record["difference"]["golden"]["max_abs"], abs=1e-6)
    assert diffs.max() <= record["tolerance"]["max_abs"]
    assert diffs.mean() <= record["tolerance"]["mean_abs"]
    assert diffs.max() > 1e-5   # really the int8 file, not model.onnx again


def test_fast_measures_the_offered_paths_per_batch_size(published):
    fast = OnnxClient(published[1], device="cpu", precision="fast")
    assert fast.precision == "fast" and fast.fast_choices == {}
    offered = paths.fast_candidates(verify_version(published[1]))
    assert offered[0] == "int8" and offered[-1] == "float"
    assert set(fast.precision_record["paths"]) == set(offered)
    each = {p: OnnxClient(published[1], device="cpu", precision=p) for p in offered}
    label, noise = golden_inputs()[1]
    images = fast.generate(label, noise)
    chosen = fast.fast_choices[fast_path.bucket(len(label))]
    np.testing.assert_array_equal(images, each[chosen].generate(label, noise))
    np.testing.assert_array_equal(fast.generate(label, noise), images)   # the same path again
    assert list(fast.fast_choices) == [fast_path.bucket(len(label))]


def test_fast_takes_the_path_that_measured_fastest_for_each_bucket(published):
    """A clock that makes int8 slow at 2-row buckets and fast elsewhere: the choice follows it."""
    runs = {p: OnnxClient(published[1], device="cpu", precision=p) for p in ("int8", "float")}
    calls = []

    class Clock:
        def __init__(self):
            self.now = 0.0

        def __call__(self):
            calls.append(self.now)
            return self.now

    clock = Clock()
    slow_int8 = {2}

    class Timed:
        def __init__(self, name):
            self.name = name

        def run_unchecked(self, label, noise):
            late = self.name == "int8" and fast_path.bucket(len(label)) in slow_int8
            clock.now += 5.0 if late else 1.0 + (self.name == "float")
            return runs[self.name].run_unchecked(label, noise)

    chooser = fast_path.FastPaths({name: Timed(name) for name in runs}, clock=clock)
    label, noise = next((y, z) for y, z in golden_inputs() if len(y) >= 4)
    for rows, expected in ((1, "int8"), (2, "float"), (3, "int8"), (4, "int8")):
        images = chooser.run_unchecked(label[:rows], noise[:rows])
        np.testing.assert_array_equal(images, runs[expected].generate(label[:rows],
                                                                      noise[:rows]))
    assert chooser.choices == {1: "int8", 2: "float", 4: "int8"}
    probed = len(calls)
    chooser.run_unchecked(label[:4], noise[:4])
    assert len(calls) == probed   # a known bucket is not probed again


def test_fast_on_a_version_offering_float_alone_is_float(refused):
    fast = OnnxClient(refused, device="cpu", precision="fast")
    assert fast.precision == "float" and fast.fast_choices == {}
    label, noise = golden_inputs()[0]
    np.testing.assert_array_equal(fast.generate(label, noise),
                                  OnnxClient(refused, device="cpu").generate(label, noise))


def test_bf16_is_offered_only_where_the_export_measured_it(published):
    """On a CPU without bfloat16 the export records why it did not measure, and bf16 is
    refused quoting that; on one with it, bf16 runs OpenVINO within its recorded tolerance."""
    pytest.importorskip("openvino")   # a tested extra (pyproject): present in make test
    record = verify_version(published[1])["reduced_precision"]["openvino_bf16"]
    assert record["runtime"] == "openvino" and record["tolerance"] == {"max_abs": 0.5,
                                                                       "mean_abs": 0.02}
    if record["runs_as"] != "bf16":
        assert record["offered"] is False and "no bfloat16 instructions" in record["reason"]
        with pytest.raises(paths.PrecisionUnavailable, match="'bf16' is not offered.*"
                                                             "no bfloat16 instructions"):
            OnnxClient(published[1], device="cpu", precision="bf16")
        return
    bf16 = OnnxClient(published[1], device="cpu", precision="bf16")
    reference = OnnxClient(published[1], device="cpu")
    diffs = np.concatenate([np.abs(bf16.generate(y, z) - reference.generate(y, z)).ravel()
                            for y, z in golden_inputs()])
    assert diffs.max() == pytest.approx(record["difference"]["golden"]["max_abs"], abs=1e-6)
    assert 1e-5 < diffs.max() <= record["tolerance"]["max_abs"]


def test_int8_on_a_version_without_it_is_refused_with_the_manifests_reason(refused):
    reason = verify_version(refused)["reduced_precision"]["int8"]["reason"]
    with pytest.raises(paths.PrecisionUnavailable) as err:
        OnnxClient(refused, device="cpu", precision="int8")
    assert refused in str(err.value) and "'int8' is not offered" in str(err.value)
    assert reason in str(err.value) and "pixel difference" in reason


def test_a_version_from_before_reduced_precision_offers_float_only():
    old = {"files": {"model.onnx": "0" * 64}}
    assert paths.offered(old)["int8"].startswith("the version has no reduced_precision record")
    assert paths.choose(old, "fast", "v") == ("float", "model.onnx")
    assert paths.offered(old)["bf16"].startswith("the version has no reduced_precision record")


@pytest.mark.parametrize("value", ["fp16", "INT8", ""])
def test_a_bad_precision_is_refused_naming_the_rule(published, value):
    with pytest.raises(ValueError, match=f"precision {value!r}: must be one of float, int8, "
                                         "bf16, fast"):
        OnnxClient(published[1], device="cpu", precision=value)


def test_int8_needs_a_version_folder(published):
    onnx_file = os.path.join(published[1], "model.onnx")
    with pytest.raises(ValueError, match="needs a version folder"):
        OnnxClient(onnx_file, device="cpu", precision="int8", verify=False)


def test_a_tampered_int8_file_is_refused_on_load(version_copy):
    path = version_copy / INT8
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=str(path)):
        OnnxClient(str(version_copy), device="cpu", precision="int8")


def test_what_is_loaded_is_what_was_verified(published, tmp_path):
    """The int8 bytes are checked after reading: a file swapped after verify_version fails."""
    manifest = verify_version(published[1])
    copy = tmp_path / "v"
    shutil.copytree(published[1], copy)
    assert paths.verified_bytes(str(copy), manifest, INT8)
    (copy / INT8).write_bytes(b"not the verified file")
    with pytest.raises(IntegrityError, match="sha256 does not match the manifest"):
        paths.verified_bytes(str(copy), manifest, INT8)


def test_the_int8_path_refuses_bad_inputs_like_float(published):
    clients = [OnnxClient(published[1], device="cpu", precision=p) for p in ("float", "int8")]
    for case, (label, noise) in bad_inputs().items():
        messages = []
        for client in clients:
            with pytest.raises(InputError) as err:
                client.generate(label, noise)
            messages.append(str(err.value))
        assert messages[0] == messages[1], case


def test_cli_generate_precision(published, tmp_path, capsys):
    out = tmp_path / "g.png"
    argv = ["generate", "--model", published[1], "--labels", "0,1", "--out", str(out)]
    assert cli.main([*argv, "--precision", "fast"]) == 0
    said = capsys.readouterr().out
    assert out.exists() and ("(onnx, fast -> int8)" in said or "(onnx, fast -> float)" in said)
    assert cli.main([*argv, "--precision", "int8"]) == 0
    assert "(onnx, int8)" in capsys.readouterr().out
    assert cli.main([*argv, "--runtime", "savedmodel", "--precision", "int8"]) == 2
    assert "--precision int8: only --runtime onnx" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([*argv, "--precision", "fp16"])
    assert "invalid choice: 'fp16'" in capsys.readouterr().err
    generate = cli.build_parser()._subparsers._group_actions[0].choices["generate"]
    assert generate._option_string_actions["--precision"].choices == paths.PRECISIONS


def test_cli_generate_int8_on_a_refused_version_says_why(refused, tmp_path, capsys):
    argv = ["generate", "--model", refused, "--labels", "0", "--out", str(tmp_path / "g.png")]
    assert cli.main([*argv, "--precision", "int8"]) == 2
    assert "model.int8.onnx refused: " in capsys.readouterr().err
