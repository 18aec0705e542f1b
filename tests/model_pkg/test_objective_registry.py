"""The objective registry (model_pkg/objectives/): its order, each entry's head, and a new
objective added by registration alone (this file's toy), with no other file edited."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from model_pkg import checkpoint, networks, objectives
from model_pkg import config as config_lib
from model_pkg.objectives.base import Objective, share
from model_pkg.train import train_and_evaluate

# Each registered objective's D: (output shape per row, whether D also takes the label).
# A new entry must be pinned here too.
HEADS = {"k_plus_1": ((11,), False), "2k": ((20,), False), "projection_hinge": ((), True)}


class LeastSquares(Objective):
    """The toy: an unconditional least-squares GAN (Mao et al. 2017) on a 1-logit head.
    D pushes real outputs to 1 and generated ones to 0; G pushes its outputs to 1."""

    name = "toy_least_squares"
    outputs = 1

    def d_loss(self, real_out, real_labels, fake_out, fake_labels):
        return tf.reduce_mean(tf.square(real_out - 1.0)) + tf.reduce_mean(tf.square(fake_out))

    def g_loss(self, fake_out, labels):
        return tf.reduce_mean(tf.square(fake_out - 1.0))

    def real_accuracy(self, real_out, labels):
        return share(real_out[:, 0] > 0.5)

    def fake_share(self, fake_out, labels):
        return share(fake_out[:, 0] < 0.5)


OBJECTIVE = LeastSquares()


@pytest.fixture
def toy(monkeypatch):
    """The toy registered under its name (this module); the registry restored after."""
    monkeypatch.setitem(objectives.REGISTRY, OBJECTIVE.name, __name__)
    return OBJECTIVE.name


def test_the_registry_lists_the_seeds_objective_first_and_config_takes_its_choices():
    assert objectives.names() == ("k_plus_1", "2k", "projection_hinge")
    assert set(HEADS) == set(objectives.names())
    with pytest.raises(ValueError, match=r"config.objective='toy_least_squares': must be one "
                                         r"of \('k_plus_1', '2k', 'projection_hinge'\)"):
        dataclasses.replace(config_lib.SEED, objective="toy_least_squares")


@pytest.mark.parametrize("name", sorted(HEADS))
def test_each_registered_objective_gives_its_head(name):
    shape, conditional = HEADS[name]
    objective = objectives.get(name)
    assert (objective.name, objective.conditional) == (name, conditional)
    disc = networks.build_discriminator(dataclasses.replace(config_lib.SEED, objective=name))
    assert len(disc.inputs) == (2 if conditional else 1)
    images = np.zeros((3, 28, 28, 1), np.float32)
    inputs = (images, np.array([0, 4, 9], np.int32)) if conditional else images
    out = disc(inputs, training=False)
    assert out.shape == (3, *shape) and out.dtype == tf.float32


def test_a_registered_toy_objective_configures_builds_and_trains(toy, tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, objective=toy, steps=2, checkpoint_every=2)
    disc = networks.build_discriminator(config)
    assert disc.get_layer("logits").output.shape == (None, 1)
    result = train_and_evaluate(config, str(tmp_path), progress=False, log=lambda *_: None)
    assert result.step == 2
    _, folder, meta = checkpoint.latest_valid(str(tmp_path))
    history = meta["history"]
    assert len(history) == 2 and np.isfinite([[h["d_loss"], h["g_loss"]] for h in history]).all()
    assert all(0 <= h["fake_share"] <= 1 and 0 <= h["d_real_accuracy"] <= 1 for h in history)
    with np.load(f"{folder}/state.npz") as state:
        assert state["discriminator/logits/kernel"].shape == (128, 1)


def test_unknown_names_and_entries_without_an_objective_are_refused(monkeypatch):
    with pytest.raises(ValueError, match=r"objective 'wgan': must be one of \('k_plus_1'"):
        objectives.get("wgan")
    monkeypatch.setitem(objectives.REGISTRY, "broken", "model_pkg.contract")
    with pytest.raises(ValueError, match=r"objective 'broken': module model_pkg.contract must "
                                         r"define OBJECTIVE, an objective whose name is 'broken'"):
        objectives.get("broken")
