"""`make compose-test`'s scale-out scenarios: three TF Serving replicas behind nginx under
a kill, and MultiWorkerMirroredStrategy training across two containers with a kill."""

import glob
import os
import re
import threading
import time

from tests.compose.scenarios import (
    _as_me,
    _new_stack,
    _version_dir,
    publish_two_versions,
)
from tests.compose.stack import run, wait_until

BALANCER_REST, BALANCER_GRPC = "http://127.0.0.1:9501", "127.0.0.1:9500"
_METRICS = ("exec 3<>/dev/tcp/127.0.0.1/8501 && printf 'GET /monitoring/prometheus/metrics "
            "HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3")


def _ok_requests(container):
    """The replica's own count of OK requests (Prometheus, through bash's /dev/tcp)."""
    page = run(["docker", "exec", container, "bash", "-c", _METRICS]).stdout
    return sum(int(n) for n in re.findall(r'request_count\{[^}]*status="OK"[^}]*\} (\d+)', page))


def _spread(replicas, calls=30):
    """Requests each replica answered out of ``calls`` REST calls through the balancer."""
    import numpy as np

    from model_pkg.serving.rest_client import RestClient

    before = {c: _ok_requests(c) for c in replicas}
    client = RestClient(BALANCER_REST, retries=0)
    for i in range(calls):
        client.generate(np.array([i % 10], np.int32), np.zeros((1, 100), np.float32))
    return [_ok_requests(c) - before[c] for c in replicas]


def _load(seconds, callers, on_the_way):
    """``callers`` threads (REST and gRPC in turn) calling through the balancer for
    ``seconds`` with the clients as users get them (their default retries: a gRPC call in
    flight on the killed replica gets nginx's 502 as UNAVAILABLE, which nginx cannot retry
    once the reply began; see deploy/compose/nginx.conf); ``on_the_way()`` runs after a
    third of the time."""
    import numpy as np

    from model_pkg.serving.grpc_client import GrpcClient
    from model_pkg.serving.rest_client import RestClient

    counts, errors, stop = {"calls": 0, "failed": 0}, [], threading.Event()
    lock = threading.Lock()

    def caller(i):
        client = RestClient(BALANCER_REST) if i % 2 == 0 else GrpcClient(BALANCER_GRPC)
        while not stop.is_set():
            try:
                client.generate(np.array([i % 10], np.int32), np.zeros((1, 100), np.float32))
                failed = 0
            except Exception as err:  # noqa: BLE001 - counted and reported
                failed = 1
                errors.append(f"{type(err).__name__}: {str(err)[:120]}")
            with lock:
                counts["calls"] += 1
                counts["failed"] += failed

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    time.sleep(seconds / 3)
    on_the_way()
    time.sleep(seconds * 2 / 3)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return counts, errors[:5]


def scale_profile(ctx):
    """--profile scale, 3 replicas: every replica answers; a kill under load fails no call;
    the documented reload (kill -s HUP balancer) brings a restarted replica back."""
    stack = _new_stack(ctx)
    try:
        publish_two_versions(stack)
        began = time.time()   # `up` returns once the replicas are healthy (depends_on)
        stack.compose("--profile", "scale", "up", "--detach", "--scale", "serving-replica=3",
                      "balancer", env=_as_me())
        stack.wait_healthy("serving-replica", count=3)
        healthy_s = time.time() - began
        replicas = sorted(stack.containers("serving-replica"))
        time.sleep(3)   # nginx up (its own container has no healthcheck)
        spread = _spread(replicas)
        assert all(n > 0 for n in spread), f"a replica got no call: {spread}"
        victim = replicas[-1]
        counts, errors = _load(30, 4, lambda: run(["docker", "kill", victim]))
        assert counts["failed"] == 0, f"{counts} {errors}"
        if stack.health(victim) in ("exited", "dead"):
            run(["docker", "start", victim])
        wait_until(lambda: stack.health(victim) == "healthy", 300, "the restarted replica healthy")
        stack.compose("--profile", "scale", "kill", "-s", "HUP", "balancer")
        time.sleep(2)
        after = _spread(replicas)
        assert after[-1] > 0, f"the restarted replica gets no call after the reload: {after}"
        return {"ok": True, "healthy_s": round(healthy_s), "spread": spread,
                "calls_under_kill": counts["calls"], "failed": counts["failed"],
                "spread_after_reload": after}
    finally:
        ctx["leftovers"] += stack.down()


def _checkpoint_steps(folder):
    return sorted(int(m.group(1)) for path in glob.glob(os.path.join(folder, "*"))
                  if (m := re.search(r"(\d+)$", os.path.basename(path))))


def multi_worker_training(ctx):
    """Two `model-pkg train --strategy multi-worker` containers (profile train): a kill of
    one fails the other plainly; both restarted resume from the chief's checkpoint; the
    result exports through the parity gate."""
    stack = _new_stack(ctx)
    steps = ctx["train_steps"]
    env = dict(_as_me(), TRAIN_ARGS=f"--steps {steps} --set checkpoint_every=10")
    checkpoints = os.path.join(stack.folder, "artifacts", "train", "multi-worker", "checkpoints")
    try:
        stack.compose("--profile", "train", "up", "--detach", "trainer-0", "trainer-1", env=env)
        wait_until(lambda: any(s >= 10 for s in _checkpoint_steps(checkpoints)), 600,
                   "a first checkpoint")
        killed_at = max(_checkpoint_steps(checkpoints))
        stack.compose("--profile", "train", "kill", "trainer-1")
        chief = stack.containers("trainer-0")[0]
        wait_until(lambda: stack.health(chief) == "exited", 300, "the chief to stop after the kill")
        code = run(["docker", "inspect", "--format", "{{.State.ExitCode}}", chief]).stdout.strip()
        assert code != "0", "the chief finished although its peer was killed"
        first_log = stack.compose("--profile", "train", "logs", "--no-color", "trainer-0").stdout
        stack.compose("--profile", "train", "up", "--detach", "trainer-0", "trainer-1", env=env)
        wait_until(lambda: all(stack.health(c) == "exited" for c in stack.containers("trainer-0")
                          + stack.containers("trainer-1")), 900, "both trainers to finish")
        log = stack.compose("--profile", "train", "logs", "--no-color", "trainer-0").stdout
        for c in stack.containers("trainer-0") + stack.containers("trainer-1"):
            assert run(["docker", "inspect", "--format", "{{.State.ExitCode}}", c]).stdout \
                .strip() == "0", log[-2000:]
        resumed = re.findall(r"resumed from .*?\(step (\d+)\)", log)
        assert resumed, log[-2000:]
        rates = [float(r) for r in re.findall(r" ([\d.]+) steps/s", log)]
        exported = stack.compose("run", "--rm", "--no-deps", "pipeline", "model-pkg", "export",
                                 "--workdir", "artifacts/train/multi-worker", "--skip-quality",
                                 env=_as_me()).stdout
        assert os.path.isdir(_version_dir(stack, 1)), exported[-2000:]
        return {"ok": True, "steps": steps, "killed_after_checkpoint": killed_at,
                "chief_exit": code, "chief_said": _last_error(first_log),
                "resumed_at": int(resumed[-1]),
                "ms_per_step": round(1000 / rates[-1], 1) if rates else None,
                "exported": "version 1 (parity gate passed)"}
    finally:
        ctx["leftovers"] += stack.down()


def _last_error(log):
    lines = [line for line in log.splitlines() if "rror" in line]
    return lines[-1].split("|", 1)[-1].strip()[:200] if lines else ""
