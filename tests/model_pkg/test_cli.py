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
    assert (saved["preset"], saved["random_seed"], saved["batch_size"]) == ("seed", 5, 8)


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


def test_every_tool_is_a_subcommand():
    out = _cli("--help")
    for command in ("screen", "report", "missing", "gpu-check"):
        assert command in out.stdout
        usage = _cli(command, "--help")
        assert usage.returncode == 0 and f"usage: model-pkg {command}" in usage.stdout
    sections = ("preset-time", "train-speed", "export-speed", "distributed-speed", "precision")
    assert all(section in _cli("bench", "--help").stdout for section in sections)
    for section in sections:
        usage = _cli("bench", section, "--help")
        assert usage.returncode == 0 and f"usage: model-pkg bench {section}" in usage.stdout


def test_a_bench_section_checks_its_flags():
    out = _cli("bench", "preset-time", "--rounds", "0")
    assert out.returncode == 2 and "--rounds and --steps must be >= 1" in out.stderr


def test_screen_refuses_a_bad_flag_before_training(tmp_path):
    out = _cli("screen", str(tmp_path / "w"), "--steps", "0")
    assert out.returncode == 2 and "--steps=0: must be an integer >= 1" in out.stderr
    assert not (tmp_path / "w").exists()


def test_report_draws_the_entropy_chart_of_a_screen(tmp_path):
    (tmp_path / "screen.json").write_text(json.dumps({"checkpoints": [
        {"step": 5, "entropy_generated": [0.1] * 10, "entropy_real": [0.05] * 10}]}))
    out = _cli("report", str(tmp_path / "chart.png"), f"run={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "chart.png").stat().st_size > 0
    refused = _cli("report", str(tmp_path / "x.png"), f"run={tmp_path / 'missing'}")
    assert refused.returncode == 2 and "neither a screen report" in refused.stderr


def test_debug_shows_the_traceback(tmp_path):
    args = ("train", "--workdir", str(tmp_path / "w"), "--steps", "1",
            "--data", str(tmp_path / "missing.npz"))
    out = _cli("--debug", *args)
    assert out.returncode != 0 and "Traceback (most recent call last)" in out.stderr
    assert "missing.npz: no such file or folder" in out.stderr
    assert "Traceback" not in _cli(*args).stderr


def test_gpu_check_is_a_subcommand(tmp_path):
    out = _cli("gpu-check", str(tmp_path / "missing"))
    assert out.returncode == 2 and "model-pkg gpu-check: error:" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("argv, dest, value", [
    (["train", "--workdir", "w", "--random-seed", "4"], "random_seed", 4),
    (["train", "--workdir", "w", "--seed", "4"], "random_seed", 4),   # the old spelling
    (["generate", "--labels", "1", "--out", "o.png", "--noise-seed", "9"], "noise_seed", 9),
    (["generate", "--labels", "1", "--out", "o.png", "--seed", "9"], "noise_seed", 9),
])
def test_random_seed_flags_and_their_old_spelling(argv, dest, value):
    from model_pkg.cli import build_parser

    assert getattr(build_parser().parse_args(argv), dest) == value
