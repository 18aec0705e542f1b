"""Quality screen: train a candidate config briefly and measure each of its checkpoints.

    model-pkg screen WORKDIR [--steps 5000] [--every 2500] [--preset default]
                             [--set KEY=VALUE ...] [--threads N] [--cas]

Trains the preset with the overrides in WORKDIR (resume-aware, as ``model-pkg train``),
keeping a checkpoint every ``--every`` steps, then prints one JSON line per checkpoint with
the quality metrics of its generator (``model_pkg.eval.measure_quality``, as the export gate
and ``model-pkg evaluate`` use; ``--cas`` adds the CAS) and writes them all to
WORKDIR/screen.json. A finished run is only measured again, so ``--cas`` can follow later.
The screening tables in docs/quality.md came from it. ``--threads 1`` lets two screens
share 2 cores (more throughput than one screen on both).
"""

import argparse
import dataclasses
import json
import os
import sys


def screen(workdir, steps, every, preset="default", overrides=None, log=print, cas=False):
    """Trains, then returns [{step, label_accuracy, worst_label_accuracy, frechet_ratio,
    coverage_ratio, ...}] for every checkpoint in ``workdir``, oldest first; with ``cas``
    also the classification accuracy score (cas, cas_gap_points) of each."""
    from model_pkg import checkpoint
    from model_pkg import config as config_lib
    from model_pkg.gan import build_gan
    from model_pkg.train import train_and_evaluate

    fields = dict(overrides or {}) | {
        "steps": steps, "checkpoint_every": every, "sample_every": every,
        "keep_checkpoints": steps // every + 1}   # keep every measured checkpoint
    config = dataclasses.replace(config_lib.get_preset(preset), **fields)
    result = train_and_evaluate(config, workdir, progress=False, log=lambda *_: None)
    measure = _measurer(cas)
    rows = []
    for step, folder in checkpoint.list_checkpoints(workdir):
        gan = build_gan(config)
        checkpoint.restore(folder, gan.state_variables())
        row = {"step": step} | measure(gan.generator)
        log(json.dumps(row))
        rows.append(row)
    saved = config_lib.load_saved_config(workdir)   # compute_dtype "auto" settled
    report = {"config": saved.to_dict(), "train_wall_seconds": result.wall_seconds,
              "checkpoints": rows}
    with open(os.path.join(workdir, "screen.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    return rows


def _measurer(cas=False):
    """generator -> its quality metrics (rounded), as the export gate measures them, with CAS
    when asked (model_pkg.eval.measure_quality keeps the real digits' reference between calls)."""
    from model_pkg.eval import keras_generate, measure_quality

    def measure(generator):
        metrics = measure_quality(keras_generate(generator), cas=cas, log=lambda *_: None)
        metrics.pop("evaluator")
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}

    return measure


HELP = "experiments: train a config briefly, measure every K-th checkpoint"


def add_arguments(parser):
    """The flags of ``model-pkg screen`` (and of ``python -m model_pkg.screen``)."""
    parser.add_argument("workdir")
    parser.add_argument("--steps", type=int, default=5_000)
    parser.add_argument("--every", type=int, default=2_500,
                        help="steps between measured checkpoints")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: all)")
    parser.add_argument("--cas", action="store_true",
                        help="also the CAS of each checkpoint (a classifier trained on 60,000 "
                             "generated digits; measured cost in docs/quality.md)")


def run(args, parser):
    """Checks the flags (``parser.error`` on a bad one), then screens."""
    from model_pkg.config import parse_overrides

    for name in ("steps", "every", "threads"):
        if getattr(args, name) < (0 if name == "threads" else 1):
            parser.error(f"--{name}={getattr(args, name)}: must be an integer >= "
                         f"{0 if name == 'threads' else 1}")
    try:
        overrides = parse_overrides(args.set)
    except ValueError as err:
        parser.error(str(err))
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    screen(args.workdir, args.steps, args.every, args.preset, overrides, cas=args.cas)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model_pkg.screen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


if __name__ == "__main__":
    sys.exit(main())
