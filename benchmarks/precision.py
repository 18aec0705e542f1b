"""Reduced precision on the CPU: what each precision path costs and how far it moves pixels.

    model-pkg bench precision --model VERSION_DIR [--seconds-per-cell 1.5]

Five rows, interleaved in one process (A, B, C, D, A, ...: these machines drift)
at batches 1, 64, 256 and 1024, on the same (label, noise) inputs:

- ``onnx_cpu``: ONNX Runtime on ``model.onnx`` in float32, the reference;
- ``onnx_int8``: ONNX Runtime on ``model.int8.onnx`` (export/quantize.py), when the
  version carries it (the manifest's ``reduced_precision`` record says why not);
- ``openvino_f32`` and ``openvino_default``: OpenVINO on ``model.onnx`` at f32 and at its
  own default precision (bfloat16 on CPUs with AVX512_BF16), when installed
  (benchmarks/peers.py);
- ``client_fast``: what a user gets from ``OnnxClient(version, precision="fast")`` on the
  CPU: its ``generate`` (input validation included), on the path the version allows
  (export/precision.py: it probes the offered paths per batch size on first use;
  ``client_fast.choices`` in the output says which path each batch took).

Each row carries its largest pixel difference from ``onnx_cpu`` and its share of the
machine's peak for the precision it ran in (``peak_gops``: one matrix product per
precision, measured in the same run; the work is model.onnx's executed multiply-adds,
the same in every row). The machine facts
name the CPU, the instruction sets that matter here (/proc/cpuinfo flags) and what
ONNX Runtime and OpenVINO report. Prints JSON.
"""

import argparse
import json
import os

BATCHES = (1, 64, 256, 1024)
# /proc/cpuinfo flags that decide the int8 and bfloat16 kernels (docs/speed.md).
FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
         "amx_tile", "amx_int8", "amx_bf16")


def cpu_facts():
    """{"cpu", "cores", "flags": {flag: bool}, "onnxruntime", "openvino"}."""
    import onnxruntime as ort

    from model_pkg.machine import cpu_info

    name, flags = cpu_info()
    facts = {"cpu": name, "cores": os.cpu_count(), "flags": {f: f in flags for f in FLAGS},
             "onnxruntime": {"version": ort.__version__,
                             "providers": ort.get_available_providers()}}
    try:
        import openvino as ov
    except ImportError:
        facts["openvino"] = "not installed (pip install 'model-pkg[openvino]')"
    else:
        facts["openvino"] = {"version": ov.__version__.split("-")[0],
                             "cpu_capabilities": ov.Core().get_property(
                                 "CPU", "OPTIMIZATION_CAPABILITIES")}
    return facts


def precision_calls(version_dir):
    """({name: callable(label, noise) -> images}, facts, loose names, the fast client)
    for the five rows."""
    import onnxruntime as ort

    from model_pkg.benchmarks import peers
    from model_pkg.export.manifest import verify_version
    from model_pkg.export.quantize import INT8_NAME
    from model_pkg.serving.local_clients import OnnxClient

    manifest = verify_version(version_dir)
    calls, facts = {}, {}
    for name, file in (("onnx_cpu", "model.onnx"), ("onnx_int8", INT8_NAME)):
        if file in manifest["files"]:
            session = ort.InferenceSession(os.path.join(version_dir, file),
                                           providers=["CPUExecutionProvider"])
            calls[name] = _session_call(session)
    record = manifest.get("reduced_precision", {}).get("int8")
    facts["int8"] = record and {k: record[k] for k in ("published", "reason", "difference")}
    peer_calls, facts["peers"] = peers.openvino_calls(os.path.join(version_dir, "model.onnx"))
    calls.update(peer_calls)
    client = OnnxClient(version_dir, device="cpu", precision="fast")
    calls["client_fast"] = client.generate
    facts["client_fast"] = client.precision_record
    return calls, facts, ("onnx_int8", *peers.LOOSE, "client_fast"), client


def peaks(size=1024, repeats=5):
    """{precision: best GOP/s of one size x size matrix product in that precision here}:
    float32 (NumPy's and TensorFlow's sgemm, as the inference bench), int8 (ONNX Runtime's
    MatMulInteger, uint8 x int8: the MLAS kernels its QLinearConv uses) and bf16
    (OpenVINO's MatMul at bf16, None where the CPU runs it in f32)."""
    from model_pkg.benchmarks import inference

    out = {"float32": max(inference.sgemm_peak_gflops().values()),
           "int8": _int8_matmul_gops(size, repeats), "bf16": _bf16_matmul_gflops(size, repeats)}
    return {k: v and round(v, 1) for k, v in out.items()}


def _best_gops(call, size, repeats):
    import time

    call()
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - began)
    return 2 * size**3 / best / 1e9


def _int8_matmul_gops(size, repeats):
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    weight = onnx.numpy_helper.from_array(
        rng.integers(-127, 128, (size, size)).astype(np.int8), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])], "int8_peak",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [size, size])],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [size, size])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    a = rng.integers(0, 256, (size, size)).astype(np.uint8)
    return _best_gops(lambda: session.run(None, {"a": a}), size, repeats)


def _bf16_matmul_gflops(size, repeats):
    try:
        import numpy as np
        import openvino as ov
        import openvino.opset13 as ops
    except ImportError:
        return None
    a = ops.parameter([size, size], np.float32, name="a")
    b = ops.constant(np.random.default_rng(0).standard_normal((size, size)).astype(np.float32))
    compiled = ov.Core().compile_model(ov.Model([ops.matmul(a, b, False, False)], [a]), "CPU",
                                       {"INFERENCE_PRECISION_HINT": "bf16"})
    if compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name() != "bf16":
        return None
    request, x = compiled.create_infer_request(), np.ones((size, size), np.float32)
    return _best_gops(lambda: request.infer({0: x}), size, repeats)


def shares(rows, facts, peak):
    """{row: {batch: executed GOP/s / the peak of the precision that row ran in}}."""
    from model_pkg.export.fast_path import bucket

    default = (facts["peers"].get("openvino_precision") or {}).get("openvino_default")
    kinds = {"onnx_cpu": "float32", "onnx_int8": "int8", "openvino_f32": "float32",
             "openvino_default": "bf16" if default == "bf16" else "float32"}
    names = {"int8": "int8", "bf16": "bf16", "float": "float32"}
    out = {}
    for name, per_batch in rows.items():
        out[name] = {}
        for batch, stats in per_batch.items():
            kind = kinds.get(name) or names[facts["client_fast"].get("choices", {}).get(
                bucket(batch), facts["client_fast"].get("precision", "float"))]
            out[name][batch] = peak[kind] and round(stats["executed_gflops"] / peak[kind], 3)
    return out


def _session_call(session):
    return lambda label, noise: session.run(None, {"label": label, "noise": noise})[0]


def measure(version_dir, batches=BATCHES, seconds_per_cell=1.5):
    """{"machine", "version", "rows": {name: {batch: stats + max_abs_diff}}, "ratios"}."""
    from model_pkg.benchmarks import inference

    calls, facts, loose, client = precision_calls(version_dir)
    macs = inference.executed_macs_per_image(os.path.join(version_dir, "model.onnx"))
    rows = inference.measure(calls, batches, seconds_per_cell, macs={n: macs for n in calls},
                             loose=loose)
    facts["client_fast"]["choices"] = client.fast_choices
    peak = peaks()
    ratios = {name: {b: round(rows[name][b]["images_per_s"] / rows["onnx_cpu"][b]["images_per_s"],
                              2) for b in batches} for name in rows if name != "onnx_cpu"}
    return {"machine": cpu_facts(), "version": os.path.abspath(version_dir), **facts,
            "settings": {"batches": list(batches), "seconds_per_cell": seconds_per_cell},
            "rows": rows, "images_per_s_over_onnx_cpu": ratios, "peak_gops": peak,
            "share_of_peak": shares(rows, facts, peak)}


HELP = ("ONNX Runtime float vs int8 vs OpenVINO f32/default vs OnnxClient(precision='fast') "
        "on a version (docs/speed.md)")


def add_arguments(parser):
    """The flags of ``model-pkg bench precision``."""
    parser.add_argument("--model", required=True, help="a published version folder")
    parser.add_argument("--seconds-per-cell", type=float, default=1.5,
                        help="time per runtime and batch, split over 3 interleaved rounds")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)),
                        help="comma-separated batch sizes (default: 1,64,256,1024)")


def run(args, parser):
    try:
        batches = tuple(int(b) for b in args.batches.split(","))
    except ValueError:
        parser.error(f"--batches {args.batches!r}: must be comma-separated integers")
    if not batches or min(batches) < 1:
        parser.error("--batches: every batch size must be >= 1")
    if not args.seconds_per_cell > 0:
        parser.error("--seconds-per-cell must be > 0")
    if not os.path.isdir(args.model):
        parser.error(f"--model {args.model}: no such version folder")
    print(json.dumps(measure(args.model, batches, args.seconds_per_cell), indent=2))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model_pkg.benchmarks.precision",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


if __name__ == "__main__":
    raise SystemExit(main())
