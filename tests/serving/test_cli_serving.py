"""generate over REST and gRPC, promote and rollback, from the command line."""

import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

from model_pkg.serving import config_files


def _cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "model_pkg", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_generate_over_rest_and_grpc_draws_the_onnx_picture(standin, published, tmp_path):
    pictures = {}
    for runtime, where in (("onnx", ("--model", published[1])),
                           ("rest", ("--url", standin.rest_url, "--label", "stable")),
                           ("grpc", ("--target", standin.grpc_target, "--version", 1))):
        out = _cli("generate", "--runtime", runtime, *where, "--labels", "2,5",
                   "--per-label", 3, "--out", tmp_path / f"{runtime}.png")
        assert out.returncode == 0, out.stderr
        pictures[runtime] = np.asarray(Image.open(tmp_path / f"{runtime}.png"), dtype=int)
    assert np.abs(pictures["rest"] - pictures["onnx"]).max() <= 1   # 1e-5 -> at most 1 grey level
    assert np.abs(pictures["grpc"] - pictures["onnx"]).max() <= 1


def test_generate_against_a_dead_server_exits_2(tmp_path):
    out = _cli("generate", "--runtime", "rest", "--url", "http://127.0.0.1:9", "--labels", "1",
               "--out", tmp_path / "x.png")
    assert out.returncode == 2 and "unavailable after" in out.stderr


def test_generate_deadline_ends_a_call_a_server_never_answers(tmp_path):
    import socket

    with socket.socket() as silent:   # takes the connection (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        for runtime, where in (("rest", ("--url", f"http://127.0.0.1:{silent.getsockname()[1]}")),
                               ("grpc", ("--target", f"127.0.0.1:{silent.getsockname()[1]}"))):
            out = _cli("generate", "--runtime", runtime, *where, "--labels", "1",
                       "--deadline", 1.5, "--out", tmp_path / "x.png")
            assert out.returncode == 2, out.stderr
            assert "no reply within the deadline of 1.5 s: 1 attempt in 1.5" in out.stderr
    out = _cli("generate", "--runtime", "rest", "--deadline", 0, "--labels", "1",
               "--out", tmp_path / "x.png")
    assert out.returncode == 2 and "--deadline 0.0: must be a finite number of seconds > 0" \
        in out.stderr


def test_promote_and_rollback_edit_the_given_config(published, tmp_path):
    config = tmp_path / "models.config"
    shutil.copy(config_files.MODELS_CONFIG, config)
    models_dir = published[0]
    out = _cli("promote", "--label", "canary", "--version", 1, "--config", config,
               "--models-dir", models_dir)
    assert out.returncode == 0 and "'canary': 1 -> 1" in out.stdout
    out = _cli("promote", "--label", "canary", "--version", 9, "--config", config,
               "--models-dir", models_dir)
    assert out.returncode == 2 and "no such version folder" in out.stderr
    out = _cli("rollback", "--label", "stable", "--config", config)
    assert out.returncode == 2 and "no older served version" in out.stderr


def test_promote_names_a_bad_label_or_version_before_looking_for_the_folder(tmp_path):
    config = tmp_path / "models.config"
    shutil.copy(config_files.MODELS_CONFIG, config)
    for flags, rule in ((("--label", "stäble", "--version", 1), "--label 'stäble'"),
                        (("--label", "canary", "--version", -1), "--version -1")):
        out = _cli("promote", *flags, "--config", config, "--models-dir", tmp_path)
        assert out.returncode == 2 and rule in out.stderr, out.stderr
        assert "no such version folder" not in out.stderr
