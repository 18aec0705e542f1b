"""Training speed: the package's step against a plain seed-faithful loop, in one process.

The reference is what a student would write: the same two Keras models, Adam,
one tf.function step fed from NumPy, nothing else. The package runs its own
ConditionalGAN.train_step fed by its tf.data pipeline, exactly as train.py
does. Rounds alternate (ref, pkg, ref, pkg, ...) because these machines drift;
the medians and their ratio are printed, plus one end-to-end
``train_and_evaluate`` (with checkpoints, logs and grids) for the full picture.

    python benchmarks/train_speed.py [--steps 200] [--rounds 3] [--batch 64]
"""

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def reference_step_fn(config):
    """A plain seed-faithful step over fresh Keras models (no package machinery)."""
    import keras
    import tensorflow as tf

    from model_pkg import networks

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--preset", default="seed")
    args = parser.parse_args()

    import dataclasses

    import numpy as np
    import tensorflow as tf

    from model_pkg import config as config_lib, data
    from model_pkg.input_pipeline import image_spec, train_dataset
    from model_pkg.train import build_gan, train_and_evaluate

    cfg = dataclasses.replace(config_lib.get_preset(args.preset), batch_size=args.batch)
    mnist = data.load_mnist()
    x = data.to_model_range(mnist.x_train)
    y = mnist.y_train.astype(np.int32)

    gan = build_gan(cfg)
    pkg_step = tf.function(gan.train_step, input_signature=[
        (image_spec(), tf.TensorSpec([None], tf.int32))])
    batches = iter(train_dataset(mnist.x_train, mnist.y_train, cfg.batch_size, cfg.seed))
    ref_step = reference_step_fn(cfg)
    time_reference(ref_step, x, y, cfg.batch_size, 10)   # trace + warm up
    time_package(pkg_step, batches, 10)

    ref, pkg = [], []
    for _ in range(args.rounds):
        ref.append(time_reference(ref_step, x, y, cfg.batch_size, args.steps))
        pkg.append(time_package(pkg_step, batches, args.steps))

    with tempfile.TemporaryDirectory() as workdir:
        e2e_cfg = dataclasses.replace(cfg, steps=args.steps, checkpoint_every=100)
        e2e = train_and_evaluate(e2e_cfg, workdir, progress=False, log=lambda *_: None)

    result = {
        "batch": cfg.batch_size, "preset": cfg.preset, "steps_per_round": args.steps,
        "reference_steps_per_s": [round(r, 2) for r in ref],
        "package_steps_per_s": [round(p, 2) for p in pkg],
        "ratio_package_over_reference": round(statistics.median(pkg) / statistics.median(ref), 3),
        "end_to_end_steps_per_s (incl. tracing, checkpoints, grids)": e2e.steps_per_second,
        "end_to_end_peak_rss_mib": e2e.peak_rss_mib,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
