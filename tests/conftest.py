"""Shared fixtures: a tiny training config and quiet TensorFlow logs."""

import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from model_pkg import config as config_lib  # noqa: E402


@pytest.fixture
def tiny_config():
    """The seed model with a batch and step count small enough for a test."""
    return dataclasses.replace(config_lib.SEED, batch_size=8, steps=4, checkpoint_every=2,
                               log_every=1, sample_every=2, keep_checkpoints=2)
