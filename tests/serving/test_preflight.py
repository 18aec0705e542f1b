"""model-pkg check-serving: refuses what would keep TF Serving from starting or serving."""

import os
import shutil
import subprocess
import sys

import pytest

from model_pkg.serving import config_files
from model_pkg.serving.preflight import PreflightError, check_deployment


def test_the_shipped_config_over_a_published_version_passes(published, config_dir):
    lines = []
    assert check_deployment(str(config_dir), published[0], log=lines.append) == {1: 18}
    assert "TF Serving can start" in lines[-1]


def test_a_served_version_missing_on_disk_is_refused(two_versions, config_dir):
    config_files.promote("canary", 3, str(config_dir / "models.config"))
    with pytest.raises(PreflightError, match=r"serves versions \[3\] that are not in"):
        check_deployment(str(config_dir), two_versions, log=lambda *_: None)


def test_a_damaged_version_is_refused_naming_it(published, config_dir, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(published[1], models / "cgan" / "1")
    with open(models / "cgan" / "1" / "saved_model.pb", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(PreflightError, match="version 1 .*saved_model.pb"):
        check_deployment(str(config_dir), str(models), log=lambda *_: None)


def test_a_base_path_outside_the_models_mount_is_refused(published, config_dir):
    path = config_dir / "models.config"
    path.write_text(path.read_text().replace('"/models/cgan"', '"/elsewhere/cgan"'))
    with pytest.raises(PreflightError, match="must be under /models/"):
        check_deployment(str(config_dir), published[0], log=lambda *_: None)


def test_the_command_exits_2_with_the_reason(config_dir, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-m", "model_pkg", "check-serving", "--config-dir",
                          str(config_dir), "--models-dir", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2 and "serves versions [1] that are not in" in out.stderr


def test_signatures_are_required_before_serving_when_keys_are_configured(published, config_dir,
                                                                         tmp_path, monkeypatch):
    from model_pkg.export import signing

    signing.generate_key_pair(str(tmp_path / "k.pem"), str(tmp_path / "k.pub.pem"))
    monkeypatch.setenv(signing.TRUSTED_KEYS_ENV, str(tmp_path / "k.pub.pem"))
    with pytest.raises(PreflightError, match="version 1 is not signed"):
        check_deployment(str(config_dir), published[0], log=lambda *_: None)


def test_a_broken_ssl_config_is_refused_before_tf_serving_would_abort(published, config_dir):
    (config_dir / "ssl.config").write_text('server_key: "not a key" server_cert: "nor a cert"')
    (config_dir / "ssl.config").chmod(0o640)
    with pytest.raises(PreflightError, match="not valid PEM"):
        check_deployment(str(config_dir), published[0], log=lambda *_: None)


@pytest.mark.parametrize("base_path", ["/models/../../outside/ver", "/models/cgan/../../x",
                                       "/models/./../etc", "/models//cgan/..", "/models/.."])
def test_a_base_path_that_climbs_out_with_dotdot_is_refused(tmp_path, base_path):
    from model_pkg.serving import protos
    from model_pkg.serving.preflight import served_versions

    # A folder outside the models folder that the climbing path would reach.
    models = tmp_path / "a" / "models"
    for target in ("outside/ver/1", "x/1", "etc/1", "1", "a/1"):
        (tmp_path / target).mkdir(parents=True, exist_ok=True)
        (models / target).mkdir(parents=True, exist_ok=True)
    model = protos.model_server_config()().model_config_list.config.add()
    model.base_path = base_path
    model.model_version_policy.specific.versions.append(1)
    with pytest.raises(PreflightError, match=r"must not contain '\.\.'"):
        served_versions(model, str(models))
