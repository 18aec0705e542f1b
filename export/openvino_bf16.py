"""Reduced precision without a second file: OpenVINO running ``model.onnx`` in bfloat16.

OpenVINO's CPU plugin runs a model in bfloat16 by default wherever the CPU has
bfloat16 instructions (AVX512_BF16 or AMX); that is the speed a CPU user would
otherwise pick. The contract lets a version offer it as a runtime's precision
setting on model.onnx, measured and gated like model.int8.onnx (export/quantize.py):
its pixel difference from ONNX Runtime on model.onnx (the parity golden inputs and a
random draw), the same tolerance, and its own quality metrics passing the blessing
policy against the float file's.

It can only be measured where the export runs on such a CPU: elsewhere OpenVINO
compiles the same request in f32, and the record says so and offers nothing
(a path never measured is never offered). A client on a CPU without bfloat16 that
opens an offered path gets OpenVINO in f32, which it reports (``runs_as``).
"""

import dataclasses
import os
import time

import numpy as np

from model_pkg import contract
from model_pkg.export import quantize
from model_pkg.machine import cpu_info

KEY = "openvino_bf16"
HINT = "bf16"          # OpenVINO's INFERENCE_PRECISION_HINT value for bfloat16


def add_openvino_bf16(staging, float_quality, log=print, tolerance=None):
    """The manifest's ``reduced_precision`` record for OpenVINO bf16 on ``staging``'s
    model.onnx: {KEY: {"offered", "reason", "difference", "tolerance", "quality", ...}}.

    ``float_quality``: model.onnx's metrics, or None when the export skips quality.
    """
    began = time.perf_counter()
    tolerance = tolerance or quantize.TOLERANCE
    record = {"runtime": "openvino", "precision_hint": HINT, "file": contract.ONNX_NAME,
              "cpu": cpu_info()[0], "tolerance": dataclasses.asdict(tolerance),
              "difference": None, "quality": None, "quality_gate": None, "offered": False}
    runtime = _open(os.path.join(staging, contract.ONNX_NAME), record)
    if runtime is not None:
        record["difference"] = measure_difference(staging, runtime)
        reasons = quantize.difference_reasons(record["difference"], tolerance)
        if not reasons and float_quality is not None:
            from model_pkg.eval import measure_quality

            record["quality"] = measure_quality(runtime.generate, log=log)
            record["quality_gate"] = quantize.quality_gate(record["quality"], float_quality)
            reasons = record["quality_gate"]["reasons"]
        record["offered"] = not reasons
        record["reason"] = quantize.offer_reason(reasons, float_quality is None)
    record["seconds"] = round(time.perf_counter() - began, 3)
    log(f"OpenVINO bf16 on {contract.ONNX_NAME}: "
        f"{'offered' if record['offered'] else 'NOT offered'} ({record['reason']})")
    return {KEY: record}


def _open(onnx_path, record):
    """OpenVinoRuntime compiled with the bf16 hint, or None with record["reason"] set when
    OpenVINO is missing or this CPU runs the request in another precision."""
    try:
        from model_pkg.export.runtime_openvino import OpenVinoRuntime

        runtime = OpenVinoRuntime(onnx_path, precision=HINT, verify=False)
    except ImportError:
        record["reason"] = ("not measured: OpenVINO is not installed where the export ran "
                            "(pip install 'model-pkg[openvino]')")
        return None
    record["openvino"] = runtime.version
    record["runs_as"] = runtime.precision
    if runtime.precision != HINT:
        record["reason"] = (f"not measured: OpenVINO {runtime.version} runs {HINT} requests in "
                            f"{runtime.precision} on the export's CPU ({record['cpu']}), which "
                            f"has no bfloat16 instructions (AVX512_BF16 or AMX)")
        return None
    return runtime


def measure_difference(staging, runtime):
    """{"golden": {...}, "random_draw": {...}}: max and mean |OpenVINO bf16 - model.onnx|."""
    from model_pkg.export.runtime_onnx import OnnxRuntime

    reference = OnnxRuntime(os.path.join(staging, contract.ONNX_NAME), verify=False)
    out = {}
    for name, inputs in quantize.difference_inputs().items():
        diffs = np.concatenate([np.abs(runtime.run_unchecked(y, z)
                                       - reference.run_unchecked(y, z)).ravel()
                                for y, z in inputs])
        out[name] = {"rows": sum(len(y) for y, _ in inputs), "max_abs": float(diffs.max()),
                     "mean_abs": float(diffs.mean())}
    return out
