"""Training time of each preset's full run, side by side: interleaved rounds, one process.

    model-pkg preset-time [--rounds 5] [--steps 150]

Builds the package's step for the seed preset, the default and the default with each
other objective, times ``--steps`` steps of each in turn per round
(seed, default, ..., seed, default, ... : these machines drift), and prints per preset its
steps/s per round and the time its full run (``config.steps``) takes against the seed's
10,000 steps, from the median of the per-round ratios. The quality target "no longer than
the seed" is read here (docs/quality.md).
"""

import argparse
import dataclasses
import json
import statistics


def candidates():
    """{name: TrainConfig}: the two presets and the default with each other objective."""
    from model_pkg import config as config_lib

    found = {"seed": config_lib.SEED, "default": config_lib.DEFAULT}
    for objective in ("k_plus_1", "2k", "projection_hinge"):
        if objective != config_lib.DEFAULT.objective:
            found[f"default, objective={objective}"] = dataclasses.replace(
                config_lib.DEFAULT, objective=objective)
    return found


def measure(configs, rounds=5, steps=150):
    """{name: {steps_per_s: [per round], full_run_over_seed}} (needs "seed" in configs)."""
    from model_pkg import data
    from model_pkg.benchmarks.train_speed import package_step, time_package

    mnist, steppers = data.load_mnist(), {}
    for name, config in configs.items():
        step, batches = package_step(config, mnist)
        time_package(step, batches, 5)   # trace and warm up
        steppers[name] = (step, batches)
    rates = {name: [] for name in configs}
    for _ in range(rounds):
        for name, (step, batches) in steppers.items():
            rates[name].append(round(time_package(step, batches, steps), 2))
    seed = configs["seed"]
    return {name: {"steps_per_s": rates[name], "steps": config.steps,
                   "full_run_over_seed": round(statistics.median(
                       (config.steps / r) / (seed.steps / s)
                       for r, s in zip(rates[name], rates["seed"])), 3)}
            for name, config in configs.items()}


HELP = "training time of each preset's full run against the seed's (interleaved rounds)"


def add_arguments(parser):
    """The flags of ``model-pkg preset-time`` (and of ``python -m ...preset_time``)."""
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=150, help="timed steps per round")


def run(args, parser):
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be >= 1")
    print(json.dumps(measure(candidates(), args.rounds, args.steps), indent=1))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model_pkg.benchmarks.preset_time",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


if __name__ == "__main__":
    raise SystemExit(main())
