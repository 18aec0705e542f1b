"""``model-pkg bench``: every runtime's speed, the machine's limit, training, export.

One process run, in this order: machine facts; the sgemm peak; a short real
training run in a subprocess (its peak memory) whose checkpoint is exported
(export time; also a straight tf2onnx export, the speed baseline); ONNX Runtime
session start; interleaved inference of every runtime at batch 1/64/256/1024 (OpenVINO
too when installed, benchmarks/peers.py);
a client generating batch 1024 in a subprocess (its peak memory); training
steps/s of the seed and default presets against the plain reference loop; training steps/s
at 1 and 2 tf.distribute replicas (distributed_speed.py).
Writes the JSON and a Markdown report (BENCHMARKS.md by default).
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from model_pkg.benchmarks import distributed_speed, inference, peers, report, serving_batching
from model_pkg.benchmarks.train_speed import measure_training


def machine():
    """Facts that explain the numbers: CPU, cores, accelerators, library versions."""
    import onnxruntime as ort
    import tensorflow as tf

    from model_pkg.export.exporter import library_versions
    from model_pkg.machine import cpu_info

    return {"cpu": cpu_info()[0], "cores": os.cpu_count(), "python": platform.python_version(),
            "onnxruntime_providers": ort.get_available_providers(),
            "tensorflow_gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
            "libraries": library_versions()}


def cuda_usable(onnx_path):
    """Whether ONNX Runtime really runs ``onnx_path`` on CUDA here (onnxruntime-gpu lists
    CUDAExecutionProvider even where CUDA cannot load)."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)   # the failed CUDA load is expected on CPU machines
    session = ort.InferenceSession(onnx_path, providers=["CUDAExecutionProvider",
                                                         "CPUExecutionProvider"])
    return session.get_providers()[0] == "CUDAExecutionProvider"


def train_subprocess(workdir, steps):
    """`model-pkg train` for ``steps`` in a fresh process; its JSON (peak RSS included)."""
    out = subprocess.run([sys.executable, "-m", "model_pkg.cli", "train", "--workdir", workdir,
                          "--preset", "default", "--steps", str(steps), "--no-progress"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout[out.stdout.index("{"):])


def client_peak_rss(version_dir, batch=1024):
    """Peak RSS (MiB) of a fresh process that opens OnnxClient and generates ``batch``."""
    code = ("import numpy as np\n"
            "from model_pkg.memory import peak_rss_mib\n"
            "from model_pkg.serving.local_clients import OnnxClient\n"
            f"c = OnnxClient({version_dir!r}, device='cpu')\n"
            f"rng = np.random.default_rng(0); n = {batch}\n"
            "c.generate(rng.integers(0, 10, n).astype(np.int32),"
            " rng.standard_normal((n, 100)).astype(np.float32))\n"
            "print(peak_rss_mib())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


def export_phase(workdir, tmp, log):
    """Exports ``workdir`` (rewritten ONNX) and a straight tf2onnx copy; times both."""
    from model_pkg.export import artifacts
    from model_pkg.export.exporter import export_from_workdir, load_trained_generator
    from model_pkg.export.manifest import verify_version

    began = time.perf_counter()
    version_dir = export_from_workdir(workdir, os.path.join(tmp, "models"), log=log,
                                      quality=False)
    total = time.perf_counter() - began
    generator, config = load_trained_generator(workdir)[:2]
    straight = os.path.join(tmp, "tf2onnx.onnx")
    began = time.perf_counter()
    artifacts.write_onnx(generator, straight, config, builder="tf2onnx")
    straight_s = time.perf_counter() - began
    phases = verify_version(version_dir)["export_seconds"]
    return version_dir, generator, straight, {
        "export_total_s (no quality gate)": round(total, 2), "export_phases_s": phases,
        "onnx_build_rewritten_s": phases.get("onnx"), "onnx_build_tf2onnx_s": round(straight_s, 2)}


def session_start_ms(path, repeats=20):
    """Median ms to open ``path`` with default session options (what apps do)."""
    import onnxruntime as ort

    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        times.append(time.perf_counter() - began)
    return round(statistics.median(times) * 1e3, 2)


FULL = {"train_steps": 60, "train_bench_steps": 100, "seconds_per_cell": 1.5,
        "batches": inference.BATCHES, "callers": serving_batching.CALLERS,
        "distributed_steps": 30}
QUICK = {"train_steps": 4, "train_bench_steps": 3, "seconds_per_cell": 0.05, "batches": (1, 8),
         "callers": (1, 8), "distributed_steps": 2}


def run(train_steps=60, train_bench_steps=100, seconds_per_cell=1.5, batches=inference.BATCHES,
        callers=serving_batching.CALLERS, distributed_steps=30, log=print):
    """The whole benchmark; returns the results dict (see module docstring)."""
    results = {"machine": machine(), "command": " ".join(["model-pkg", "bench", *sys.argv[2:]])}
    log("sgemm peak ...")
    results["sgemm_gflops"] = inference.sgemm_peak_gflops()
    with tempfile.TemporaryDirectory() as tmp:
        log(f"training {train_steps} steps in a subprocess ...")
        trained = train_subprocess(os.path.join(tmp, "train"), train_steps)
        results["training_run"] = {k: trained[k] for k in ("steps_per_second", "peak_rss_mib")}
        log("exporting ...")
        version_dir, generator, straight, results["export"] = export_phase(
            os.path.join(tmp, "train"), tmp, log)
        results["onnx_session_start_ms"] = {
            "rewritten": session_start_ms(os.path.join(version_dir, "model.onnx")),
            "tf2onnx": session_start_ms(straight)}
        log("inference, runtimes interleaved ...")
        cuda = results["machine"]["cuda_usable"] = cuda_usable(straight)
        calls, macs, results["peers"] = inference.runtime_calls(version_dir, generator,
                                                                straight, cuda=cuda)
        results["inference"] = inference.measure(calls, batches, seconds_per_cell, macs=macs,
                                                 loose=peers.LOOSE)
        results["client_batch1024_peak_rss_mib"] = client_peak_rss(version_dir)
        log("serving: concurrent batch-1 callers, in-graph batching vs none ...")
        results["serving_batching"] = serving_batching.run(
            generator, callers, seconds=max(0.3, 4 * seconds_per_cell))
    log("training steps/s against the reference loop ...")
    results["training"] = [measure_training(p, steps=train_bench_steps, rounds=3)
                           for p in ("seed", "default")]
    log("training steps/s at 1 and 2 tf.distribute replicas, each in a subprocess ...")
    results["distributed"] = distributed_speed.measure(steps=distributed_steps)
    results["settings"] = {"train_steps": train_steps, "train_bench_steps": train_bench_steps,
                           "seconds_per_cell": seconds_per_cell, "batches": list(batches),
                           "callers": list(callers), "distributed_steps": distributed_steps}
    results["ratios"] = report.ratios(results)
    return results


def main(out_json, out_md, quick=False, log=print):
    """Runs the benchmark, writes both reports atomically, returns the results."""
    from model_pkg.fileio import atomic_write_bytes

    results = run(**(QUICK if quick else FULL), log=log)
    for path, text in ((out_json, json.dumps(results, indent=2)),
                       (out_md, report.markdown(results))):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_write_bytes(path, text.encode())
    return results
