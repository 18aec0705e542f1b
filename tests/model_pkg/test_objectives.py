"""The objectives (config.objective): heads, losses at known points, one step end to end."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from model_pkg import checkpoint, networks
from model_pkg import config as config_lib
from model_pkg.objectives import k_plus_1, projection_hinge, two_k
from tests.model_pkg.test_train import _assert_same_state, _run, _state

TRUNK = 440_128   # the seed discriminator without its 1,419-parameter K+1 head


@pytest.mark.parametrize("objective, head, outputs", [
    ("k_plus_1", 1_419, (11,)), ("2k", 2_580, (20,)), ("projection_hinge", 129 + 1_280, ())])
def test_each_head_adds_only_its_own_parameters(objective, head, outputs):
    config = dataclasses.replace(config_lib.SEED, objective=objective)
    disc = networks.build_discriminator(config)
    assert disc.count_params() == TRUNK + head
    images = np.zeros((3, 28, 28, 1), np.float32)
    inputs = (images, np.array([0, 4, 9], np.int32)) if objective == "projection_hinge" \
        else images
    assert disc(inputs, training=False).shape == (3, *outputs)


def test_projection_score_is_psi_plus_the_label_embedding_dot_features():
    disc = networks.build_discriminator(
        dataclasses.replace(config_lib.SEED, objective="projection_hinge"))
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    labels = np.array([1, 2, 3, 1], np.int32)
    phi = tf.keras.Model(disc.inputs[0], disc.get_layer("dense_act").output)(images).numpy()
    psi_w, psi_b = disc.get_layer("psi").get_weights()
    embed = disc.get_layer("embed").get_weights()[0]
    expected = phi @ psi_w[:, 0] + psi_b[0] + (embed[labels] * phi).sum(-1)
    np.testing.assert_allclose(disc((images, labels), training=False).numpy(), expected,
                               rtol=1e-5, atol=1e-5)


def test_2k_generator_loss_ignores_the_other_classes_unlike_k_plus_1():
    """2K's G loss reads only l[y] and l[10+y]: no pull towards where class y is certain."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 20)).astype(np.float32)
    labels = np.array([0, 3, 9, 3, 5], np.int32)
    loss = two_k.generator_loss(tf.constant(logits), tf.constant(labels)).numpy()
    pair = logits[np.arange(5), labels + 10] - logits[np.arange(5), labels]
    assert loss == pytest.approx(np.mean(np.log1p(np.exp(pair))), rel=1e-6)
    others = logits.copy()
    others[:, [c for c in range(10) if c not in labels]] += 5.0   # other digits more likely
    assert two_k.generator_loss(tf.constant(others), tf.constant(labels)).numpy() == \
        pytest.approx(loss, rel=1e-6)
    kp1 = k_plus_1.generator_loss(tf.constant(logits[:, :11]), tf.constant(labels)).numpy()
    kp1_others = k_plus_1.generator_loss(tf.constant(others[:, :11]), tf.constant(labels)).numpy()
    assert kp1_others > kp1 + 1.0


def test_2k_discriminator_sends_generated_pairs_to_10_plus_y():
    labels = tf.constant([2, 7], tf.int32)
    right = np.full((2, 20), -20.0, np.float32)
    right[[0, 1], [2, 7]] = 20.0
    fake_right = np.full((2, 20), -20.0, np.float32)
    fake_right[[0, 1], [12, 17]] = 20.0
    good = two_k.discriminator_loss(right, labels, fake_right, labels).numpy()
    swapped = two_k.discriminator_loss(fake_right, labels, right, labels).numpy()
    assert good < 1e-6 and swapped > 50


def test_hinge_losses_at_known_points():
    real, fake = tf.constant([2.0, 0.5, -1.0]), tf.constant([-2.0, 0.0, 1.0])
    # relu(1 - real) = [0, .5, 2] -> 2.5/3; relu(1 + fake) = [0, 1, 2] -> 1
    assert projection_hinge.discriminator_loss(real, fake).numpy() == pytest.approx(2.5 / 3 + 1)
    assert projection_hinge.generator_loss(fake).numpy() == pytest.approx(1 / 3)


@pytest.mark.parametrize("objective", ["2k", "projection_hinge"])
def test_a_tiny_run_of_each_objective_trains_and_resumes(objective, tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, objective=objective)
    _run(config, tmp_path / "straight")
    history = checkpoint.latest_valid(str(tmp_path / "straight"))[2]["history"]
    assert len(history) == 4
    assert np.isfinite([[h["d_loss"], h["g_loss"]] for h in history]).all()
    assert all(0 <= h["fake_share"] <= 1 and 0 <= h["d_real_accuracy"] <= 1 for h in history)
    _run(dataclasses.replace(config, steps=2), tmp_path / "resumed")
    _run(config, tmp_path / "resumed")
    _assert_same_state(_state(tmp_path / "straight", 4), _state(tmp_path / "resumed", 4))


def test_an_unknown_objective_is_refused_by_name():
    with pytest.raises(ValueError, match=r"config.objective='wgan': must be one of"):
        dataclasses.replace(config_lib.SEED, objective="wgan")
