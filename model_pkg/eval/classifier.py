"""The quality evaluator: an MNIST classifier trained by the package, never the GAN's D.

Trained on the 60,000 training digits only and checked on the 10,000 test
digits (test accuracy >= MIN_TEST_ACCURACY required). Its 128-wide penultimate
layer gives the features for the Fréchet distance and coverage. Cached under
``artifacts/evaluator/`` with the sha256 of its weights; a cache that fails its
checksum is retrained.
"""

import dataclasses
import json
import os

import numpy as np

from model_pkg.config import with_new_names
from model_pkg.fileio import atomic_write_json, sha256_file

MIN_TEST_ACCURACY = 0.992
_WEIGHTS, _META = "classifier.weights.npz", "classifier.json"


@dataclasses.dataclass(frozen=True)
class EvaluatorConfig:
    epochs: int = 3            # enough for the required test accuracy (docs/quality.md)
    batch_size: int = 128
    learning_rate: float = 2e-3  # Adam, decayed to 0 along a cosine over the epochs
    random_seed: int = 0
    feature_dim: int = 128     # width of the penultimate layer (the feature space)


def build_classifier(config):
    """image float32 [N,28,28,1] in [0,1] -> (logits [N,10], features [N,128])."""
    import keras
    from keras import layers

    image = keras.Input((28, 28, 1), name="image")
    x = image
    for filters in (32, 64):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(config.feature_dim, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    features = layers.ReLU(name="features")(x)
    logits = layers.Dense(10, name="logits")(layers.Dropout(0.3)(features))
    return keras.Model(image, [logits, features], name="evaluator")


def train_classifier(x, y, config, x_test=None, y_test=None):
    """Trains a fresh classifier on images x (float [N,28,28,1] in [0,1]) and labels y.

    Returns (model, test accuracy or None).
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.random_seed)
    model = build_classifier(config)
    steps = config.epochs * (-(-len(x) // config.batch_size))
    optimizer = keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(config.learning_rate, steps))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            logits, _ = model(images, training=True)
            loss = loss_fn(labels, logits)
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    data = (tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y.astype(np.int32)))
            .shuffle(len(x), seed=config.random_seed).batch(config.batch_size)
            .prefetch(tf.data.AUTOTUNE))
    for _ in range(config.epochs):
        for images, labels in data:
            step(images, labels)
    accuracy = None if x_test is None else float(np.mean(predict(model, x_test)[0] == y_test))
    return model, accuracy


def predict(model, images, batch_size=1000):
    """(predicted labels int [N], features float32 [N,128], softmax entropy float [N] in
    nats) for images in [0, 1]."""
    labels, features, entropy = [], [], []
    for start in range(0, len(images), batch_size):
        logits, feats = model(images[start:start + batch_size].astype(np.float32), training=False)
        logits = logits.numpy().astype(np.float64)
        labels.append(np.argmax(logits, axis=-1))
        features.append(feats.numpy())
        log_p = logits - logits.max(-1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
        entropy.append(-(np.exp(log_p) * log_p).sum(-1))
    return np.concatenate(labels), np.concatenate(features), np.concatenate(entropy)


def to_unit(images_uint8):
    """uint8 [N,28,28] -> float32 [N,28,28,1] in [0, 1] (the contract's pixel range)."""
    return images_uint8[..., None].astype(np.float32) / 255.0


def load_or_train(cache_dir, mnist, config=EvaluatorConfig(), log=print):
    """The cached evaluator if its checksum and data match, else a newly trained one."""
    weights, meta_path = os.path.join(cache_dir, _WEIGHTS), os.path.join(cache_dir, _META)
    model = build_classifier(config)
    if os.path.exists(meta_path) and os.path.exists(weights):
        with open(meta_path) as handle:
            meta = json.load(handle)
        if (meta.get("sha256") == sha256_file(weights) and meta.get("data_sha256") == mnist.sha256
                and with_new_names(dict(meta.get("config") or {}), meta_path)
                == dataclasses.asdict(config)):
            with np.load(weights) as npz:
                model.set_weights([npz[f"w{i}"] for i in range(len(npz.files))])
            return model, meta
        log(f"evaluator cache {cache_dir} does not match (checksum, data or config); retraining")
    log("training the evaluator classifier on the 60,000 training digits ...")
    model, accuracy = train_classifier(to_unit(mnist.x_train), mnist.y_train, config,
                                       to_unit(mnist.x_test), mnist.y_test)
    if accuracy < MIN_TEST_ACCURACY:
        raise RuntimeError(f"evaluator reached {accuracy:.4f} on the test digits, "
                           f"below the required {MIN_TEST_ACCURACY}")
    os.makedirs(cache_dir, exist_ok=True)
    np.savez(weights + ".tmp.npz", **{f"w{i}": w for i, w in enumerate(model.get_weights())})
    os.replace(weights + ".tmp.npz", weights)
    meta = {"sha256": sha256_file(weights), "test_accuracy": accuracy,
            "data_sha256": mnist.sha256, "config": dataclasses.asdict(config)}
    atomic_write_json(meta_path, meta)
    return model, meta
