"""One stand-in (a TEST FIXTURE, not TF Serving) in its own process, for tests that need
several servers that can be killed like processes (tests/serving/balancer.py).

    python -m tests.serving.standin --service serving-replica \
        --env MODELS_DIR=... --env TF_SERVING_CONFIG_DIR=...

It starts from the shipped docker-compose.yml service, prints one JSON line
{"rest_url": ..., "grpc_target": ..., "pid": ...} once both ports listen, and
serves until stdin closes (its parent went away) or it is killed.
"""

import argparse
import json
import os
import sys

from tests.serving.standin import StandIn, shipped_compose


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.serving.standin")
    parser.add_argument("--service", default="serving")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    env = dict(os.environ, **dict(item.split("=", 1) for item in args.env))
    server = StandIn.from_compose(shipped_compose(), service=args.service, env=env)
    print(json.dumps({"rest_url": server.rest_url, "grpc_target": server.grpc_target,
                      "pid": os.getpid()}), flush=True)
    try:
        sys.stdin.read()   # returns when the parent closes the pipe (or dies)
    finally:
        server.close()


if __name__ == "__main__":
    main()
