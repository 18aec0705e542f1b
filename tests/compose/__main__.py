"""`make compose-test`: the shipped docker-compose.yml on a real Docker engine, end to end.

    python -m tests.compose [--only NAME ...] [--keep-engine]

Installs the engine and Compose v2 where missing (root on Debian: install_engine.sh),
starts dockerd if none answers (and stops it at the end), takes the real images where
the engine has or can pull them and otherwise builds named stand-ins (images.sh; the
TF Serving stand-in is a TEST FIXTURE), runs each scenario on a fresh copy of the
checkout, removes what it made, and prints one summary line last. Exit 1 on any failure.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import traceback

from tests.compose import scale, scenarios, scenarios_more
from tests.compose.stack import leftovers, run

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
SCENARIOS = {
    "readme": scenarios.readme_path,
    "first-run": scenarios.first_run_as_root_and_training,
    "live-tests": scenarios_more.live_tests_twice,
    "promote": scenarios_more.promote_and_rollback,
    "tls": scenarios_more.tls_override,
    "scale": scale.scale_profile,
    "multi-worker": scale.multi_worker_training,
}


def prepare_engine():
    """install_engine.sh; returns the pid of a dockerd it started, else None."""
    done = subprocess.run(["bash", os.path.join(HERE, "install_engine.sh")], text=True,
                          stdout=subprocess.PIPE, check=True)
    started = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("started")]
    return int(started[0]) if started else None


def prepare_images():
    """images.sh's NAME=value lines; then the pipeline image and, if needed, the stand-in."""
    out = run(["bash", os.path.join(HERE, "images.sh")], timeout=1800).stdout
    images = dict(line.split("=", 1) for line in out.split())
    env = dict(os.environ, **images)
    began = time.time()
    run(["docker", "compose", "build", "pipeline"], cwd=CHECKOUT, env=env, timeout=1800)
    if images["TF_SERVING_IMAGE"].startswith("model-pkg/"):
        run(["docker", "build", "-q", "-t", images["TF_SERVING_IMAGE"], "-f",
             os.path.join(HERE, "images", "tf-serving-standin.Dockerfile"),
             os.path.join(CHECKOUT, "tests")], timeout=1800)
    standins = sorted(v for v in images.values() if v.startswith("model-pkg/"))
    print(f"compose-test: images {json.dumps(images)} (built in {time.time() - began:.0f} s)")
    if standins:
        print("compose-test: STAND-INS, not the real images (no registry reachable): "
              + ", ".join(standins) + "; the TF Serving one is a test fixture")
    return images, standins


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # the clients import TensorFlow
    parser = argparse.ArgumentParser(prog="python -m tests.compose")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=None)
    parser.add_argument("--keep-engine", action="store_true",
                        help="leave a dockerd this run started running")
    parser.add_argument("--train-steps", type=int, default=40,
                        help="steps of the first-run and multi-worker trainings")
    args = parser.parse_args(argv)
    began, results = time.time(), {}
    dockerd = prepare_engine()
    try:
        images, standins = prepare_images()
        ctx = {"checkout": CHECKOUT, "images": images, "leftovers": [],
               "train_steps": args.train_steps}
        for name in args.only or list(SCENARIOS):
            results[name] = _scenario(name, SCENARIOS[name], ctx)
        left = ctx["leftovers"] + leftovers()
        results["down"] = {"ok": not left, "left": left}
        print(f"compose-test: down: {'nothing left' if not left else left}", flush=True)
    finally:
        if dockerd and not args.keep_engine:
            os.kill(dockerd, signal.SIGTERM)
    failed = sorted(k for k, v in results.items() if not v["ok"])
    kind = "stand-in images: " + ", ".join(standins) if standins else "real images"
    print(f"compose-test: {', '.join(failed) or 'no scenario'} failed; "
          f"{time.time() - began:.0f} s; {kind}")
    print(f"compose-test: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def _scenario(name, function, ctx):
    began = time.time()
    print(f"compose-test: {name} ...", flush=True)
    try:
        result = function(ctx)
    except Exception as err:  # noqa: BLE001 - every failure is reported, then the next runs
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(err).__name__}: {str(err)[:300]}"}
    result["seconds"] = round(time.time() - began)
    print(f"compose-test: {name}: {'ok' if result['ok'] else 'FAILED'} {json.dumps(result)}",
          flush=True)
    return result


if __name__ == "__main__":
    sys.exit(main())
