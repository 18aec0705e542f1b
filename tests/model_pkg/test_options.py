"""The one option the default preset adds (bfloat16), overrides, and retired options."""

import dataclasses
import json

import numpy as np
import pytest

from model_pkg import config as config_lib
from model_pkg.config import RETIRED, TrainConfig, parse_overrides
from tests.model_pkg.test_train import _assert_same_state, _run, _state


def test_bfloat16_changes_training_and_resumes_bit_exactly(tiny_config, tmp_path):
    changed = dataclasses.replace(tiny_config, compute_dtype="bfloat16")
    _run(tiny_config, tmp_path / "seed")
    _run(changed, tmp_path / "straight")
    _run(dataclasses.replace(changed, steps=2), tmp_path / "resumed")
    _run(changed, tmp_path / "resumed")
    seed, straight = _state(tmp_path / "seed", 4), _state(tmp_path / "straight", 4)
    _assert_same_state(straight, _state(tmp_path / "resumed", 4))
    key = "generator/dense/kernel"
    assert straight[key].dtype == np.float32            # weights stay float32
    assert not np.array_equal(seed[key], straight[key])  # the math did change


def test_cli_overrides_are_typed_and_checked():
    assert parse_overrides(["d_learning_rate=1e-4", "steps=7", "compute_dtype=bfloat16"]) == {
        "d_learning_rate": 1e-4, "steps": 7, "compute_dtype": "bfloat16"}
    with pytest.raises(ValueError, match="'nope=1': expected KEY=VALUE with KEY one of"):
        parse_overrides(["nope=1"])
    with pytest.raises(ValueError, match="steps must be an integer"):
        parse_overrides(["steps=1.5"])
    with pytest.raises(ValueError, match="compute_dtype"):
        dataclasses.replace(config_lib.SEED, compute_dtype="float16")
    with pytest.raises(ValueError, match="expected KEY=VALUE"):   # a retired option is unknown
        parse_overrides(["ema_decay=0.999"])


def test_a_saved_run_from_before_the_retirement_still_loads():
    old = json.loads(config_lib.SEED.to_json()) | RETIRED   # every retired option at "off"
    assert TrainConfig.from_dict(old) == config_lib.SEED


@pytest.mark.parametrize("name, value", [("ema_decay", 0.999), ("d_normalization", "spectral"),
                                         ("minibatch_stddev", True)])
def test_a_saved_run_that_used_a_retired_option_is_refused(name, value):
    with pytest.raises(ValueError, match=f"config.{name}: this run used an option that was"):
        TrainConfig.from_dict(json.loads(config_lib.SEED.to_json()) | {name: value})


def test_no_retired_option_is_a_config_field():
    assert not set(RETIRED) & {f.name for f in dataclasses.fields(TrainConfig)}
