"""precision="fast" and "bf16": paths that are not one ONNX Runtime session.

- ``bf16``: OpenVINO on model.onnx at bfloat16, offered when the export measured and
  gated it (export/openvino_bf16.py).
- ``fast`` with more than one offered path: which one is fastest depends on the CPU
  and the batch (docs/speed.md: OpenVINO bf16 leads at large batches and trails at
  batch 1, where int8 in ONNX Runtime leads), so the client measures instead of
  guessing. The first call whose row count falls in a new power-of-two bucket runs
  every offered path on its own inputs (PROBE_RUNS each, best time kept) and answers
  with the winner's images; later calls in that bucket go straight to the winner.
  ``fast_choices`` says which path each bucket took.
"""

import threading
import time

PROBE_RUNS = 2


class OpenVinoPath:
    """OpenVinoRuntime at bf16 on model.onnx, callable from many threads (one infer
    request each, created on a thread's first call)."""

    def __init__(self, onnx_path):
        from model_pkg.export.openvino_bf16 import HINT
        from model_pkg.export.runtime_openvino import OpenVinoRuntime

        self.runtime = OpenVinoRuntime(onnx_path, precision=HINT, verify=False)
        self._local = threading.local()

    def run_unchecked(self, label, noise):
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.runtime.new_request()
        return self.runtime.run_request(request, label, noise)


def bucket(rows):
    """The power of two at or above ``rows``: calls of similar size share a choice."""
    return 1 << max(0, int(rows) - 1).bit_length()


class FastPaths:
    """{precision: object with run_unchecked}, the fastest per batch bucket, measured."""

    def __init__(self, paths, clock=time.perf_counter):
        self.paths = dict(paths)
        self.choices = {}
        self._clock = clock
        self._lock = threading.Lock()

    def run_unchecked(self, label, noise):
        key = bucket(len(label))
        chosen = self.choices.get(key)
        if chosen is not None:
            return self.paths[chosen].run_unchecked(label, noise)
        # Probing is serialised: concurrent probes would time each other.
        with self._lock:
            if key in self.choices:
                return self.paths[self.choices[key]].run_unchecked(label, noise)
            best, images = None, {}
            for name, path in self.paths.items():
                seconds = []
                for _ in range(PROBE_RUNS):
                    began = self._clock()
                    images[name] = path.run_unchecked(label, noise)
                    seconds.append(self._clock() - began)
                if best is None or min(seconds) < best[1]:
                    best = (name, min(seconds))
            self.choices[key] = best[0]
            return images[best[0]]
