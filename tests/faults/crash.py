"""SIGKILL exports and training runs at random moments; check that nothing is half-made.

    python -m tests.faults.crash --exports 20 --trainings 5 [--seed 0]

Exports: after each kill, every numeric version folder must pass manifest
verification; at the end one more export must succeed. Training: after each
kill, every checkpoint folder must verify; the run is resumed until it ends at
the asked step, and its final weights must equal an uninterrupted run's.
Prints a JSON summary. tests/faults/test_crashes.py runs a short version.
"""

import argparse
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
_EXPORT = ("import sys; from model_pkg.export.exporter import export_from_workdir; "
           "export_from_workdir(sys.argv[1], sys.argv[2], log=lambda *_: None, quality=False)")
_TRAIN = ("import sys; from model_pkg.config import TrainConfig; "
          "from model_pkg.train import train_and_evaluate; "
          "train_and_evaluate(TrainConfig.from_json(sys.argv[2]), sys.argv[1], progress=False, "
          "log=lambda *_: None)")


def crash_config():
    """A seed-model run small enough to kill often: 1,500 steps, a checkpoint every 50."""
    from model_pkg import config

    return dataclasses.replace(config.SEED, batch_size=8, steps=1500, checkpoint_every=50,
                               log_every=25, sample_every=500, keep_checkpoints=3)


def _kill_after(args, delay_s):
    """Runs ``python -c`` args, SIGKILLs it after delay_s; True if it was still running."""
    proc = subprocess.Popen([sys.executable, "-c", *args], env=_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay_s)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def kill_exports(workdir, models_dir, trials, rng):
    """``trials`` exports killed at random moments; returns a summary dict."""
    from model_pkg.export.exporter import export_from_workdir
    from model_pkg.export.manifest import verify_version
    from model_pkg.export.publish import list_versions, model_root

    root, killed = model_root(models_dir), 0
    for _ in range(trials):
        killed += _kill_after([_EXPORT, workdir, models_dir], rng.uniform(0.5, 7.0))
        for version in list_versions(root):
            verify_version(os.path.join(root, str(version)))   # raises if half-written
    final = export_from_workdir(workdir, models_dir, log=lambda *_: None, quality=False)
    verify_version(final)
    staging = [n for n in os.listdir(root) if n.startswith(".staging")]
    assert not staging, staging
    return {"export_trials": trials, "killed_mid_export": killed,
            "versions_left_all_verified": len(list_versions(root)), "final_export": final}


def kill_training(workdir, trials, rng, reference_state=None):
    """``trials`` training runs killed at random moments, then resumed to the end."""
    from model_pkg import checkpoint

    cfg = crash_config()
    killed, steps_seen = 0, []
    for _ in range(trials):
        killed += _kill_after([_TRAIN, workdir, cfg.to_json()], rng.uniform(4.0, 9.0))
        for _, folder in checkpoint.list_checkpoints(workdir):
            checkpoint.read_meta(folder)   # raises if damaged or half-written
        steps_seen.append(max((s for s, _ in checkpoint.list_checkpoints(workdir)), default=0))
    subprocess.run([sys.executable, "-c", _TRAIN, workdir, cfg.to_json()], env=_ENV, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last_step, last = checkpoint.list_checkpoints(workdir)[-1]
    assert last_step == cfg.steps, last_step
    summary = {"training_trials": trials, "killed_mid_training": killed,
               "checkpoint_step_after_each_kill": steps_seen, "final_step": last_step}
    if reference_state is not None:
        with np.load(os.path.join(last, "state.npz")) as npz:
            summary["final_weights_equal_uninterrupted_run"] = all(
                np.array_equal(npz[k], reference_state[k]) for k in reference_state)
    return summary


def uninterrupted_state(workdir):
    """The final state.npz of the crash config trained in one go (the reference)."""
    subprocess.run([sys.executable, "-c", _TRAIN, workdir, crash_config().to_json()], env=_ENV,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from model_pkg import checkpoint

    _, last = checkpoint.list_checkpoints(workdir)[-1]
    with np.load(os.path.join(last, "state.npz")) as npz:
        return {k: npz[k] for k in npz.files}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=int, default=20)
    parser.add_argument("--trainings", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    began = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        reference = uninterrupted_state(os.path.join(tmp, "reference"))
        train_summary = kill_training(os.path.join(tmp, "killed"), args.trainings, rng, reference)
        export_summary = kill_exports(os.path.join(tmp, "reference"), os.path.join(tmp, "models"),
                                      args.exports, rng)
    print(json.dumps({**train_summary, **export_summary, "seconds": round(time.time() - began)},
                     indent=2))


if __name__ == "__main__":
    main()
