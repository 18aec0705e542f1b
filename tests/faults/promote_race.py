"""Concurrent step-1 promotes on one models.config; counts the updates lost.

    python -m tests.faults.promote_race [--processes 8] [--promotes 10] [--trials 5]

Each process promotes its own versions ("canary", step 1: add to the served
versions), all starting together; afterwards every version must be in the
file. Prints a JSON summary. tests/serving/test_configs.py runs a short version.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import tempfile

from model_pkg.serving import config_files


def _promote_many(path, versions, start):
    start.wait()
    for version in versions:
        config_files.promote("canary", version, path)


def trial(processes, promotes):
    """Versions missing from models.config after ``processes`` x ``promotes`` promotes."""
    folder = tempfile.mkdtemp()
    try:
        path = os.path.join(folder, "models.config")
        shutil.copy(config_files.MODELS_CONFIG, path)
        ctx = multiprocessing.get_context("fork")
        start = ctx.Event()
        workers = [ctx.Process(target=_promote_many, args=(
            path, range(2 + i * promotes, 2 + (i + 1) * promotes), start))
            for i in range(processes)]
        for worker in workers:
            worker.start()
        start.set()
        for worker in workers:
            worker.join()
        _, model = config_files.load_models_config(path)
        wanted = set(range(1, 2 + processes * promotes))
        return len(wanted - set(model.model_version_policy.specific.versions))
    finally:
        shutil.rmtree(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--promotes", type=int, default=10)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args(argv)
    lost = [trial(args.processes, args.promotes) for _ in range(args.trials)]
    print(json.dumps({"processes": args.processes, "promotes_each": args.promotes,
                      "trials": args.trials, "lost_per_trial": lost, "lost": sum(lost),
                      "updates": args.processes * args.promotes * args.trials}))
    return 0 if not any(lost) else 1


if __name__ == "__main__":
    raise SystemExit(main())
