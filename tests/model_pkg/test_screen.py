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


@pytest.mark.parametrize("args, named", [(["--set", "nope=1"], "nope=1"),
                                         (["--every", "0"], "--every=0: must be an integer >= 1"),
                                         (["--steps", "-5"], "--steps=-5")])
def test_screen_refuses_bad_arguments(capsys, tmp_path, args, named):
    with pytest.raises(SystemExit) as exit_info:
        screen.main([str(tmp_path / "unused"), *args])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "unused").exists()   # refused before anything was written
