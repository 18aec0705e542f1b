"""The command line: the contract's flags, JSON out, clear errors with exit 2."""

import json
import os
import subprocess
import sys

import pytest


def _cli(*args, cwd=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "model_pkg", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cli") / "run"
    out = _cli("train", "--workdir", str(workdir), "--steps", "3", "--batch-size", "8",
               "--preset", "seed", "--seed", "5", "--no-progress")
    assert out.returncode == 0, out.stderr
    return workdir, out


def test_train_prints_json_and_saves_config(trained):
    workdir, out = trained
    result = json.loads(out.stdout[out.stdout.index("{"):])
    assert result["step"] == 3 and result["workdir"] == str(workdir)
    saved = json.loads((workdir / "config.json").read_text())
    assert (saved["preset"], saved["seed"], saved["batch_size"]) == ("seed", 5, 8)


def test_train_extends_with_the_saved_config(trained):
    workdir, _ = trained
    out = _cli("train", "--workdir", str(workdir), "--steps", "4", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "resumed from" in out.stdout and json.loads(out.stdout[out.stdout.index("{"):])[
        "steps_run"] == 1


def test_conflicting_flags_exit_2_with_one_clear_line(trained):
    workdir, _ = trained
    out = _cli("train", "--workdir", str(workdir), "--seed", "6", "--no-progress")
    assert out.returncode == 2
    assert "error:" in out.stderr and "seed: saved 5, asked 6" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_data_path_exit_2(tmp_path):
    out = _cli("train", "--workdir", str(tmp_path / "w"), "--steps", "1",
               "--data", str(tmp_path / "missing.npz"))
    assert out.returncode == 2 and "missing.npz: no such file or folder" in out.stderr


def test_help_lists_the_contract_commands():
    out = _cli("--help")
    assert out.returncode == 0 and "train" in out.stdout and "pipeline" in out.stdout
