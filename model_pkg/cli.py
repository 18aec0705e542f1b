"""The ``model-pkg`` command line: a thin layer over the library.

Each subcommand parses its flags, calls one library function and prints what
it made. Errors a user can fix (bad flags, missing data, a config clash) exit
with status 2 and one clear line, not a traceback.
"""

import argparse
import json
import os
import sys

from model_pkg.config import PRESETS

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PIPELINE_WORKDIR = os.path.join(PROJECT_ROOT, "artifacts", "train", "default")


def _quiet_tensorflow():
    # TF's C++ INFO/WARNING lines bury the progress bar; errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _add_train_flags(parser):
    parser.add_argument("--steps", type=int, help="total steps to reach (extends a finished run)")
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="config preset (default: the workdir's own, else 'default')")
    parser.add_argument("--seed", type=int, help="random seed (weights, data order, noise)")
    parser.add_argument("--batch-size", type=int, help="override the preset's batch size")
    parser.add_argument("--data", help="MNIST: a Keras-layout .npz or a folder of IDX .gz files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser():
    parser = argparse.ArgumentParser(prog="model-pkg", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train or resume a GAN in a workdir")
    train.add_argument("--workdir", required=True, help="checkpoints, samples, logs go here")
    _add_train_flags(train)

    pipeline = sub.add_parser("pipeline", help="the main job on embedded defaults")
    pipeline.add_argument("--workdir", default=DEFAULT_PIPELINE_WORKDIR,
                          help="training workdir (default: %(default)s)")
    _add_train_flags(pipeline)
    return parser


def cmd_train(args):
    from model_pkg.train import resolve_config, train_and_evaluate

    config = resolve_config(args.workdir, preset=args.preset, steps=args.steps,
                            seed=args.seed, batch_size=args.batch_size)
    result = train_and_evaluate(config, args.workdir, data_path=args.data,
                                progress=not args.no_progress)
    print(json.dumps({"workdir": os.path.abspath(args.workdir), **vars(result)}, indent=2))
    return 0


def cmd_pipeline(args):
    # Training is the whole pipeline until export and parity land (issue 3).
    return cmd_train(args)


_COMMANDS = {"train": cmd_train, "pipeline": cmd_pipeline}


def main(argv=None):
    args = build_parser().parse_args(argv)
    _quiet_tensorflow()
    from model_pkg.checkpoint import CheckpointError
    from model_pkg.data import DataError

    try:
        return _COMMANDS[args.command](args)
    except (ValueError, DataError, CheckpointError, RuntimeError) as err:
        print(f"model-pkg {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
