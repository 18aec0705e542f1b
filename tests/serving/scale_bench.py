"""`make bench-scale`: the load benchmark through Debian's nginx, 1 vs 3 replicas (loopback).

The replicas are the TEST FIXTURE (tests/serving/standin, one process each), not TF
Serving, so the numbers measure nginx and the clients over this machine's cores with a
stand-in that runs the real graph through TensorFlow's C API; TF Serving's own numbers
need Docker (docs/scale_out.md).

    python -m tests.serving.scale_bench [--models-dir artifacts/models] [--seconds 3]
"""

import argparse
import os
import shutil
import tempfile

from model_pkg.serving.config_files import CONFIG_DIR
from tests.serving import balancer_load
from tests.serving.balancer import Balancer, start_replicas

BANNER = ("backends: the TF Serving stand-in (a test fixture, tests/serving/standin), "
          "not TF Serving; nginx: Debian's, with deploy/compose/nginx.conf")


def compare(replicas, prefix, seconds=3.0, callers=8, out=print):
    """Prints (and returns) throughput and p50/p99 through nginx over 1 and all replicas."""
    results = []
    out(BANNER)
    for subset in (replicas[:1], replicas):
        folder = os.path.join(prefix, f"nginx-{len(subset)}")
        os.makedirs(folder, exist_ok=True)
        balancer = Balancer(subset, folder)
        try:
            factories = balancer_load.clients_for(balancer.rest_url, balancer.grpc_target)
            for protocol, factory in factories.items():
                result = balancer_load.run_load(factory, seconds, callers)
                name = f"{len(subset)} replica{'s' if len(subset) > 1 else ''} behind nginx"
                out(balancer_load.format_row(name, protocol, result))
                results.append((len(subset), protocol, result))
        finally:
            balancer.close()
    out(balancer_load.cores_note())
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.serving.scale_bench")
    parser.add_argument("--models-dir", default=os.path.join("artifacts", "models"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--callers", type=int, default=8)
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.models_dir, "cgan", "1")):
        parser.error(f"{args.models_dir}/cgan/1 missing: run `make pipeline` first")
    prefix = tempfile.mkdtemp(prefix="scale-bench-")
    config = os.path.join(prefix, "config")
    shutil.copytree(CONFIG_DIR, config)
    replicas = start_replicas(3, os.path.abspath(args.models_dir), config)
    try:
        compare(replicas, prefix, args.seconds, args.callers)
    finally:
        for replica in replicas:
            replica.close()
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    main()
