"""Inference speed of every runtime, interleaved in one process, and the sgemm peak.

Each runtime is called on the same (label, noise) batches. Rounds interleave
the runtimes (A, B, C, A, B, C, ...) because these machines drift; per call
latency is recorded, so p50/p99 and images/s come from the same samples.
Rates are compared with the machine's sgemm peak (2048x2048 float32 matmul),
counting the seed generator's nominal work (8,021,888 multiply-adds = 16.04 MFLOP
per image, as the targets do) and, beside it, the multiply-adds each runtime's
graph really executes (executed_macs_per_image: the rewritten ONNX graph skips
the zero taps of the upsampled convolutions).
"""

import statistics
import time

import numpy as np

NOMINAL_MACS = 8_021_888
FLOP_PER_IMAGE = 2 * NOMINAL_MACS
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


def executed_macs_per_image(onnx_path):
    """Multiply-adds per image of the Conv, Gemm and MatMul nodes of ``onnx_path``, from
    ONNX shape inference; ValueError where a size is not static (the tf2onnx file's
    upsampling is a Shape/Tile chain: it executes the nominal count anyway)."""
    import onnx

    graph = onnx.shape_inference.infer_shapes(onnx.load(onnx_path)).graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*graph.value_info, *graph.input, *graph.output]}
    shapes.update({t.name: list(t.dims) for t in graph.initializer})
    total = 0
    for node in graph.node:
        if node.op_type == "Conv":   # weight [O, I/g, kh, kw], once per output pixel
            sizes = shapes[node.input[1]] + shapes[node.output[0]][2:]
        elif node.op_type in ("Gemm", "MatMul"):
            sizes = shapes[node.input[1]]
        elif node.op_type == "ConvTranspose":
            raise ValueError(f"{onnx_path}: ConvTranspose {node.name}: not counted")
        else:
            continue
        if not all(sizes):
            raise ValueError(f"{onnx_path}: {node.op_type} {node.name} has no static shape")
        total += int(np.prod(sizes))
    return total


def runtime_calls(version_dir, generator, straight_onnx=None, cuda=False):
    """({name: callable(label, noise) -> images}, {name: executed MACs per image}, facts)
    for every runtime to compare.

    The rows are the registry's bench entries (model_pkg/runtimes.py), each under its
    row name, called raw: ``run_unchecked``, no Python-side validation. ``generator``
    is the version's Keras generator, called eagerly. Beside them: ``onnx_client``, the
    package's validated OnnxClient, to show what checks cost; the tf2onnx baseline and
    CUDA where asked; the peers (benchmarks/peers.py) on the same model.onnx when
    OpenVINO is installed.
    """
    from model_pkg import runtimes
    from model_pkg.benchmarks import peers
    from model_pkg.export.runtime_onnx import OnnxRuntime
    from model_pkg.serving.local_clients import OnnxClient

    onnx_path = f"{version_dir}/model.onnx"
    rewritten = executed_macs_per_image(onnx_path)
    calls = {entry.bench: entry.open(generator if entry.needs == "generator" else version_dir)
             .run_unchecked for entry in runtimes.entries(bench=True)}
    calls["onnx_client"] = OnnxClient(version_dir, device="cpu").generate
    if straight_onnx:
        calls["onnx_cpu_tf2onnx"] = OnnxRuntime(straight_onnx, verify=False).run_unchecked
    if cuda:
        calls["onnx_cuda"] = OnnxRuntime(version_dir, device="cuda").run_unchecked
    peer_calls, facts = peers.openvino_calls(onnx_path)
    calls.update(peer_calls)
    # Keras, TensorFlow and the tf2onnx file upsample then convolve: the nominal count.
    macs = {name: NOMINAL_MACS if name in ("keras", "savedmodel_tf", "onnx_cpu_tf2onnx")
            else rewritten for name in calls}
    return calls, macs, facts


def measure(calls, batches=BATCHES, seconds_per_cell=1.0, rounds=3, macs=None, loose=()):
    """Interleaved latency samples -> {runtime: {batch: stats}}.

    ``macs``: {runtime: executed multiply-adds per image} (default: the nominal count).
    ``loose``: runtimes whose images may differ beyond the contract (reduced precision):
    their largest difference is recorded, not checked. Every row's ``max_abs_diff`` is
    from ONNX Runtime on the published file (``onnx_cpu``), the package's reference.
    """
    macs, diffs = macs or {}, {name: {} for name in calls}
    rng = np.random.default_rng(0)
    samples = {name: {b: [] for b in batches} for name in calls}
    for batch in batches:
        label = rng.integers(0, 10, batch).astype(np.int32)
        noise = rng.standard_normal((batch, 100)).astype(np.float32)
        for name, diff in _warm_up_and_compare(calls, label, noise, loose).items():
            diffs[name][batch] = diff
        for _ in range(rounds):
            for name, call in calls.items():
                deadline = time.perf_counter() + seconds_per_cell / rounds
                while True:
                    samples[name][batch].append(_timed(lambda: call(label, noise)))
                    if time.perf_counter() > deadline and len(samples[name][batch]) >= 5:
                        break
    return {name: {b: {**_stats(s, b, macs.get(name, NOMINAL_MACS)),
                       "max_abs_diff": diffs[name][b]} for b, s in per.items()}
            for name, per in samples.items()}


def _warm_up_and_compare(calls, label, noise, loose):
    """Calls each runtime 3 times (the first calls allocate and trace), checks that the
    runtimes not in ``loose`` agree, returns each one's max difference from ``onnx_cpu``."""
    outputs = {}
    for name, call in calls.items():
        for _ in range(3):
            outputs[name] = call(label, noise)
    check_agreement({k: v for k, v in outputs.items() if k not in loose}, len(label))
    reference = outputs.get("onnx_cpu", next(iter(outputs.values())))
    return {name: float(np.max(np.abs(images - reference))) for name, images in outputs.items()}


def check_agreement(outputs, batch, atol=1e-4):
    """Raises if any runtime's images differ from the first's by more than ``atol``
    (1e-4 covers CUDA; the CPU runtimes agree within the contract's 1e-5)."""
    names = list(outputs)
    for name in names[1:]:
        diff = float(np.max(np.abs(outputs[name] - outputs[names[0]])))
        if diff > atol:
            raise AssertionError(f"batch {batch}: {name} differs from {names[0]} by {diff:.3g}; "
                                 "timing runtimes that disagree would mean nothing")


def _stats(latencies, batch, executed_macs=NOMINAL_MACS):
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"calls": len(ordered), "p50_ms": round(p50 * 1e3, 4), "p99_ms": round(p99 * 1e3, 4),
            "images_per_s": round(batch / p50, 1),
            "gflops": round(batch * FLOP_PER_IMAGE / p50 / 1e9, 2),
            "executed_macs_per_image": executed_macs,
            "executed_gflops": round(batch * 2 * executed_macs / p50 / 1e9, 2)}
