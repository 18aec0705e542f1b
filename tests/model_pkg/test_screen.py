"""The quality screen: trains a tiny run and measures each of its checkpoints."""

import json

import pytest

from model_pkg import screen


def test_screen_measures_every_checkpoint(tmp_path):
    lines = []
    rows = screen.screen(str(tmp_path / "run"), steps=2, every=1, preset="seed",
                         overrides={"batch_size": 8}, log=lines.append)
    assert [row["step"] for row in rows] == [1, 2]
    for row in rows:
        assert 0 <= row["label_accuracy"] <= 1 and 0 <= row["coverage_ratio"] <= 1.2
        assert row["frechet_ratio"] > 1   # 2 steps of training are far from real digits
        assert row["samples"] == 10_000
    assert [json.loads(line) for line in lines] == rows
    report = json.loads((tmp_path / "run" / "screen.json").read_text())
    assert report["checkpoints"] == rows and report["config"]["batch_size"] == 8
    assert report["train_wall_seconds"] > 0 and report["config"]["compute_dtype"] == "float32"


def test_a_finished_screen_measures_again_with_cas(monkeypatch, tmp_path):
    """--cas on a finished run trains nothing more and adds each checkpoint's CAS (on 500
    generated digits here, not 60,000, to keep the test short)."""
    from model_pkg.eval import metrics

    workdir = str(tmp_path / "run")
    first = screen.screen(workdir, steps=1, every=1, preset="seed", overrides={"batch_size": 8},
                          log=lambda *_: None)
    assert "cas" not in first[0]
    monkeypatch.setattr(metrics, "CAS_PER_LABEL", 50)
    assert screen.main([workdir, "--steps", "1", "--every", "1", "--preset", "seed",
                        "--set", "batch_size=8", "--cas"]) == 0
    again = json.loads((tmp_path / "run" / "screen.json").read_text())["checkpoints"]
    assert [row["step"] for row in again] == [1]
    assert again[0]["frechet_ratio"] == first[0]["frechet_ratio"]   # the same checkpoint
    assert 0 <= again[0]["cas"] <= 1
    assert again[0]["cas_gap_points"] == pytest.approx(
        100 * (again[0]["real_trained_accuracy"] - again[0]["cas"]), abs=1e-3)


@pytest.mark.parametrize("args, named", [(["--set", "nope=1"], "nope=1"),
                                         (["--every", "0"], "--every=0: must be an integer >= 1"),
                                         (["--steps", "-5"], "--steps=-5")])
def test_screen_refuses_bad_arguments(capsys, tmp_path, args, named):
    with pytest.raises(SystemExit) as exit_info:
        screen.main([str(tmp_path / "unused"), *args])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "unused").exists()   # refused before anything was written
