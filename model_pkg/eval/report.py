"""The entropy diagnostic as a picture, from screens or published versions.

    model-pkg report OUT.png NAME=DIR [NAME=DIR ...]

DIR is a screen's workdir (``model-pkg screen``: its newest measured
checkpoint in screen.json) or a published version (the quality in its manifest).
Draws the evaluator's mean softmax entropy per digit on each run's generated digits
beside the real test digits' (docs/quality.md, "The K+1 bias").
"""

import argparse
import json
import os
import sys


def newest_metrics(folder):
    """The metrics of the newest checkpoint in FOLDER/screen.json, or of the version FOLDER."""
    path = os.path.join(folder, "screen.json")
    try:
        if not os.path.exists(path) and os.path.exists(os.path.join(folder, "manifest.json")):
            path = os.path.join(folder, "manifest.json")
            with open(path) as handle:
                manifest = json.load(handle)
            rows = [manifest["quality"] | {"step": manifest["training"]["step"]}]
        else:
            with open(path) as handle:
                rows = json.load(handle)["checkpoints"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as err:
        raise ValueError(f"{path}: neither a screen report nor a version's manifest "
                         f"({err})") from None
    if not rows or "entropy_generated" not in rows[-1]:
        raise ValueError(f"{path}: has no entropy (measured before the diagnostic existed)")
    return rows[-1]


HELP = "the entropy chart of screens or published versions (docs/quality.md)"


def add_arguments(parser):
    """The arguments of ``model-pkg report`` (and of ``python -m model_pkg.eval.report``)."""
    parser.add_argument("out")
    parser.add_argument("runs", nargs="+", metavar="NAME=DIR")


def run(args, parser):
    """Draws the chart (``parser.error`` on a run it cannot read)."""
    from model_pkg import plots

    generated, real = {}, None
    for item in args.runs:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            parser.error(f"{item!r}: expected NAME=DIR")
        try:
            row = newest_metrics(folder)
        except ValueError as err:
            parser.error(str(err))
        generated[f"{name} (step {row['step']})"] = row["entropy_generated"]
        real = row["entropy_real"]
    plots.save_entropy_chart(args.out, real, generated)
    print(f"wrote {args.out}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model_pkg.eval.report",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


if __name__ == "__main__":
    sys.exit(main())
