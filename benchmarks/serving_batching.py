"""Many concurrent batch-1 callers through TF Serving's loader: in-graph batching vs none.

What TF Serving does with each request of the shipped deployment is a
Session::Run of ``serving_default`` on the session its loader built. Here the
same loader (tensorflow::LoadSavedModel through the C API, export/tf_c_api.py)
loads two SavedModels of one generator: the shipped one (per-request checks,
then TensorFlow's BatchFunction op, export/signature.py) and the same graph
without the batcher (what each request costs when nothing merges it). K
threads each send batch-1 requests for a fixed time; the two SavedModels
alternate over rounds because these machines drift. Callers are Python
threads in the same process on the same cores as TensorFlow, so the absolute
numbers understate a server's; the ratio is the point. TF Serving's own
--enable_batching cannot run here and is not measured (docs/tf_serving.md).
"""

import os
import statistics
import tempfile
import threading
import time

import numpy as np

CALLERS = (1, 8, 32, 64)


def build_pair(generator, folder):
    """{"in-graph batching": path, "no batching": path}: the two SavedModels."""
    from model_pkg.export import artifacts

    paths = {"in-graph batching": os.path.join(folder, "batched"),
             "no batching": os.path.join(folder, "plain")}
    artifacts.write_savedmodel(generator, paths["in-graph batching"])
    artifacts.write_savedmodel(generator, paths["no batching"], batching=None)
    return paths


def _callers_run(runtime, callers, seconds, seed):
    """K threads calling for ``seconds``; (requests done, latencies in s)."""
    rng = np.random.default_rng(seed)
    inputs = [(rng.integers(0, 10, 1).astype(np.int32),
               rng.standard_normal((1, 100)).astype(np.float32)) for _ in range(64)]
    latencies, lock, start = [], threading.Lock(), threading.Barrier(callers + 1)
    deadline = []

    def worker(k):
        mine = []
        start.wait()
        i = k
        while time.perf_counter() < deadline[0]:
            began = time.perf_counter()
            runtime.run_unchecked(*inputs[i % len(inputs)])
            mine.append(time.perf_counter() - began)
            i += callers
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(callers)]
    for thread in threads:
        thread.start()
    deadline.append(time.perf_counter() + seconds)
    start.wait()
    for thread in threads:
        thread.join()
    return len(latencies), latencies


def measure(paths, callers=CALLERS, seconds=2.0, rounds=3):
    """{name: {K: {"images_per_s", "p50_ms", "p99_ms", "requests"}}}, medians over rounds."""
    from model_pkg.export.tf_c_api import CApiRuntime

    runtimes = {name: CApiRuntime(path, verify=False) for name, path in paths.items()}
    try:
        for runtime in runtimes.values():   # first calls build kernels for each batch size
            _callers_run(runtime, 8, 0.3, seed=0)
        rows = {name: {k: [] for k in callers} for name in runtimes}
        for k in callers:
            for r in range(rounds):
                for name, runtime in runtimes.items():
                    done, lat = _callers_run(runtime, k, seconds / rounds, seed=r)
                    ordered = sorted(lat)
                    rows[name][k].append((done * rounds / seconds, statistics.median(ordered),
                                          ordered[int(0.99 * (len(ordered) - 1))]))
    finally:
        for runtime in runtimes.values():
            runtime.close()
    return {name: {k: _median_row(samples) for k, samples in per.items()}
            for name, per in rows.items()}


def _median_row(samples):
    rate, p50, p99 = (statistics.median(column) for column in zip(*samples))
    return {"images_per_s": round(rate, 1), "p50_ms": round(p50 * 1e3, 3),
            "p99_ms": round(p99 * 1e3, 3)}


def run(generator, callers=CALLERS, seconds=2.0):
    """Builds both SavedModels in a temporary folder and measures them."""
    with tempfile.TemporaryDirectory() as folder:
        return measure(build_pair(generator, folder), callers, seconds)
