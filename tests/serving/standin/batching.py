"""TF Serving's ``--enable_batching`` as its source does it. A TEST FIXTURE, not TF Serving.

Emulated from batching/batching_session.cc (BatchingSession::InternalRun,
ComputeInputSize, MergeInputTensors, ProcessBatch) over TensorFlow's
SharedBatchScheduler (core/kernels/batching_util/shared_batch_scheduler.h),
rows in docs/tf_serving.md. The shipped deployment does not enable it; the
stand-in emulates it so that a test shows what it would do to our clients
(one status for the whole batch) and fails if the flag comes back.
"""

import threading
import time

import numpy as np

from tests.serving.standin.status import Refused

ABORTED = ("tensorflow_model_server aborted: tensor.cc Check failed: limit <= dim0_size "
           "(1 vs. 0) (MergeInputTensors padded from a 0-row task)")


class _Task:
    def __init__(self, inputs, size):
        self.inputs, self.size = inputs, size
        self.done = threading.Event()
        self.result = self.error = None


def input_size(inputs):
    """Rows of a request; errors here fail only it (batching_util.h, ComputeTensorBatchSize)."""
    sizes = set()
    for value in inputs.values():
        if np.ndim(value) == 0:
            raise Refused("INVALID_ARGUMENT",
                          "Batching Run() input tensors must have at least one dimension")
        sizes.add(np.shape(value)[0])
    if len(sizes) > 1:
        raise Refused("INVALID_ARGUMENT",
                      "Batching Run() input tensors must have equal 0th-dimension size")
    return sizes.pop()


class Batcher:
    """One queue per version; ``num_batch_threads`` threads run batches (BatchingParameters)."""

    def __init__(self, params):
        self.max_size = params.max_batch_size.value or 1000
        self.timeout_s = params.batch_timeout_micros.value / 1e6
        self.max_batches = params.max_enqueued_batches.value or 1000000
        self.allowed = list(params.allowed_batch_sizes) or [self.max_size]
        self.aborted = False
        self._cond = threading.Condition()
        self._queues = {}   # runtime -> [[task, ...], ...]; the last batch is the open one
        self._opened = {}   # id(batch) -> when its first task arrived
        self._stop = False
        self._threads = [threading.Thread(target=self._loop, daemon=True)
                         for _ in range(max(1, params.num_batch_threads.value or 1))]
        for thread in self._threads:
            thread.start()

    def submit(self, runtime, inputs):
        """Blocks until the batch that holds this request ran; one status for all of it."""
        size = input_size(inputs)
        if size > self.max_size:   # enable_large_batch_splitting is off by default
            raise Refused("INVALID_ARGUMENT", f"Task size {size} is larger than maximum input "
                                              f"batch size {self.max_size}")
        task = _Task(inputs, size)
        with self._cond:
            if self.aborted:
                raise Refused("UNAVAILABLE", ABORTED)
            batches = self._queues.setdefault(runtime, [])
            if not batches or sum(t.size for t in batches[-1]) + size > self.max_size:
                if len(batches) >= self.max_batches:
                    raise Refused("UNAVAILABLE", "The batch scheduling queue to which this "
                                  f"task was submitted is full; currently {len(batches)} batches "
                                  f"enqueued and max_enqueued_batches is {self.max_batches}")
                batches.append([])
                self._opened[id(batches[-1])] = time.monotonic()
            batches[-1].append(task)
            self._cond.notify_all()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.result

    def _ready(self):
        """(runtime, batch) to run now: a closed batch, or an open one past its timeout."""
        now = time.monotonic()
        for runtime, batches in self._queues.items():
            for i, batch in enumerate(batches):
                rows = sum(t.size for t in batch)
                closed = i < len(batches) - 1 or rows >= self.max_size
                waited = now - self._opened[id(batch)] >= self.timeout_s
                if batch and rows > 0 and (closed or waited):   # a 0-row batch never runs
                    batches.pop(i)
                    return runtime, batch
        return None

    def _loop(self):
        while True:
            with self._cond:
                picked = self._ready()
                while picked is None and not self._stop:
                    self._cond.wait(timeout=max(self.timeout_s, 0.0005))
                    picked = self._ready()
                if self._stop:
                    return
            self._process(*picked)

    def _process(self, runtime, batch):
        """ProcessBatch: merge, pad, one Run, then the same status for every task."""
        try:
            images = runtime.run_tensors(self._merge(batch))
            start = 0
            for task in batch:
                task.result, start = images[start:start + task.size], start + task.size
        except Refused as err:
            self._fail(batch, err)
        except Exception as err:  # noqa: BLE001 - the session's status, for every task
            self._fail(batch, Refused(getattr(err, "code", "INTERNAL"),
                                      getattr(err, "message", str(err))))
        for task in batch:
            task.done.set()

    def _fail(self, batch, error):
        for task in batch:
            task.error = error

    def _merge(self, batch):
        """MergeInputTensors: concatenate by name, pad with the last task's first row."""
        rows = sum(t.size for t in batch)
        target = next(size for size in self.allowed if size >= rows)
        merged = {}
        for name in batch[0].inputs:
            parts = [np.asarray(t.inputs[name]) for t in batch]
            if len({p.dtype for p in parts}) > 1:
                raise Refused("INTERNAL", "Tensor concat operation failed: INVALID_ARGUMENT: "
                              "Cannot concatenate tensors that have different data types.")
            if len({p.shape[1:] for p in parts}) > 1:
                raise Refused("FAILED_PRECONDITION", f"Tensors with name {name} from different "
                              "tasks have different shapes and padding is turned off.")
            if target > rows:
                if parts[-1].shape[0] == 0:   # Slice(0, 1) of a 0-row tensor: CHECK fails
                    self.aborted = True
                    raise Refused("UNAVAILABLE", ABORTED)
                parts.append(np.repeat(parts[-1][:1], target - rows, axis=0))
            merged[name] = np.concatenate(parts)
        return merged

    def close(self):
        with self._cond:
            self._stop = True
            self._cond.notify_all()
