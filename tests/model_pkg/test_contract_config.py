"""The contract module stays pure; configs validate and round-trip."""

import dataclasses
import json
import os
import re
import subprocess
import sys

import pytest

from model_pkg import config as config_lib
from model_pkg import contract
from model_pkg.config import TrainConfig


def test_contract_imports_no_tensorflow_or_numpy():
    code = ("import sys, model_pkg.contract, model_pkg.config; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRACT_MD = os.path.join(ROOT, "docs", "CONTRACT.md")


def _contract_table():
    """{name: (dtype, shape text)} from the signature table of docs/CONTRACT.md."""
    rows = re.findall(r"^\| `(\w+)` \((?:input|output)\) \| (\w+) \| (\[[^\]]*\]) \|",
                      open(CONTRACT_MD).read(), re.MULTILINE)
    return {name: (dtype, shape) for name, dtype, shape in rows}


def test_signature_description_matches_contract_md():
    table, sig = _contract_table(), contract.signature_description()
    assert set(table) == {"label", "noise", "images"}
    specs = sig["inputs"] | sig["outputs"]
    for name, (dtype, shape) in table.items():
        assert specs[name]["dtype"] == dtype, name
        dims = [d.strip() for d in shape.strip("[]").split(",")]
        assert [None if d == "N" else int(d) for d in dims] == specs[name]["shape"], name
    text = open(CONTRACT_MD).read()
    assert f"TF Serving model name: `{contract.MODEL_NAME}`" in text
    assert f"Signature `{contract.SIGNATURE_NAME}`" in text
    assert f"within\n  {contract.PARITY_ATOL:.0e}".replace("e-0", "e-") in text
    assert f"`{contract.DEFAULT_MODELS_DIR}` under the working directory" in text
    assert sig["inputs"]["label"]["range"] == [0, 9] and contract.FAKE_CLASS == 10


def test_the_repository_copy_of_the_contract_is_the_reference():
    shared = os.path.join(ROOT, "..", "shared", "CONTRACT.md")
    if not os.path.exists(shared):
        pytest.skip("no ../shared beside the checkout (a user's clone)")
    assert open(CONTRACT_MD).read() == open(shared).read(), \
        "docs/CONTRACT.md differs from ../shared/CONTRACT.md: copy the reference over"


def test_seed_preset_is_the_seed_report():
    seed = config_lib.SEED
    assert (seed.batch_size, seed.steps) == (64, 10_000)
    assert (seed.g_learning_rate, seed.d_learning_rate, seed.adam_beta1) == (2e-4, 2e-4, 0.5)
    assert (seed.leaky_slope, seed.output_activation) == (0.2, "tanh")


def test_config_json_round_trip():
    cfg = dataclasses.replace(config_lib.SEED, random_seed=7, steps=123)
    again = TrainConfig.from_json(cfg.to_json())
    assert again == cfg
    assert json.loads(cfg.to_json())["random_seed"] == 7


@pytest.mark.parametrize("field, value, rule", [
    ("batch_size", 0, "integer >= 1"),
    ("batch_size", 60_001, "<= 60000"),
    ("steps", -1, "integer >= 0"),
    ("random_seed", -3, "[0, 2**31)"),
    ("adam_beta1", 1.0, "[0, 1)"),
    ("g_learning_rate", 0.0, "> 0"),
    ("output_activation", "sigmoid", "one of"),
])
def test_bad_config_values_are_refused_naming_field_and_rule(field, value, rule):
    with pytest.raises(ValueError) as err:
        dataclasses.replace(config_lib.SEED, **{field: value})
    assert f"config.{field}=" in str(err.value) and rule in str(err.value)


def test_unknown_config_keys_are_refused():
    data = config_lib.SEED.to_dict() | {"learning_rate": 1}
    with pytest.raises(ValueError, match="unknown keys.*learning_rate"):
        TrainConfig.from_dict(data)


def test_identity_ignores_run_length_and_bookkeeping_only():
    base = config_lib.SEED
    same = dataclasses.replace(base, steps=20_000, checkpoint_every=7, log_every=3)
    assert same.identity() == base.identity()
    assert dataclasses.replace(base, random_seed=1).identity() != base.identity()


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown preset 'best'.*\['default', 'seed'\]"):
        config_lib.get_preset("best")


def test_random_seed_keeps_its_old_name_as_an_alias():
    """"seed" names the seed report's model; the random seed's old spellings still work."""
    saved = config_lib.SEED.to_dict()
    del saved["random_seed"]
    saved["seed"] = 5
    assert config_lib.TrainConfig.from_dict(saved).random_seed == 5   # a run saved before
    assert config_lib.parse_overrides(["seed=3"]) == {"random_seed": 3}
    both = dict(saved, random_seed=5)
    with pytest.raises(ValueError, match="'seed' and 'random_seed' name the same field"):
        config_lib.TrainConfig.from_dict(both)
    with pytest.raises(ValueError, match=r"config.random_seed=-1: must be an integer"):
        dataclasses.replace(config_lib.SEED, random_seed=-1)
