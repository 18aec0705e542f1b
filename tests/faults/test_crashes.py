"""Short versions of tests/faults/crash.py (the full run: 20 export and 5 training kills)."""

import random

import pytest

from tests.faults import crash

pytestmark = pytest.mark.faults


def test_killed_training_resumes_to_the_same_weights(tmp_path):
    reference = crash.uninterrupted_state(str(tmp_path / "reference"))
    summary = crash.kill_training(str(tmp_path / "killed"), trials=3, rng=random.Random(1),
                                  reference_state=reference)
    assert summary["killed_mid_training"] >= 1   # the kills did land inside training
    assert summary["final_step"] == crash.crash_config().steps
    assert summary["final_weights_equal_uninterrupted_run"] is True


def test_killed_exports_leave_only_whole_versions(trained_workdir, tmp_path):
    summary = crash.kill_exports(trained_workdir, str(tmp_path), trials=4, rng=random.Random(2))
    assert summary["versions_left_all_verified"] >= 1
