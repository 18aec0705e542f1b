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
  (export/precision.py; ``client_fast`` in the output says which file).

Each row carries its largest pixel difference from ``onnx_cpu``. The machine facts
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
    import platform

    import onnxruntime as ort

    name, flags = platform.processor(), set()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
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
    """({name: callable(label, noise) -> images}, facts, loose names) for the five rows."""
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
    return calls, facts, ("onnx_int8", *peers.LOOSE, "client_fast")


def _session_call(session):
    return lambda label, noise: session.run(None, {"label": label, "noise": noise})[0]


def measure(version_dir, batches=BATCHES, seconds_per_cell=1.5):
    """{"machine", "version", "rows": {name: {batch: stats + max_abs_diff}}, "ratios"}."""
    from model_pkg.benchmarks import inference

    calls, facts, loose = precision_calls(version_dir)
    rows = inference.measure(calls, batches, seconds_per_cell, loose=loose)
    ratios = {name: {b: round(rows[name][b]["images_per_s"] / rows["onnx_cpu"][b]["images_per_s"],
                              2) for b in batches} for name in rows if name != "onnx_cpu"}
    return {"machine": cpu_facts(), "version": os.path.abspath(version_dir), **facts,
            "settings": {"batches": list(batches), "seconds_per_cell": seconds_per_cell},
            "rows": rows, "images_per_s_over_onnx_cpu": ratios}


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
