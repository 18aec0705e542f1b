"""Inference speed of every runtime, interleaved in one process, and the sgemm peak.

Each runtime is called on the same (label, noise) batches. Rounds interleave
the runtimes (A, B, C, A, B, C, ...) because these machines drift; per call
latency is recorded, so p50/p99 and images/s come from the same samples.
Rates are compared with the machine's sgemm peak (2048x2048 float32 matmul),
counting the seed generator's work: 8,021,888 multiply-adds = 16.04 MFLOP per image.
"""

import statistics
import time

import numpy as np

FLOP_PER_IMAGE = 2 * 8_021_888
BATCHES = (1, 64, 256, 1024)


def sgemm_peak_gflops(size=2048, repeats=5):
    """Best GFLOP/s of NumPy's and TensorFlow's float32 matmul on this machine."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size)).astype(np.float32) for _ in range(2))
    ta, tb = tf.constant(a), tf.constant(b)
    best = {}
    for name, fn in (("numpy", lambda: a @ b), ("tensorflow", lambda: tf.matmul(ta, tb).numpy())):
        fn()
        seconds = min(_timed(fn) for _ in range(repeats))
        best[name] = round(2 * size**3 / seconds / 1e9, 1)
    return best


def _timed(fn):
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def runtime_calls(version_dir, generator, straight_onnx=None, cuda=False):
    """{name: callable(label, noise) -> images} for every runtime to compare.

    ``generator`` is the version's Keras generator, called eagerly. The
    callables are the raw runtimes (no Python-side validation) except
    ``onnx_client``, the package's validated OnnxClient, to show what checks cost.
    """
    import onnxruntime as ort

    from model_pkg.export.runtimes import SavedModelRuntime
    from model_pkg.serving.local_clients import OnnxClient

    onnx_path = f"{version_dir}/model.onnx"
    cpu = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    calls = {
        "keras": lambda y, z: np.clip((generator((y, z), training=False).numpy() + 1) / 2, 0, 1),
        "savedmodel_tf": SavedModelRuntime(version_dir).run_unchecked,
        "onnx_cpu": lambda y, z: cpu.run(None, {"label": y, "noise": z})[0],
        "onnx_client": OnnxClient(version_dir, device="cpu").generate,
    }
    if straight_onnx:
        straight = ort.InferenceSession(straight_onnx, providers=["CPUExecutionProvider"])
        calls["onnx_cpu_tf2onnx"] = lambda y, z: straight.run(None, {"label": y, "noise": z})[0]
    if cuda:
        gpu = ort.InferenceSession(onnx_path, providers=["CUDAExecutionProvider"])
        calls["onnx_cuda"] = lambda y, z: gpu.run(None, {"label": y, "noise": z})[0]
    return calls


def measure(calls, batches=BATCHES, seconds_per_cell=1.0, rounds=3):
    """Interleaved latency samples -> {runtime: {batch: stats}}."""
    rng = np.random.default_rng(0)
    samples = {name: {b: [] for b in batches} for name in calls}
    for batch in batches:
        label = rng.integers(0, 10, batch).astype(np.int32)
        noise = rng.standard_normal((batch, 100)).astype(np.float32)
        outputs = {}
        for name, call in calls.items():   # warm-up: first calls allocate and trace
            for _ in range(3):
                outputs[name] = call(label, noise)
        check_agreement(outputs, batch)
        for _ in range(rounds):
            for name, call in calls.items():
                deadline = time.perf_counter() + seconds_per_cell / rounds
                while True:
                    samples[name][batch].append(_timed(lambda: call(label, noise)))
                    if time.perf_counter() > deadline and len(samples[name][batch]) >= 5:
                        break
    return {name: {b: _stats(s, b) for b, s in per.items()} for name, per in samples.items()}


def check_agreement(outputs, batch, atol=1e-4):
    """Raises if any runtime's images differ from the first's by more than ``atol``
    (1e-4 covers CUDA; the CPU runtimes agree within the contract's 1e-5)."""
    names = list(outputs)
    for name in names[1:]:
        diff = float(np.max(np.abs(outputs[name] - outputs[names[0]])))
        if diff > atol:
            raise AssertionError(f"batch {batch}: {name} differs from {names[0]} by {diff:.3g}; "
                                 "timing runtimes that disagree would mean nothing")


def _stats(latencies, batch):
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"calls": len(ordered), "p50_ms": round(p50 * 1e3, 4), "p99_ms": round(p99 * 1e3, 4),
            "images_per_s": round(batch / p50, 1),
            "gflops": round(batch * FLOP_PER_IMAGE / p50 / 1e9, 2)}
