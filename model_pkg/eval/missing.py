"""Which styles of real handwriting a generator misses: the coverage metric as a picture.

    model-pkg missing OUT.png WORKDIR [--per-label 6]

Coverage (metrics.coverage) counts a real test digit as covered when a generated digit lies
inside its 5-nearest-real-neighbour radius in the evaluator's feature space. This draws, per
label, real test digits outside that radius, spread from the farthest out (distance to the
nearest generated digit over the radius; 1 is the edge) to the edge, each beside that
nearest generated digit, with the label's uncovered share. WORKDIR: a training or screen
workdir (its newest checkpoint).
"""

import argparse
import sys

import numpy as np

from model_pkg import contract


def uncovered(real, fake, k=5, chunk=2_000):
    """For features real [R, D] and fake [G, D]: (how far out [R] = nearest fake distance /
    k-NN radius, 1 and below covered; index of the nearest fake [R])."""
    from model_pkg.eval.metrics import sq_dists

    real, fake = real.astype(np.float64), fake.astype(np.float64)
    out, nearest = np.empty(len(real)), np.empty(len(real), np.int64)
    for start in range(0, len(real), chunk):
        block = slice(start, start + chunk)
        radius = np.sort(sq_dists(real[block], real), axis=1)[:, k]   # k+1: itself first
        to_fake = sq_dists(real[block], fake)
        nearest[block] = to_fake.argmin(axis=1)
        out[block] = np.sqrt(to_fake.min(axis=1) / np.maximum(radius, 1e-12))
    return out, nearest


def missing_styles(real_images, real_labels, real_features, fake_images, fake_features,
                   per_label=6):
    """{"pairs": float [10, per_label, 2, 28, 28] (real digit, nearest generated digit),
    "how_far": [10, per_label], "uncovered_share": [10]}.

    Per label, ``per_label`` of its uncovered real digits, spread evenly from the farthest
    out to the nearest the edge (the farthest alone are mostly typical digits in dense
    regions, whose radius is tiny); blank pairs (how_far 0) where fewer are uncovered.
    """
    how_far, nearest = uncovered(real_features, fake_features)
    pairs = np.zeros((contract.NUM_CLASSES, per_label, 2, 28, 28), np.float32)
    far = np.zeros((contract.NUM_CLASSES, per_label))
    share = []
    for digit in range(contract.NUM_CLASSES):
        mine = np.flatnonzero(real_labels == digit)
        share.append(float(np.mean(how_far[mine] > 1)))
        out = mine[how_far[mine] > 1]
        out = out[np.argsort(-how_far[out], kind="stable")]
        picks = np.unique(np.linspace(0, len(out) - 1, per_label).round().astype(int))
        for j, i in enumerate(out[picks] if len(out) else []):
            pairs[digit, j, 0] = real_images[i].reshape(28, 28)
            pairs[digit, j, 1] = fake_images[nearest[i]].reshape(28, 28)
            far[digit, j] = how_far[i]
    return {"pairs": pairs, "how_far": far, "uncovered_share": share}


def measure(generator, per_label=6):
    """missing_styles of a Keras generator (tanh output) on the evaluation inputs."""
    from model_pkg import data
    from model_pkg.eval import classifier as evaluator
    from model_pkg.eval import keras_generate, metrics
    from model_pkg.paths import evaluator_dir

    mnist = data.load_mnist()
    classifier, _ = evaluator.load_or_train(evaluator_dir(), mnist, log=lambda *_: None)
    real = evaluator.to_unit(mnist.x_test)
    _, real_features, _ = evaluator.predict(classifier, real)
    labels, noise = metrics.eval_inputs()
    fake = metrics.generate_all(keras_generate(generator), labels, noise)
    _, fake_features, _ = evaluator.predict(classifier, fake)
    return missing_styles(real, mnist.y_test, real_features, fake, fake_features, per_label)


def newest_generator(workdir):
    """(generator with the newest valid checkpoint of ``workdir`` restored, step)."""
    from model_pkg import checkpoint
    from model_pkg.config import load_saved_config
    from model_pkg.gan import build_gan

    config, found = load_saved_config(workdir), checkpoint.latest_valid(workdir)
    if config is None or found is None:
        raise ValueError(f"{workdir}: holds no training run with a checkpoint")
    gan = build_gan(config)
    checkpoint.restore(found[1], gan.state_variables())
    return gan.generator, found[0]


HELP = "the real digits no generated digit is near, per label (docs/quality.md)"


def add_arguments(parser):
    """The arguments of ``model-pkg missing`` (and of ``python -m model_pkg.eval.missing``)."""
    parser.add_argument("out")
    parser.add_argument("workdir")
    parser.add_argument("--per-label", type=int, default=6)


def run(args, parser):
    from model_pkg import plots

    if not 1 <= args.per_label <= 20:
        parser.error(f"--per-label={args.per_label}: must be an integer in 1..20")
    try:
        generator, step = newest_generator(args.workdir)
    except ValueError as err:
        parser.error(str(err))
    found = measure(generator, args.per_label)
    plots.save_missing_styles(args.out, found, f"{args.workdir}, step {step}")
    shares = ", ".join(f"{d}: {s:.1%}" for d, s in enumerate(found["uncovered_share"]))
    print(f"wrote {args.out}; real test digits uncovered per label: {shares}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model_pkg.eval.missing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


if __name__ == "__main__":
    sys.exit(main())
