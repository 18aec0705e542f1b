"""compute_dtype="auto": bfloat16 only where the hardware has it, and a run keeps its dtype."""

import dataclasses
import json

import numpy as np
import pytest

from model_pkg import config as config_lib
from model_pkg import machine
from model_pkg.train import resolve_config, settle_compute_dtype
from tests.model_pkg.test_train import _run, _state


@pytest.mark.parametrize("flags, gpus, expected", [
    ({"avx2", "fma"}, [], "float32"),                         # AMD EPYC here: emulated bf16
    ({"avx512f", "avx512_bf16"}, [], "bfloat16"),             # Zen 4, Cooper Lake
    ({"avx512f", "amx_bf16", "amx_tile"}, [], "bfloat16"),    # Sapphire Rapids
    ({"avx2"}, [(8, 0)], "bfloat16"),                         # A100: the GPU trains
    ({"avx512_bf16"}, [(7, 5)], "float32"),                   # T4: no bf16 tensor cores
    ({"avx2"}, [(9, 0), (7, 0)], "float32"),                  # mixed GPUs: the weakest decides
])
def test_auto_picks_bfloat16_only_on_hardware_that_has_it(flags, gpus, expected):
    assert machine.choose_compute_dtype(flags, gpus) == expected


def test_the_default_preset_asks_for_auto_and_the_seed_for_float32():
    assert config_lib.DEFAULT.compute_dtype == "auto"
    assert config_lib.SEED.compute_dtype == "float32"
    assert machine.compute_dtype("bfloat16") == "bfloat16"   # an explicit choice is kept


def _machine_says(monkeypatch, dtype):
    flags = {"avx512_bf16"} if dtype == "bfloat16" else {"avx2"}
    monkeypatch.setattr(machine, "cpu_info", lambda: ("test CPU", flags))
    monkeypatch.setattr(machine, "gpu_capabilities", lambda: [])


def test_a_resumed_run_keeps_the_dtype_it_started_in(monkeypatch):
    auto = dataclasses.replace(config_lib.DEFAULT, steps=3)
    started = dataclasses.replace(auto, compute_dtype="float32")
    _machine_says(monkeypatch, "bfloat16")
    assert settle_compute_dtype(auto, None, log=lambda *_: None).compute_dtype == "bfloat16"
    assert settle_compute_dtype(auto, started, log=lambda *_: None).compute_dtype == "float32"
    explicit = dataclasses.replace(auto, compute_dtype="float32")
    assert settle_compute_dtype(explicit, None) is explicit


def test_an_auto_run_saves_the_dtype_it_chose_and_trains_in_it(monkeypatch, tiny_config,
                                                              tmp_path):
    """A new run writes the settled dtype into config.json; resumed on a machine that would
    choose otherwise, it continues bit-identically to an uninterrupted float32 run."""
    auto = dataclasses.replace(tiny_config, compute_dtype="auto")
    _machine_says(monkeypatch, "float32")
    _, lines = _run(dataclasses.replace(auto, steps=2), tmp_path / "resumed")
    saved = json.loads((tmp_path / "resumed" / "config.json").read_text())
    assert saved["compute_dtype"] == "float32"
    assert any("compute_dtype auto -> float32" in line for line in lines)
    _machine_says(monkeypatch, "bfloat16")
    _run(auto, tmp_path / "resumed")
    _run(tiny_config, tmp_path / "float32")   # the seed preset: float32 throughout
    resumed, straight = _state(tmp_path / "resumed", 4), _state(tmp_path / "float32", 4)
    assert resumed.keys() == straight.keys()
    for key in straight:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)


def test_the_command_line_resumes_an_auto_run_with_its_saved_dtype(tmp_path):
    """``model-pkg train --preset default`` on a workdir whose run settled on float32 (what
    every restarted multi-worker trainer does) resumes it instead of refusing "auto"."""
    for dtype in ("float32", "bfloat16"):
        saved = dataclasses.replace(config_lib.DEFAULT, compute_dtype=dtype)
        (tmp_path / "config.json").write_text(saved.to_json())
        assert resolve_config(str(tmp_path), preset="default").compute_dtype == dtype
        assert resolve_config(str(tmp_path)).compute_dtype == dtype
