"""Export and load times: how long publishing a version takes, and opening it.

Exports the workdir's newest checkpoint ``--repeats`` times into a temporary
models dir (the parity suite included, as in every export), then times
opening the version with ONNX Runtime (default session options) and the
SavedModel loaders. Prints JSON.

    model-pkg bench export-speed --workdir artifacts/train/seed [--repeats 3]
"""

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return round(statistics.median(times), 4)


HELP = "export and load times of the workdir's newest checkpoint"


def add_arguments(parser):
    """The flags of ``model-pkg bench export-speed``."""
    parser.add_argument("--workdir", required=True, help="a training workdir with a checkpoint")
    parser.add_argument("--repeats", type=int, default=3)


def run(args, parser):
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    print(json.dumps(measure(args.workdir, args.repeats), indent=2))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model_pkg.benchmarks.export_speed",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


def measure(workdir, repeats):
    """{timing: seconds} of ``repeats`` exports of ``workdir`` and of opening the version."""
    import onnxruntime as ort

    from model_pkg.export.exporter import export_from_workdir
    from model_pkg.export.manifest import verify_version
    from model_pkg.export.runtimes import CApiRuntime, SavedModelRuntime

    with tempfile.TemporaryDirectory() as models:
        totals, phases, path = [], [], None
        for _ in range(repeats):
            began = time.perf_counter()
            path = export_from_workdir(workdir, models, log=lambda *_: None,
                                       force_reason="benchmark: repeated exports")
            totals.append(time.perf_counter() - began)
            phases.append(verify_version(path)["export_seconds"])
        onnx_file = os.path.join(path, "model.onnx")
        return {
            "export_total_s (checkpoint + SavedModel + warmup + ONNX + parity + quality + publish)":
                [round(t, 2) for t in totals],
            "export_phases_s (last)": phases[-1],
            "onnx_session_open_s (median of 20, default options)":
                _median_seconds(lambda: ort.InferenceSession(
                    onnx_file, providers=["CPUExecutionProvider"]), 20),
            "verify_manifest_s (median of 20)": _median_seconds(lambda: verify_version(path), 20),
            "savedmodel_tf2_load_s (median of 3, verify included)":
                _median_seconds(lambda: SavedModelRuntime(path), 3),
            "savedmodel_c_api_load_s (TF Serving's loader, median of 3, verify included)":
                _median_seconds(lambda: CApiRuntime(path).close(), 3),
        }


if __name__ == "__main__":
    raise SystemExit(main())
