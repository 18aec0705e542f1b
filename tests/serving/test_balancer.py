"""Scale-out on loopback: the shipped nginx config in front of three stand-in processes.

Debian's nginx runs deploy/compose/nginx.conf, changed only by tests/serving/balancer.py's
``localize`` (listen addresses, upstream servers); the backends are the TF Serving
stand-in, a TEST FIXTURE started from docker-compose.yml's ``serving-replica`` service,
one process each. The package's REST and gRPC clients go through nginx; one replica is
SIGKILLed mid-run; gRPC round_robin is checked without the proxy. Every test here runs
under a hard timeout (SIGALRM), and every process wait is bounded.
"""

import signal
import threading

import numpy as np
import pytest

from model_pkg.serving.grpc_client import GrpcClient
from model_pkg.serving.local_clients import OnnxClient
from model_pkg.serving.rest_client import RestClient
from tests.serving import balancer as lb
from tests.serving.nginx import nginx_binary
from tests.serving.scale_bench import compare

LABELS, NOISE = [0, 4, 9], np.random.default_rng(7).standard_normal((3, 100)).astype(np.float32)


@pytest.fixture(autouse=True)
def hard_timeout():
    """Fails a test (in the main thread) that runs past 300 s, whatever it waits on."""
    def expire(*_):
        raise TimeoutError("test_balancer: hard timeout of 300 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(300)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


SHIPPED = open(lb.SHIPPED_CONF).read()


def test_localize_changes_only_the_documented_lines():
    text = lb.localize(SHIPPED, ["127.0.0.1:1", "127.0.0.1:2"], ["127.0.0.1:3"], 9500, 9501,
                       as_root=True)
    removed = set(SHIPPED.splitlines()) - set(text.splitlines())
    added = set(text.splitlines()) - set(SHIPPED.splitlines())
    assert {line.strip() for line in removed} == {
        "listen 8500 http2;", "listen 8501;",
        "server serving-replica:8500 max_fails=1 fail_timeout=10s;",
        "server serving-replica:8501 max_fails=1 fail_timeout=10s;"}
    assert {line.strip() for line in added} == {
        "user root;", "listen 127.0.0.1:9500 http2;", "listen 127.0.0.1:9501;",
        "server 127.0.0.1:1 max_fails=1 fail_timeout=10s;",
        "server 127.0.0.1:2 max_fails=1 fail_timeout=10s;",
        "server 127.0.0.1:3 max_fails=1 fail_timeout=10s;"}
    with pytest.raises(ValueError, match="matched 0 times"):
        lb.localize(SHIPPED.replace("listen 8501;", "listen 80;"), [], [], 1, 2)


def test_nginx_t_accepts_the_shipped_config(tmp_path):
    # `serving-replica` resolves only inside compose's network: the one substitution.
    conf = tmp_path / "nginx.conf"
    conf.write_text(SHIPPED.replace(f"{lb.REPLICA_HOST}:", "127.0.0.1:"))
    import subprocess

    out = subprocess.run([nginx_binary(), "-t", "-p", f"{tmp_path}/", "-e", "stderr",
                          "-c", str(conf)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "test is successful" in out.stderr, out.stderr


@pytest.fixture(scope="module")
def replicas(published, tmp_path_factory):
    nginx_binary()   # skip (or fail in CI) before starting processes
    config = tmp_path_factory.mktemp("replica_config") / "config"
    import shutil

    from model_pkg.serving.config_files import CONFIG_DIR

    shutil.copytree(CONFIG_DIR, config)
    started = lb.start_replicas(3, published[0], str(config))
    yield started
    for replica in started:
        replica.close()


@pytest.fixture(scope="module")
def proxy(replicas, tmp_path_factory):
    running = lb.Balancer(replicas, tmp_path_factory.mktemp("balancer"))
    yield running
    running.close()


@pytest.fixture(scope="module")
def expected(published):
    return OnnxClient(published[1], device="cpu").generate(LABELS, NOISE)


def _counts(replicas):
    return [lb.ok_requests(r.rest_url) for r in replicas]


def test_rest_and_grpc_through_nginx_reach_every_replica(replicas, proxy, expected):
    before = _counts(replicas)
    rest, grpc = RestClient(proxy.rest_url), GrpcClient(proxy.grpc_target)
    for _ in range(6):
        np.testing.assert_allclose(rest.generate(LABELS, NOISE), expected, rtol=0, atol=1e-5)
    middle = _counts(replicas)
    for _ in range(6):
        np.testing.assert_allclose(grpc.generate(LABELS, NOISE), expected, rtol=0, atol=1e-5)
    after = _counts(replicas)
    grpc.close()
    # nginx's round robin: each replica got REST calls and gRPC calls.
    assert all(m > b for b, m in zip(before, middle)), (before, middle)
    assert all(a > m for m, a in zip(middle, after)), (middle, after)


def test_grpc_round_robin_over_several_targets_without_the_proxy(replicas, expected):
    target = "ipv4:" + ",".join(r.grpc_target for r in replicas)
    before = _counts(replicas)
    client = GrpcClient(target, lb_policy="round_robin")
    for _ in range(9):
        np.testing.assert_allclose(client.generate(LABELS, NOISE), expected, rtol=0, atol=1e-5)
    client.close()
    # round_robin picks among the connections already READY, so the first calls may
    # favour the first replica to connect; every replica still gets calls.
    spread = [a - b for a, b in zip(_counts(replicas), before)]
    assert sum(spread) == 9 and min(spread) >= 1, spread
    # The default policy (pick_first) keeps one connection: one replica gets every call.
    before = _counts(replicas)
    client = GrpcClient(target)
    for _ in range(6):
        client.generate(LABELS, NOISE)
    client.close()
    assert sorted(a - b for a, b in zip(_counts(replicas), before)) == [0, 0, 6]


def test_the_load_benchmark_prints_1_vs_3_replicas(replicas, tmp_path):
    lines = []
    results = compare(replicas, str(tmp_path), seconds=0.5, callers=2, out=lines.append)
    assert "not TF Serving" in lines[0] and "CPU cores" in lines[-1]
    assert [(n, p) for n, p, _ in results] == [(1, "rest"), (1, "grpc"), (3, "rest"),
                                              (3, "grpc")]
    assert all(r["requests"] > 0 and r["errors"] == 0 for _, _, r in results)


def _hammer(make_client, stop, done, failures):
    client = make_client()
    while not stop.is_set():
        try:
            np.asarray(client.generate(LABELS, NOISE))
            done.append(1)
        except Exception as err:  # noqa: BLE001 - the test asserts there are none
            failures.append(repr(err))


def test_a_replica_killed_mid_run_fails_no_request(replicas, proxy):
    # Runs last in this module: it leaves two replicas. The clients keep their
    # default retry budget (3 retries with backoff, serving/errors.py); nginx
    # itself moves a failed request to the next replica (proxy/grpc_next_upstream).
    stop, done, failures = threading.Event(), [], []
    makers = [lambda: RestClient(proxy.rest_url), lambda: GrpcClient(proxy.grpc_target)] * 2
    threads = [threading.Thread(target=_hammer, args=(m, stop, done, failures)) for m in makers]
    for thread in threads:
        thread.start()
    try:
        _wait_for(lambda: len(done) >= 20)
        replicas[0].kill()
        killed_at = len(done)
        _wait_for(lambda: len(done) >= killed_at + 40)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert failures == [] and len(done) >= killed_at + 40
    survivors = _counts(replicas[1:])
    assert all(n > 0 for n in survivors)


def _wait_for(condition, seconds=120):
    import time

    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "the load did not progress"
        time.sleep(0.05)


def test_a_proxys_502_is_retried_by_the_rest_client():
    # nginx answers 502 when no replica took the request; the REST client retries it
    # like a 503 (gRPC clients already see a proxy's 502 as UNAVAILABLE).
    import io
    import urllib.error

    from model_pkg.serving.errors import _Retryable
    from model_pkg.serving.rest_client import _http_error

    for code in (502, 503):
        err = urllib.error.HTTPError("http://lb/v1/models/cgan:predict", code, "Bad Gateway",
                                     {}, io.BytesIO(b"<html>502</html>"))
        assert isinstance(_http_error(err, err.url), _Retryable)
