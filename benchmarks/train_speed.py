"""Training speed: the package's step against a plain seed-faithful loop, in one process.

The reference is what a student would write: the same two Keras models, Adam,
one tf.function step fed from NumPy, nothing else. The package runs its own
ConditionalGAN.train_step fed by its tf.data pipeline, exactly as train.py
does. Rounds alternate (ref, pkg, ref, pkg, ...) because these machines drift;
the medians and their ratio are printed. ``model-pkg bench`` runs this too.

    model-pkg bench train-speed [--steps 200] [--rounds 3] [--batch 64] [--preset seed]
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def reference_step_fn(config):
    """A plain seed-faithful step over fresh Keras models (no package machinery).

    Always float32, the K+1 objective and Keras' own layers, whatever ``config`` says:
    the baseline is the seed's loop as written.
    """
    import dataclasses

    import keras
    import tensorflow as tf

    from model_pkg import networks

    config = dataclasses.replace(config, compute_dtype="float32", objective="k_plus_1",
                                 fused_batchnorm=False, phase_upsampling=False)
    gen, disc = networks.build_generator(config), networks.build_discriminator(config)
    g_opt = keras.optimizers.Adam(config.g_learning_rate, beta_1=config.adam_beta1)
    d_opt = keras.optimizers.Adam(config.d_learning_rate, beta_1=config.adam_beta1)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(images, labels):
        n = tf.shape(images)[0]
        z = tf.random.normal([n, 100])
        y = tf.random.uniform([n], 0, 10, dtype=tf.int32)
        with tf.GradientTape() as tape:
            fake = gen([y, z], training=True)
            d_loss = (ce(labels, disc(images, training=True)) +
                      ce(tf.fill([n], 10), disc(fake, training=True)))
        d_opt.apply(tape.gradient(d_loss, disc.trainable_variables), disc.trainable_variables)
        with tf.GradientTape() as tape:
            g_loss = ce(y, disc(gen([y, z], training=True), training=True))
        g_opt.apply(tape.gradient(g_loss, gen.trainable_variables), gen.trainable_variables)
        return d_loss, g_loss

    return step


def time_reference(step, x, y, batch, steps):
    import numpy as np

    rng = np.random.default_rng(0)
    began = time.perf_counter()
    for _ in range(steps):
        idx = rng.integers(0, len(x), batch)
        out = step(x[idx], y[idx])
    out[0].numpy()   # wait for the last step
    return steps / (time.perf_counter() - began)


def time_package(step_fn, batches, steps):
    began = time.perf_counter()
    for _ in range(steps):
        out = step_fn(next(batches))
    out["d_loss"].numpy()
    return steps / (time.perf_counter() - began)


def package_step(config, mnist):
    """(the package's traced train_step, an iterator of its tf.data batches), as train.py
    builds them, for ``config`` on the ``mnist`` training digits."""
    import tensorflow as tf

    from model_pkg.gan import build_gan
    from model_pkg.input_pipeline import image_spec, train_dataset

    step = tf.function(build_gan(config).train_step, input_signature=[
        (image_spec(), tf.TensorSpec([None], tf.int32))])
    return step, iter(train_dataset(mnist.x_train, mnist.y_train, config.batch_size,
                                    config.random_seed))


def measure_training(preset="seed", steps=200, rounds=3, batch=64, overrides=None):
    """Interleaved rounds of the reference loop and the package's step, same process.

    Returns per-round steps/s of both and the median ratio package / reference.
    """
    import dataclasses

    import numpy as np

    from model_pkg import config as config_lib
    from model_pkg import data

    cfg = dataclasses.replace(config_lib.get_preset(preset), batch_size=batch,
                              **(overrides or {}))
    mnist = data.load_mnist()
    x = data.to_model_range(mnist.x_train)
    y = mnist.y_train.astype(np.int32)
    pkg_step, batches = package_step(cfg, mnist)
    ref_step = reference_step_fn(cfg)
    time_reference(ref_step, x, y, cfg.batch_size, 10)   # trace + warm up
    time_package(pkg_step, batches, 10)
    ref, pkg = [], []
    for _ in range(rounds):
        ref.append(time_reference(ref_step, x, y, cfg.batch_size, steps))
        pkg.append(time_package(pkg_step, batches, steps))
    return {"preset": preset, "batch": batch, "steps_per_round": steps,
            "reference_steps_per_s": [round(r, 2) for r in ref],
            "package_steps_per_s": [round(p, 2) for p in pkg],
            "ratio_package_over_reference":
                round(statistics.median(pkg) / statistics.median(ref), 3)}


HELP = "the package's training step against a plain seed-faithful loop"


def add_arguments(parser):
    """The flags of ``model-pkg bench train-speed``."""
    parser.add_argument("--steps", type=int, default=200, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--preset", default="seed")


def run(args, parser):
    if min(args.steps, args.rounds, args.batch) < 1:
        parser.error("--steps, --rounds and --batch must be >= 1")
    print(json.dumps(measure_training(args.preset, args.steps, args.rounds, args.batch), indent=2))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model_pkg.benchmarks.train_speed",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


if __name__ == "__main__":
    raise SystemExit(main())
