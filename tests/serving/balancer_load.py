"""Load through a balancer: throughput and p50/p99 of generate() calls for a few seconds.

Bounded (a fixed duration and number of callers) and aimed at addresses you give; it
starts no server. `make bench-scale` drives it through nginx in front of 1 and then 3
replicas (tests/serving/scale_bench.py) and prints the comparison.

    python -m tests.serving.balancer_load --rest-url http://127.0.0.1:9501 \
        --grpc-target 127.0.0.1:9500 --seconds 3 --callers 8
"""

import argparse
import os
import threading
import time

import numpy as np

from model_pkg.serving.grpc_client import GrpcClient
from model_pkg.serving.rest_client import RestClient


def _caller(client, stop_at, rows, latencies, errors):
    noise = np.random.default_rng(0).standard_normal((rows, 100)).astype(np.float32)
    labels = [i % 10 for i in range(rows)]
    while time.perf_counter() < stop_at:
        start = time.perf_counter()
        try:
            client.generate(labels, noise)
        except Exception as err:  # noqa: BLE001 - counted and reported, the load goes on
            errors.append(repr(err))
            continue
        latencies.append(time.perf_counter() - start)


def run_load(make_client, seconds=3.0, callers=8, rows=1):
    """``callers`` threads, each with its own client, call generate() for ``seconds``.

    Returns {"requests", "errors", "seconds", "rps", "p50_ms", "p99_ms"}.
    """
    latencies, errors = [], []
    clients = [make_client() for _ in range(callers)]
    started = time.perf_counter()
    stop_at = started + seconds
    threads = [threading.Thread(target=_caller, args=(c, stop_at, rows, latencies, errors))
               for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)   # a call is bounded by the client's timeout
    elapsed = time.perf_counter() - started
    for client in clients:
        getattr(client, "close", lambda: None)()
    ms = np.asarray(latencies) * 1000.0
    return {"requests": len(latencies), "errors": len(errors), "seconds": round(elapsed, 2),
            "rps": len(latencies) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else float("nan")}


def clients_for(rest_url=None, grpc_target=None, timeout_s=30.0):
    """{"rest": factory, "grpc": factory} for the addresses given."""
    factories = {}
    if rest_url:
        factories["rest"] = lambda: RestClient(rest_url, timeout_s=timeout_s)
    if grpc_target:
        factories["grpc"] = lambda: GrpcClient(grpc_target, timeout_s=timeout_s)
    return factories


def format_row(name, protocol, result):
    return (f"{name:<28} {protocol:<5} {result['rps']:>8.1f} req/s  p50 {result['p50_ms']:>7.1f}"
            f" ms  p99 {result['p99_ms']:>7.1f} ms  ({result['requests']} ok, "
            f"{result['errors']} failed, {result['seconds']} s)")


def cores_note():
    return (f"limit: this machine's {os.cpu_count()} CPU cores, shared by the callers, nginx "
            "and every replica; more replicas than cores add no compute")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.serving.balancer_load")
    parser.add_argument("--rest-url")
    parser.add_argument("--grpc-target")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--callers", type=int, default=8)
    parser.add_argument("--name", default="balancer")
    args = parser.parse_args(argv)
    factories = clients_for(args.rest_url, args.grpc_target)
    if not factories:
        parser.error("give --rest-url and/or --grpc-target")
    for protocol, factory in factories.items():
        print(format_row(args.name, protocol, run_load(factory, args.seconds, args.callers)))
    print(cores_note())


if __name__ == "__main__":
    main()
