"""The runtime a CPU user would pick instead of ONNX Runtime: OpenVINO, on the same file.

OpenVINO is an optional extra (``pip install 'model-pkg[openvino]'``); without it
the bench has no peer rows and says so. Two rows of the registry's ``openvino``
runtime (export/runtime_openvino.py), both opening the published ``model.onnx``
with the latency hint (one inference at a time, as the other rows):

- ``openvino_f32``: ``INFERENCE_PRECISION_HINT=f32``, the like-for-like peer (it
  agrees with ONNX Runtime within the contract's tolerance, so it is checked).
- ``openvino_default``: OpenVINO's own choice of precision, bfloat16 on CPUs
  with AVX512_BF16 or AMX; its images differ by more than the contract allows,
  so the bench records the largest difference instead of refusing the row.
"""

from model_pkg import runtimes

# Rows whose images may differ beyond the contract's tolerance: measured, not checked.
LOOSE = ("openvino_default",)
# The bench's rows of the registry's "openvino" runtime: row -> its precision hint.
ROWS = {"openvino_f32": "f32", "openvino_default": None}


def openvino_calls(onnx_path):
    """({name: callable(label, noise) -> images}, facts), or ({}, facts) without OpenVINO.
    The calls are raw (``run_unchecked``), like the other rows."""
    entry = runtimes.REGISTRY["openvino"]
    try:
        opened = {row: entry.open(onnx_path, precision=precision, verify=False)
                  for row, precision in ROWS.items()}
    except runtimes.MissingExtra:
        return {}, {"openvino": f"not installed (pip install 'model-pkg[{entry.extra}]')"}
    calls = {row: runtime.run_unchecked for row, runtime in opened.items()}
    return calls, {"openvino": opened["openvino_f32"].version,
                   "openvino_precision": {row: r.precision for row, r in opened.items()}}
