"""The wheel installs beside a neighbour that needs another patch release of a shared dependency.

pyproject.toml declares compatible ranges (requirements.lock keeps the exact tested set, for
CI and ``make setup``). Here nothing is constrained by the lock: a fresh virtualenv gets a
neighbour's pin first (numpy one patch release below the lock's), then the wheel with its
declared dependencies resolved by pip from the index (its cache makes that feasible), and
the neighbour's pin must survive while ``model-pkg --help`` and a 3-step train work.
With ``==`` pins pip replaces the neighbour's numpy, and this test fails. It needs pip's
index (or a cache that holds every package) and a few minutes at most (docs/testing.md).
"""

import os
import re
import sys

from tests.test_wheel import ROOT, _run, build_wheel, clean_env


def _neighbour_numpy():
    """numpy one patch release below the lock's (the lock's own patch must be >= 1)."""
    lock = open(os.path.join(ROOT, "requirements.lock")).read()
    major, minor, patch = re.search(r"^numpy==(\d+)\.(\d+)\.(\d+)$", lock, re.M).groups()
    assert int(patch) >= 1, "the lock's numpy has no earlier patch release to pin"
    return f"{major}.{minor}.{int(patch) - 1}"


def test_the_wheel_installs_beside_a_neighbour_pinning_another_patch(tmp_path):
    wheel = build_wheel(tmp_path)
    _run(sys.executable, "-m", "venv", str(tmp_path / "venv"), cwd=str(tmp_path))
    python = str(tmp_path / "venv" / "bin" / "python")
    env = clean_env(MODEL_PKG_EVALUATOR_DIR=str(tmp_path / "evaluator"),
                    PIP_DISABLE_PIP_VERSION_CHECK="1")
    neighbour = _neighbour_numpy()
    pip = (python, "-m", "pip", "install", "--quiet")
    _run(*pip, f"numpy=={neighbour}", cwd=str(tmp_path), env=env)
    _run(*pip, wheel, cwd=str(tmp_path), env=env)

    version = _run(python, "-c", "import numpy; print(numpy.__version__)",
                   cwd=str(tmp_path), env=env).stdout.strip()
    assert version == neighbour, f"the wheel's install replaced the neighbour's numpy: {version}"
    _run(python, "-m", "pip", "check", cwd=str(tmp_path), env=env)
    model_pkg = os.path.join(tmp_path, "venv", "bin", "model-pkg")
    assert "usage: model-pkg" in _run(model_pkg, "--help", cwd=str(tmp_path), env=env).stdout
    _run(model_pkg, "train", "--workdir", "run", "--steps", "3", "--batch-size", "8",
         "--no-progress", cwd=str(tmp_path), env=env)
    assert (tmp_path / "run" / "config.json").is_file()
