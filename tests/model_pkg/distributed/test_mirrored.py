"""MirroredStrategy on one CPU split into 2 logical devices: real tf.distribute replicas.

Run in a subprocess (the devices are fixed when TensorFlow starts). The one-device run and
the 2-replica run train the seed model 3 steps at the same global batch of 8.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from model_pkg import checkpoint, distribute, train
from model_pkg import config as config_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
WORKER = "tests.model_pkg.distributed.worker"
CONFIG = dataclasses.replace(config_lib.SEED, batch_size=8, steps=3, checkpoint_every=3,
                             log_every=1, sample_every=1000)
# Tolerance against one device. The losses agree to float32 summation order (1e-5 relative).
# A weight may differ by up to Adam's step size per step (learning rate 2e-4): where a
# gradient is ~0 (a conv bias feeding BatchNorm) Adam divides noise by noise, and the
# summation order decides its sign. So weights: within 2 * lr * steps; the rest far tighter.
WEIGHT_ATOL = 2 * CONFIG.d_learning_rate * CONFIG.steps


def run_worker(*args, timeout=420):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, "-m", WORKER, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirrored")
    return root, run_worker("mirrored", CONFIG.to_json(), str(root))


def test_the_run_had_two_replicas(runs):
    _, out = runs
    assert out["default"]["replicas"] == 1 and out["mirrored"]["replicas"] == 2


def test_replicas_hold_identical_variables_after_k_steps(runs):
    copies = runs[1]["copies"]
    assert len(copies) > 50
    for key, (first, second) in copies.items():
        np.testing.assert_array_equal(first, second, err_msg=key)


def test_two_replicas_match_one_device_at_the_same_global_batch(runs):
    one, two = runs[1]["default"], runs[1]["mirrored"]
    assert one["state"].keys() == two["state"].keys()   # checkpoints are interchangeable
    for a, b in zip(one["history"], two["history"]):
        for name in ("d_loss", "g_loss"):
            assert b[name] == pytest.approx(a[name], rel=1e-5), (a["step"], name)
        assert (a["d_real_accuracy"], a["fake_share"]) == (b["d_real_accuracy"],
                                                           b["fake_share"])
    for key in one["state"]:
        if key.startswith(("generator/", "discriminator/")):
            np.testing.assert_allclose(two["state"][key], one["state"][key], rtol=0,
                                       atol=WEIGHT_ATOL, err_msg=key)
    assert two["state"]["gan/conditional_gan/step"] == CONFIG.steps


def test_replicas_draw_different_noise_that_together_is_the_one_device_noise(runs):
    out = runs[1]
    first, second = (np.array(n) for n in out["noise_per_replica"])
    assert first.shape == second.shape == (4, 100) and not np.allclose(first, second)
    np.testing.assert_array_equal(np.concatenate([first, second]), out["noise_one_device"])


def test_a_mirrored_checkpoint_exports_and_passes_parity(runs, tmp_path):
    from model_pkg.export.exporter import export_from_workdir
    from model_pkg.export.manifest import verify_version

    version = export_from_workdir(str(runs[0] / "mirrored"), str(tmp_path), log=lambda *_: None,
                                  quality=False)
    manifest = verify_version(version)
    assert manifest["parity"]["passed"] and manifest["training"]["step"] == CONFIG.steps


@pytest.mark.parametrize("objective", ["projection_hinge", "2k"])
def test_the_default_preset_in_bfloat16_trains_on_two_replicas(objective, tmp_path):
    """The default preset's bfloat16 and its objectives (projection's Embedding gradient is
    sparse) under MirroredStrategy: 2 steps, finite losses, a chief's checkpoint of 2 replicas."""
    config = dataclasses.replace(config_lib.DEFAULT, objective=objective, batch_size=8,
                                 compute_dtype="bfloat16",   # "auto" may be float32 here
                                 steps=2, checkpoint_every=2, log_every=1, sample_every=2)
    out = run_worker("train-2cpu", str(tmp_path), config.to_json(), "mirrored")
    assert out["step"] == 2
    _, _, meta = checkpoint.latest_valid(str(tmp_path))
    assert meta["replicas"] == 2 and len(meta["history"]) == 2
    assert np.isfinite([[h["d_loss"], h["g_loss"]] for h in meta["history"]]).all()


def test_conditional_batchnorm_trains_synchronized_on_two_replicas(tmp_path):
    """The default preset's class-conditional, fused BatchNorm in G under MirroredStrategy (the
    inner BatchNorms synchronized, the gamma and beta tables' gradients sparse)."""
    assert config_lib.DEFAULT.g_conditional_bn
    config = dataclasses.replace(config_lib.DEFAULT, batch_size=8,
                                 steps=2, checkpoint_every=2, log_every=1, sample_every=2)
    out = run_worker("train-2cpu", str(tmp_path), config.to_json(), "mirrored")
    assert out["step"] == 2
    _, _, meta = checkpoint.latest_valid(str(tmp_path))
    assert meta["replicas"] == 2
    assert np.isfinite([[h["d_loss"], h["g_loss"]] for h in meta["history"]]).all()


def test_a_global_batch_that_does_not_split_is_refused():
    with pytest.raises(ValueError, match=r"batch_size=9 \(the global batch\) does not split "
                                         r"over 2 replicas"):
        distribute.check_batch(9, 2)


def test_unknown_strategy_and_missing_tf_config_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="--strategy 'tpu': must be one of"):
        distribute.make_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match=r"multi-worker needs \$TF_CONFIG"):
        distribute.make_strategy("multi-worker")


def test_replica_arithmetic_is_untouched_on_one_device_and_refused_outside_a_replica():
    import tensorflow as tf

    loss = tf.constant(2.5)
    assert distribute.share_of_global_mean(loss) is loss
    assert distribute.global_loss_checked(loss, "d_loss").numpy() == 2.5
    assert distribute.own_rows(lambda rows: (tf.range(rows),), 3)[0].numpy().tolist() == [0, 1, 2]
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():   # the cross-replica context
        with pytest.raises(RuntimeError, match="must run in a replica context"):
            distribute.share_of_global_mean(loss)


def test_a_non_finite_loss_stops_training_before_any_update(tiny_config, tmp_path, monkeypatch):
    from model_pkg.objectives.k_plus_1 import KPlusOne

    real = KPlusOne.d_loss
    monkeypatch.setattr(KPlusOne, "d_loss",
                        lambda self, *args: real(self, *args) * float("nan"))
    with pytest.raises(distribute.NonFiniteLoss, match=r"step 1: d_loss is NaN or Inf; "
                                                       r"stopped before applying it"):
        train.train_and_evaluate(tiny_config, str(tmp_path), progress=False,
                                 log=lambda *_: None)
    assert not (tmp_path / "checkpoints").exists()
