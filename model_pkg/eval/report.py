"""The entropy diagnostic as a picture, from screens (``python -m model_pkg.screen``).

    python -m model_pkg.eval.report OUT.png NAME=WORKDIR [NAME=WORKDIR ...]

Reads each WORKDIR/screen.json, takes its newest measured checkpoint and draws the
evaluator's mean softmax entropy per digit on that run's generated digits beside the
real test digits' (docs/quality.md, "The K+1 bias").
"""

import argparse
import json
import os
import sys


def newest_metrics(workdir):
    """The metrics row of the newest checkpoint in WORKDIR/screen.json."""
    path = os.path.join(workdir, "screen.json")
    try:
        with open(path) as handle:
            rows = json.load(handle)["checkpoints"]
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: not a screen report ({err})") from None
    if not rows or "entropy_generated" not in rows[-1]:
        raise ValueError(f"{path}: has no entropy (measured before the diagnostic existed)")
    return rows[-1]


def main(argv=None):
    from model_pkg import plots

    parser = argparse.ArgumentParser(prog="python -m model_pkg.eval.report",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("runs", nargs="+", metavar="NAME=WORKDIR")
    args = parser.parse_args(argv)
    generated, real = {}, None
    for item in args.runs:
        name, sep, workdir = item.partition("=")
        if not sep or not name or not workdir:
            parser.error(f"{item!r}: expected NAME=WORKDIR")
        try:
            row = newest_metrics(workdir)
        except ValueError as err:
            parser.error(str(err))
        generated[f"{name} (step {row['step']})"] = row["entropy_generated"]
        real = row["entropy_real"]
    plots.save_entropy_chart(args.out, real, generated)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
