"""Load changes nothing but speed; memory stays flat over many calls.

The full sizes (8 threads x 500 calls; 10,000 calls of batches 1..4096) are
marked slow; CI runs the short versions. Both print what they measured.
"""

import os

import numpy as np
import pytest

from model_pkg.serving.local_clients import OnnxClient
from tests.threads import run_in_threads

pytestmark = pytest.mark.faults


def _jobs(count, max_batch, seed):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 10, n).astype(np.int32),
             rng.standard_normal((n, 100)).astype(np.float32))
            for n in rng.integers(1, max_batch + 1, count)]


def _hammer(client, jobs, threads, calls_per_thread):
    expected = [client.generate(*job) for job in jobs]
    mismatches = []

    def worker(k):
        rng = np.random.default_rng(100 + k)
        for i in rng.integers(0, len(jobs), calls_per_thread):
            if not np.array_equal(client.generate(*jobs[i]), expected[i]):
                mismatches.append(int(i))

    return mismatches, run_in_threads(worker, threads)


@pytest.mark.parametrize("calls", [pytest.param(60, id="short"),
                                   pytest.param(500, id="full", marks=pytest.mark.slow)])
def test_onnx_under_8_threads_equals_one_thread(published, calls):
    client = OnnxClient(published[1], device="cpu")
    mismatches, errors = _hammer(client, _jobs(64, 256, seed=5), threads=8, calls_per_thread=calls)
    print(f"\n8 threads x {calls} calls: {len(mismatches)} mismatches, {len(errors)} errors")
    assert errors == [] and mismatches == []


def _rss_mib():
    with open(f"/proc/{os.getpid()}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.parametrize("calls, max_batch, bound_mib", [
    pytest.param(1000, 256, 16, id="short"),
    pytest.param(10_000, 4096, 64, id="full", marks=pytest.mark.slow)])
def test_rss_stays_flat_over_many_calls(published, calls, max_batch, bound_mib):
    """ONNX Runtime's arena grows while it meets new batch sizes, then stays put:
    the first half of the calls settles it (here it stopped growing after about
    400 calls of batches 1..256), the rest must not grow it."""
    client = OnnxClient(published[1], device="cpu")
    rng = np.random.default_rng(9)
    sizes = rng.integers(1, max_batch + 1, calls)
    settle = calls // 2
    before = _rss_mib()
    for i, n in enumerate(sizes):
        if i == settle:
            start = _rss_mib()
        client.generate(np.full(n, i % 10, np.int32), rng.standard_normal((n, 100)))
    end = _rss_mib()
    print(f"\n{calls} calls, batches 1..{max_batch}: RSS {before:.0f} MiB before, "
          f"{start:.0f} after {settle} settling calls, {end:.0f} at the end: "
          f"growth {end - start:+.1f} MiB over {calls - settle} calls")
    assert end - start < bound_mib
