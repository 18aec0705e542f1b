"""Training steps/s at 1 and 2 tf.distribute replicas (``model-pkg train --strategy mirrored``).

Each count runs in a fresh process, since TensorFlow fixes its devices at start: on a CPU
machine the one CPU is split into 2 logical devices (both replicas share the same cores,
so 2 replicas cannot be faster here: the row shows the cost of the distributed step); on a
GPU machine it is 1 GPU against that GPU split into 2 logical GPUs. Same global batch,
same seed model, MirroredStrategy in both rows. ``model-pkg bench`` runs this too.

    model-pkg bench distributed-speed [--steps 30] [--batch 64]
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_GPU_SPLIT_MIB = 4096   # each logical GPU's memory: far above what batch 64 needs


def _devices(count):
    """The first ``count`` logical devices: GPUs if any (split in 2 for 2), else the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        tf.config.set_logical_device_configuration(gpus[0], [
            tf.config.LogicalDeviceConfiguration(memory_limit=_GPU_SPLIT_MIB)] * count)
        return [d.name for d in tf.config.list_logical_devices("GPU")][:count]
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    return [d.name for d in tf.config.list_logical_devices("CPU")][:count]


def child(count, steps, batch):
    """Times ``steps`` distributed steps on ``count`` replicas (in this fresh process)."""
    import dataclasses

    import tensorflow as tf

    from model_pkg import config as config_lib
    from model_pkg import data, distribute
    from model_pkg.gan import build_gan

    devices = _devices(count)
    strategy = tf.distribute.MirroredStrategy(devices)
    cfg = dataclasses.replace(config_lib.SEED, batch_size=batch)
    mnist = data.load_mnist()
    gan = build_gan(cfg, strategy)
    batches = distribute.distributed_batches(strategy, mnist.x_train, mnist.y_train, batch,
                                             cfg.random_seed, 0)
    step = distribute.step_function(strategy, gan)
    for _ in range(3):   # trace and warm up
        step(next(batches))["d_loss"].numpy()
    began = time.perf_counter()
    for _ in range(steps):
        out = step(next(batches))
    out["d_loss"].numpy()
    return {"replicas": count, "devices": devices, "global_batch": batch,
            "steps_per_s": round(steps / (time.perf_counter() - began), 2)}


def measure(steps=30, batch=64):
    """[{replicas, devices, global_batch, steps_per_s}] for 1 and 2 replicas, each in a
    subprocess."""
    rows = []
    for count in (1, 2):
        out = subprocess.run([sys.executable, "-m", "model_pkg.benchmarks.distributed_speed",
                              "--child", str(count), "--steps", str(steps), "--batch",
                              str(batch)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


HELP = "training steps/s at 1 and 2 tf.distribute replicas"


def add_arguments(parser):
    """The flags of ``model-pkg bench distributed-speed``."""
    parser.add_argument("--steps", type=int, default=30, help="timed steps per replica count")
    parser.add_argument("--batch", type=int, default=64, help="the global batch")


def run(args, parser):
    if args.steps < 1 or args.batch < 2:
        parser.error("--steps must be >= 1 and --batch >= 2 (one row per replica)")
    print(json.dumps(measure(args.steps, args.batch), indent=2))
    return 0


def main(argv=None):
    """Also what measure() runs in each child process (--child N: N replicas)."""
    parser = argparse.ArgumentParser(prog="python -m model_pkg.benchmarks.distributed_speed",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.batch)))
        return 0
    return run(args, parser)


if __name__ == "__main__":
    raise SystemExit(main())
