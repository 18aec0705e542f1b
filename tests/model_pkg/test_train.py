"""Training end to end on tiny runs: checkpoint, stop, resume, extend, refuse."""

import dataclasses
import json
import os

import numpy as np
import pytest

from model_pkg import checkpoint, data, train
from model_pkg.train import ConfigMismatch, train_and_evaluate


def _run(config, workdir, **kwargs):
    lines = []
    result = train_and_evaluate(config, str(workdir), progress=False, log=lines.append, **kwargs)
    return result, lines


def _state(workdir, step):
    with np.load(os.path.join(workdir, "checkpoints", f"ckpt-{step:08d}", "state.npz")) as npz:
        return {key: npz[key] for key in npz.files}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_tiny_run_writes_every_output(tiny_config, tmp_path):
    result, _ = _run(tiny_config, tmp_path)
    assert result.step == 4 and result.steps_run == 4
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path)] == [2, 4]
    for name in ("config.json", "loss_curve.png", "train_summary.json", "samples/final.png",
                 "samples/step-00000002.png", "samples/step-00000004.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert any(n.startswith("events.out") for n in os.listdir(tmp_path / "tensorboard"))
    meta = checkpoint.read_meta(checkpoint.list_checkpoints(tmp_path)[-1][1])
    assert [h["step"] for h in meta["history"]] == [1, 2, 3, 4]
    assert meta["data_sha256"] == data.VENDORED_SHA256
    summary = json.loads((tmp_path / "train_summary.json").read_text())
    assert summary["step"] == 4 and summary["peak_rss_mib"] > 0


def test_stop_resume_extend_equals_one_uninterrupted_run(tiny_config, tmp_path):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    _run(dataclasses.replace(tiny_config, steps=6), straight)
    _run(tiny_config, interrupted)                        # "stops" at 4
    result, lines = _run(dataclasses.replace(tiny_config, steps=6), interrupted)
    assert result.steps_run == 2 and any("resumed" in line and "step 4" in line for line in lines)
    _assert_same_state(_state(straight, 6), _state(interrupted, 6))
    history = checkpoint.read_meta(checkpoint.list_checkpoints(interrupted)[-1][1])["history"]
    assert [h["step"] for h in history] == list(range(1, 7))


def test_finished_run_does_not_retrain(tiny_config, tmp_path):
    _run(tiny_config, tmp_path)
    result, lines = _run(tiny_config, tmp_path)
    assert result.steps_run == 0 and any("nothing to train" in line for line in lines)


def test_resume_with_a_different_config_is_refused(tiny_config, tmp_path):
    _run(tiny_config, tmp_path)
    with pytest.raises(ConfigMismatch, match=r"seed: saved 0, asked 1"):
        _run(dataclasses.replace(tiny_config, random_seed=1), tmp_path)
    with pytest.raises(ConfigMismatch, match="batch_size"):
        train.resolve_config(str(tmp_path), batch_size=16)


def test_resolve_config_continues_the_saved_run(tiny_config, tmp_path):
    _run(tiny_config, tmp_path)
    resolved = train.resolve_config(str(tmp_path), steps=10)
    assert resolved == dataclasses.replace(tiny_config, steps=10)


def test_damaged_newest_checkpoint_is_skipped_never_loaded(tiny_config, tmp_path):
    _run(tiny_config, tmp_path)
    newest = tmp_path / "checkpoints" / "ckpt-00000004" / "state.npz"
    newest.write_bytes(newest.read_bytes()[:-100])           # a torn write
    with pytest.warns(UserWarning, match="skipping damaged checkpoint"):
        result, lines = _run(tiny_config, tmp_path)
    assert any("step 2" in line for line in lines) and result.steps_run == 2


def test_staging_leftovers_are_ignored_and_cleaned(tiny_config, tmp_path):
    leftover = tmp_path / "checkpoints" / ".staging-killed"
    leftover.mkdir(parents=True)
    (leftover / "state.npz").write_bytes(b"half")
    result, _ = _run(tiny_config, tmp_path)
    assert result.steps_run == 4 and not leftover.exists()


def test_same_seed_gives_the_same_weights(tiny_config, tmp_path):
    _run(tiny_config, tmp_path / "a")
    _run(tiny_config, tmp_path / "b")
    _assert_same_state(_state(tmp_path / "a", 4), _state(tmp_path / "b", 4))


def test_test_digits_never_reach_training(tiny_config, tmp_path, monkeypatch):
    real = data.load_mnist(allow_download=False)

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError("training touched the test digits")

        def __array__(self, *args, **kwargs):
            raise AssertionError("training touched the test digits")

    guarded = dataclasses.replace(real, x_test=Untouchable(), y_test=Untouchable())
    monkeypatch.setattr(data, "load_mnist", lambda *a, **k: guarded)
    result, _ = _run(tiny_config, tmp_path)
    assert result.step == 4


def test_a_second_trainer_on_the_same_workdir_fails(tiny_config, tmp_path):
    with train.workdir_lock(str(tmp_path)):
        with pytest.raises(RuntimeError, match="in use by another training process"):
            _run(tiny_config, tmp_path)


def test_a_peer_lost_while_checkpointing_reads_as_a_lost_peer(tiny_config, tmp_path,
                                                              monkeypatch):
    """A multi-worker run's eager collectives outside the step (a checkpoint's reads) fail
    like the step's own when a peer dies: PeerLost with the step and how to resume."""
    import tensorflow as tf

    from model_pkg.distribute import PeerLost

    def lost(*args, **kwargs):
        raise tf.errors.UnavailableError(None, None, "Collective ops is aborted by: "
                                         "/job:worker/replica:0/task:1 stopped sending heartbeats")

    monkeypatch.setattr(checkpoint, "save", lost)
    config = dataclasses.replace(tiny_config, checkpoint_every=2)
    with pytest.raises(PeerLost, match=r"step 2: lost contact with worker 1 .*Restart every "
                                       r"worker with the same command"):
        train_and_evaluate(config, str(tmp_path / "run"), progress=False, log=lambda *_: None)
