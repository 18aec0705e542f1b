"""model-pkg bench precision: five interleaved rows, each with its difference from model.onnx."""

import pytest

from model_pkg.benchmarks import precision
from model_pkg.export.quantize import Tolerance


def test_every_precision_row_is_timed_with_its_difference(published):
    pytest.importorskip("openvino")   # a tested extra (pyproject): present in make test
    result = precision.measure(published[1], batches=(1, 8), seconds_per_cell=0.03)
    rows = result["rows"]
    assert set(rows) == {"onnx_cpu", "onnx_int8", "openvino_f32", "openvino_default",
                         "client_fast"}
    for batch in (1, 8):
        assert rows["onnx_cpu"][batch]["max_abs_diff"] == 0
        assert rows["openvino_f32"][batch]["max_abs_diff"] <= 1e-5
        assert 1e-5 < rows["onnx_int8"][batch]["max_abs_diff"] <= Tolerance().max_abs
        # The client's fastest path, validator in front: whichever path its probe chose.
        assert rows["client_fast"][batch]["max_abs_diff"] in (
            rows["onnx_int8"][batch]["max_abs_diff"], 0.0)
        assert all(rows[name][batch]["images_per_s"] > 0 for name in rows)
    assert set(result["images_per_s_over_onnx_cpu"]) == set(rows) - {"onnx_cpu"}
    assert result["int8"]["published"] is True
    assert result["client_fast"]["precision"] == "fast"
    assert set(result["client_fast"]["paths"]) == {"int8", "float"}
    assert set(result["client_fast"]["choices"].values()) <= {"int8", "float"}
    assert set(result["machine"]["flags"]) == set(precision.FLAGS)
    assert result["peak_gops"]["float32"] > 0 and result["peak_gops"]["int8"] > 0
    for name in rows:
        assert all(0 < result["share_of_peak"][name][b] for b in (1, 8)), name


def test_the_section_refuses_bad_flags(tmp_path):
    import subprocess
    import sys

    for flags, message in ((["--batches", "1,x"], "comma-separated integers"),
                           (["--batches", "0"], ">= 1"),
                           (["--seconds-per-cell", "0"], "must be > 0")):
        out = subprocess.run([sys.executable, "-m", "model_pkg.benchmarks.precision",
                              "--model", str(tmp_path), *flags], capture_output=True, text=True)
        assert out.returncode == 2 and message in out.stderr
