"""Subprocess entry points for the tf.distribute tests (TensorFlow's devices and cluster are
fixed when it starts, so every scenario runs in a fresh process).

    python -m tests.model_pkg.distributed.worker mirrored CONFIG_JSON ROOT       # 2 logical CPUs
    python -m tests.model_pkg.distributed.worker train WORKDIR CONFIG_JSON STRATEGY
    python -m tests.model_pkg.distributed.worker train-2cpu WORKDIR CONFIG_JSON mirrored
    python -m tests.model_pkg.distributed.worker fit           # Keras fit(), $TF_CONFIG

Each prints one JSON line last.
"""

import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""


def split_cpu(count=2):
    """Splits the one CPU into ``count`` logical devices (before TensorFlow starts)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def digest(variables):
    """sha256 over every state variable, by key (the weights a worker holds)."""
    import numpy as np

    h = hashlib.sha256()
    for key, value in sorted(variables.items()):
        h.update(key.encode())
        h.update(np.asarray(value.numpy()).tobytes())
    return h.hexdigest()


def _state(workdir):
    import numpy as np

    from model_pkg import checkpoint

    _, folder, meta = checkpoint.latest_valid(workdir)
    with np.load(os.path.join(folder, "state.npz")) as npz:
        return {k: npz[k] for k in npz.files}, meta


def _train(config, workdir, strategy, log=lambda *_: None):
    """train_and_evaluate; returns (its result, the GAN it trained, as this process holds it)."""
    import model_pkg.gan as gan_module
    from model_pkg.train import train_and_evaluate

    captured, build = {}, gan_module.build_gan

    def keep(*args):
        captured["gan"] = build(*args)
        return captured["gan"]

    gan_module.build_gan = keep   # train_and_evaluate imports it from model_pkg.gan per call
    try:
        result = train_and_evaluate(config, workdir, progress=False, log=log,
                                    strategy=strategy)
    finally:
        gan_module.build_gan = build
    return result, captured["gan"]


def mirrored(config_json, root):
    """Trains on one device and on 2 replicas (logical CPUs); returns what the tests compare:
    both runs' checkpoints and losses, each replica's copy of every variable, the noise."""
    split_cpu()
    from model_pkg import distribute
    from model_pkg.config import TrainConfig
    from model_pkg.gan import build_gan

    config = TrainConfig.from_json(config_json)
    out = {}
    for name in ("default", "mirrored"):
        workdir = os.path.join(root, name)
        _, gan = _train(config, workdir, name)
        state, meta = _state(workdir)
        out[name] = {"state": {k: v.tolist() for k, v in state.items()},
                     "history": meta["history"], "replicas": meta["replicas"]}
    # A Keras variable holds its tf.distribute MirroredVariable in .value; the step is one.
    out["copies"] = {key: [v.numpy().tolist() for v in _mirrored(var).values]
                     for key, var in gan.state_variables().items()}
    strategy = distribute.make_strategy("mirrored")
    gan = build_gan(config, strategy)
    noise = strategy.run(tf_function(lambda: gan.sample_inputs(4)[0][1]))
    out["noise_per_replica"] = [t.numpy().tolist()
                                for t in strategy.experimental_local_results(noise)]
    out["noise_one_device"] = build_gan(config).sample_inputs(8)[0][1].numpy().tolist()
    return out


def _mirrored(variable):
    return variable if hasattr(variable, "values") else variable.value


def tf_function(fn):
    import tensorflow as tf

    return tf.function(fn)


def train(workdir, config_json, strategy):
    """Trains under ``strategy``; the step and the digest of the weights this process holds."""
    from model_pkg.config import TrainConfig

    result, gan = _train(TrainConfig.from_json(config_json), workdir, strategy,
                         log=lambda line: print(line, flush=True))
    return {"step": result.step, "steps_run": result.steps_run,
            "digest": digest(gan.state_variables())}


def fit():
    """Keras 3 fit() under MultiWorkerMirroredStrategy, 2 steps of a tiny model."""
    import keras
    import numpy as np
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
    x = np.ones((16, 4), np.float32)
    history = model.fit(x, x[:, :1], batch_size=8, epochs=1, steps_per_epoch=2, verbose=0)
    return {"loss": history.history["loss"]}


def main(argv):
    command, args = argv[0], argv[1:]
    if command == "mirrored":
        result = mirrored(*args)
    elif command == "train":
        result = train(*args)
    elif command == "train-2cpu":   # mirrored over 2 logical CPUs
        split_cpu()
        result = train(*args)
    else:
        result = fit()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
