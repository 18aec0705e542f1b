"""MultiWorkerMirroredStrategy on loopback: two worker processes, TF_CONFIG, free ports.

Each worker is a subprocess (tests/model_pkg/distributed/worker.py) on the CPU only, with a hard
timeout: a test that overruns kills every worker it started and fails.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from model_pkg import checkpoint
from model_pkg import config as config_lib
from tests.model_pkg.distributed.worker import digest
from tests.ports import free_ports

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
WORKER = "tests.model_pkg.distributed.worker"
CONFIG = dataclasses.replace(config_lib.SEED, batch_size=8, steps=4, checkpoint_every=2,
                             log_every=1, sample_every=1000)
RUN_TIMEOUT_S = 300    # two fresh TensorFlow processes on a busy 2-core machine
LOST_PEER_S = 90       # the survivor must fail this soon after its peer is killed


def start_workers(tmp_path, args_per_worker, tag):
    """One subprocess per worker with its TF_CONFIG; returns [(process, log path)]."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(len(args_per_worker))]}
    workers = []
    for index, args in enumerate(args_per_worker):
        spec = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
                   TF_CONFIG=json.dumps(spec))
        log = tmp_path / f"{tag}-worker{index}.log"
        with open(log, "w") as handle:
            proc = subprocess.Popen([sys.executable, "-m", WORKER, *args],
                                    cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        workers.append((proc, log))
    return workers


def kill_all(workers):
    for proc, _ in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()


def finish(workers, timeout=RUN_TIMEOUT_S):
    """Each worker's JSON result; kills them all and fails on a timeout or an error."""
    deadline = time.monotonic() + timeout
    try:
        for proc, log in workers:
            proc.wait(timeout=max(1, deadline - time.monotonic()))
            assert proc.returncode == 0, log.read_text()[-3000:]
    except subprocess.TimeoutExpired:
        raise AssertionError(f"workers still running after {timeout} s: "
                             f"{workers[0][1].read_text()[-2000:]}") from None
    finally:
        kill_all(workers)
    return [json.loads(log.read_text().strip().splitlines()[-1]) for _, log in workers]


def train_args(workdir, config):
    return ["train", str(workdir), config.to_json(), "multi-worker"]


def test_two_workers_hold_equal_weights_and_only_the_chief_writes(tmp_path):
    chief, other = tmp_path / "chief", tmp_path / "other"   # other: must stay untouched
    results = finish(start_workers(tmp_path, [train_args(chief, CONFIG),
                                              train_args(other, CONFIG)], "run"))
    assert [r["step"] for r in results] == [CONFIG.steps] * 2
    assert results[0]["digest"] == results[1]["digest"]
    assert not other.exists()
    assert [s for s, _ in checkpoint.list_checkpoints(chief)] == [2, 4]
    step, folder, meta = checkpoint.latest_valid(str(chief))
    assert (meta["strategy"], meta["replicas"]) == ("multi-worker", 2)
    with np.load(os.path.join(folder, "state.npz")) as npz:
        saved = {k: npz[k] for k in npz.files}
    assert digest({k: _Held(v) for k, v in saved.items()}) == results[0]["digest"]


class _Held:
    def __init__(self, value):
        self.value = value

    def numpy(self):
        return self.value


def _wait_for_checkpoint(workdir, workers, step, timeout=RUN_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(s >= step for s, _ in checkpoint.list_checkpoints(workdir)):
            return
        if any(proc.poll() is not None for proc, _ in workers):
            kill_all(workers)
            raise AssertionError(workers[0][1].read_text()[-3000:])
        time.sleep(0.5)
    kill_all(workers)
    raise AssertionError(f"no checkpoint at step {step} after {timeout} s")


def test_a_killed_worker_fails_the_other_clearly_and_both_resume(tmp_path):
    workdir = tmp_path / "shared"   # on loopback the shared storage is one folder
    endless = dataclasses.replace(CONFIG, steps=100_000, checkpoint_every=3)
    workers = start_workers(tmp_path, [train_args(workdir, endless)] * 2, "first")
    try:
        _wait_for_checkpoint(str(workdir), workers, 3)
        workers[1][0].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        chief = workers[0][0]
        chief.wait(timeout=LOST_PEER_S)
        failed_after = time.monotonic() - killed
    finally:
        kill_all(workers)
    log = workers[0][1].read_text()
    # wait() above raised TimeoutExpired had the survivor hung past LOST_PEER_S; the clock
    # here also counts how late this busy process was woken, so it only goes in the message.
    assert chief.returncode != 0, f"the survivor exited 0, {failed_after:.0f} s after the kill"
    assert "PeerLost" in log and "lost contact with worker 1" in log, log[-3000:]
    assert "Restart every worker with the same command" in log
    last = checkpoint.latest_valid(str(workdir))[0]
    resumed = dataclasses.replace(endless, steps=last + 3)
    results = finish(start_workers(tmp_path, [train_args(workdir, resumed)] * 2, "again"))
    assert [r["step"] for r in results] == [last + 3] * 2
    assert [r["steps_run"] for r in results] == [3, 3]
    assert results[0]["digest"] == results[1]["digest"]
    assert f"(step {last})" in (tmp_path / "again-worker1.log").read_text()   # read, not written


@pytest.mark.xfail(strict=True, reason="Keras 3 fit() does not work with "
                   "MultiWorkerMirroredStrategy (keras-team/keras#20585, "
                   "tensorflow/tensorflow#72388); an XPASS means upstream fixed it")
def test_keras_fit_under_multi_worker(tmp_path):
    results = finish(start_workers(tmp_path, [["fit"], ["fit"]], "fit"), timeout=180)
    assert all(len(r["loss"]) == 1 for r in results)
