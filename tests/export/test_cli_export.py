"""export / generate / evaluate / pipeline from the command line."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from model_pkg import runtimes


def _cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "model_pkg", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_export_prints_the_version_folder_as_its_last_line(trained_workdir, tmp_path):
    out = _cli("export", "--workdir", trained_workdir, "--models-dir", tmp_path, "--skip-quality")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == str(tmp_path / "cgan" / "1")


def test_export_of_an_empty_workdir_exit_2(tmp_path):
    out = _cli("export", "--workdir", tmp_path / "empty", "--models-dir", tmp_path)
    assert out.returncode == 2 and "no training run with a checkpoint" in out.stderr


# Every in-process runtime of the registry a plain install has (model_pkg/runtimes.py).
IN_PROCESS = [e.name for e in runtimes.entries(usable=True) if not e.remote and not e.extra]


@pytest.mark.parametrize("runtime", IN_PROCESS)
def test_generate_writes_the_same_grid_on_every_in_process_runtime(published, tmp_path, runtime):
    out_png = tmp_path / f"{runtime}.png"
    out = _cli("generate", "--model", published[1], "--runtime", runtime, "--labels", "0,1,7",
               "--per-label", 4, "--out", out_png)
    assert out.returncode == 0, out.stderr
    image = np.asarray(Image.open(out_png))
    assert image.shape == (2 * (3 * 30 + 2), 2 * (4 * 30 + 2))
    reference = tmp_path.parent / "grid-reference.npy"
    if reference.exists():   # the other runtime ran first: pixels must match
        np.testing.assert_array_equal(np.load(reference), image)
    np.save(reference, image)


@pytest.mark.parametrize("labels, message", [("0,10", "label: must be integers in 0..9"),
                                             ("a,b", "--labels 'a,b': must be"),
                                             ("-1", "got -1 at index 0")])
def test_generate_bad_labels_exit_2(published, tmp_path, labels, message):
    out = _cli("generate", "--model", published[1], "--labels", labels, "--out",
               tmp_path / "x.png")
    assert out.returncode == 2 and message in out.stderr
    assert not (tmp_path / "x.png").exists()


def test_generate_refuses_a_tampered_version(version_copy, tmp_path):
    with open(version_copy / "model.onnx", "ab") as handle:
        handle.write(b"\0")
    out = _cli("generate", "--model", version_copy, "--labels", "3", "--out", tmp_path / "x.png")
    assert out.returncode == 2 and "model.onnx: sha256" in out.stderr


def test_force_needs_a_reason(trained_workdir, tmp_path):
    out = _cli("export", "--workdir", trained_workdir, "--models-dir", tmp_path, "--force")
    assert out.returncode == 2 and "--force needs --reason" in out.stderr


def test_pipeline_trains_exports_and_prints_the_version(tmp_path):
    out = _cli("pipeline", "--workdir", tmp_path / "run", "--models-dir", tmp_path / "models",
               "--steps", 2, "--batch-size", 8, "--no-progress", "--skip-quality")
    assert out.returncode == 0, out.stderr
    version_dir = tmp_path / "models" / "cgan" / "1"
    assert out.stdout.strip().splitlines()[-1] == f"new version: {version_dir}"
    assert (tmp_path / "models" / "cgan" / "1" / "model.onnx").exists()
