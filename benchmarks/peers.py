"""The runtime a CPU user would pick instead of ONNX Runtime: OpenVINO, on the same file.

OpenVINO is an optional extra (``pip install 'model-pkg[openvino]'``); without it
the bench has no peer rows and says so. Two rows, both opening the published
``model.onnx`` with the latency hint (one inference at a time, as the other rows):

- ``openvino_f32``: ``INFERENCE_PRECISION_HINT=f32``, the like-for-like peer (it
  agrees with ONNX Runtime within the contract's tolerance, so it is checked).
- ``openvino_default``: OpenVINO's own choice of precision, bfloat16 on CPUs
  with AVX512_BF16 or AMX; its images differ by more than the contract allows,
  so the bench records the largest difference instead of refusing the row.
"""

import numpy as np

# Rows whose images may differ beyond the contract's tolerance: measured, not checked.
LOOSE = ("openvino_default",)


def openvino_calls(onnx_path):
    """({name: callable(label, noise) -> images}, facts), or ({}, facts) without OpenVINO."""
    try:
        import openvino as ov
    except ImportError:
        return {}, {"openvino": "not installed (pip install 'model-pkg[openvino]')"}
    core = ov.Core()
    calls, precisions = {}, {}
    for name, precision in (("openvino_f32", "f32"), ("openvino_default", None)):
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if precision:
            config["INFERENCE_PRECISION_HINT"] = precision
        compiled = core.compile_model(onnx_path, "CPU", config)
        precisions[name] = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        calls[name] = _caller(compiled.create_infer_request())
    return calls, {"openvino": ov.__version__.split("-")[0], "openvino_precision": precisions}


def _caller(request):
    def call(label, noise):
        request.infer({"label": label, "noise": noise})
        return np.array(request.get_output_tensor(0).data)   # a copy: the next call reuses it
    return call
