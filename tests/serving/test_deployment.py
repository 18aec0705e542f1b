"""The shipped deployment, run as TF Serving's source says it runs (docs/tf_serving.md).

Startup, label moves, config polling and the mounts, through the stand-in
started from docker-compose.yml itself. Each test names the TF Serving code it
holds the stand-in to; if a fix to the deployment is reverted, one goes red.
"""

import shutil

import pytest

from model_pkg.serving import config_files
from model_pkg.serving.rest_client import RestClient
from tests.serving.standin import StandIn, StartupRefused, shipped_compose
from tests.serving.standin.flags import NotEmulated, UsageError, compose_service, parse_flags


def label_version(server, label):
    """The version a label serves, from /labels/<l>/metadata (GET /labels/<l> ignores labels)."""
    return int(RestClient(server.rest_url, label=label, retries=0).metadata()
               ["model_spec"]["version"])


def _compose_flags_and_mounts(models_dir, config):
    spec = compose_service(shipped_compose(), "serving", env={
        "MODELS_DIR": str(models_dir), "TF_SERVING_CONFIG_DIR": str(config)})
    return spec["flags"], spec["mounts"]


def test_the_shipped_compose_service_starts_and_serves_both_labels(published, config_dir,
                                                                    start_compose):
    server = start_compose(published[0], config_dir)
    assert server.core.status("cgan") == [(1, "AVAILABLE")]
    assert label_version(server, "stable") == label_version(server, "canary") == 1


def test_labels_at_startup_need_the_flag(published, config_dir):
    # server_core.cc ReloadConfig: UpdateModelVersionLabelMap runs before any
    # version is loaded, so without the flag every startup label is refused.
    flags, mounts = _compose_flags_and_mounts(published[0], config_dir)
    flags = [f for f in flags if not f.startswith("--allow_version_labels_for_unavailable")]
    with pytest.raises(StartupRefused, match="FAILED_PRECONDITION: Request to assign label to "
                       "version 1 of model cgan, which is not currently available"):
        StandIn(flags, mounts)


def test_no_served_version_on_disk_never_starts(tmp_path, config_dir):
    # ConnectAdaptersToManagerAndAwaitModelLoads waits on Latest(cgan) without a timeout.
    (tmp_path / "models" / "cgan").mkdir(parents=True)
    flags, mounts = _compose_flags_and_mounts(tmp_path / "models", config_dir)
    with pytest.raises(StartupRefused, match="would wait forever"):
        StandIn(flags, mounts)


def test_a_failing_warmup_record_fails_the_load(published, tmp_path, config_dir):
    # saved_model_warmup.cc RunWarmupRequest: a warmup error fails the version's load.
    import numpy as np

    from model_pkg.export import artifacts

    models = tmp_path / "models"
    shutil.copytree(published[1], models / "cgan" / "1")
    warmup = artifacts.warmup_inputs
    try:
        artifacts.warmup_inputs = lambda: [(np.array([10], np.int32),
                                            np.zeros((1, 100), np.float32))]
        artifacts.write_warmup(str(models / "cgan" / "1"))
    finally:
        artifacts.warmup_inputs = warmup
    flags, mounts = _compose_flags_and_mounts(models, config_dir)
    with pytest.raises(StartupRefused, match="did not become available.*label: must be"):
        StandIn(flags, mounts)


@pytest.mark.parametrize("argv, error", [
    (["--enable_batching=yes"], UsageError),        # ParseBoolFlag: not one of its spellings
    (["--no_such_flag=3"], NotEmulated),
    (["--port"], UsageError),
])
def test_flags_parse_as_tensorflow_model_server_parses_them(argv, error):
    with pytest.raises(error):
        parse_flags(argv)


@pytest.mark.parametrize("raw, value", [("", True), ("=true", True), ("=True", True),
                                        ("=1", True), ("=false", False), ("=False", False),
                                        ("=0", False)])
def test_boolean_flags_take_every_spelling_tensorflow_takes(raw, value):
    """command_line_flags.cc, ParseBoolFlag; a refusal here would stop a real deployment."""
    assert parse_flags([f"--enable_model_warmup{raw}"])["enable_model_warmup"] is value


def test_a_stray_argument_is_reported_and_the_server_starts_anyway():
    """main.cc: ``argc != 1`` after Flags::Parse prints "unknown argument" and goes on."""
    stray = []
    assert parse_flags(["serve", "--port=9000"], stray)["port"] == 9000
    assert stray == ["serve"]


def test_rest_is_off_unless_its_port_is_given():
    assert parse_flags([])["rest_api_port"] == 0          # server.h: http_port = 0
    assert parse_flags([])["model_config_file_poll_wait_seconds"] == 0   # never polled
    flags = compose_service(shipped_compose(), "serving", env={})["flags"]
    assert parse_flags(flags)["rest_api_port"] == 8501
    assert parse_flags(flags)["model_config_file_poll_wait_seconds"] > 0


def test_a_batching_file_without_batching_is_refused(published, config_dir):
    flags, mounts = _compose_flags_and_mounts(published[0], config_dir)
    with pytest.raises(StartupRefused, match="batching_parameters_file is set without"):
        StandIn(flags + ["--batching_parameters_file=/config/models.config"], mounts)


def test_promote_and_rollback_reach_the_running_server(two_versions, config_dir, start_compose):
    server = start_compose(two_versions, config_dir)
    path = str(config_dir / "models.config")
    assert config_files.promote("canary", 2, path).startswith("step 1 of 2")
    server.core.poll_once()                      # what the 30 s poll does
    assert dict(server.core.status("cgan"))[2] == "AVAILABLE"
    assert label_version(server, "canary") == 1  # step 1 loads, moves nothing
    config_files.promote("canary", 2, path, loaded_versions={1, 2})
    server.core.poll_once()
    assert (label_version(server, "canary"), label_version(server, "stable")) == (2, 1)
    config_files.rollback("canary", path)
    server.core.poll_once()
    assert label_version(server, "canary") == 1 and server.core.reload_errors == []


def test_a_one_step_label_move_is_refused_and_applies_nothing(two_versions, config_dir,
                                                              start_compose):
    # UpdateModelVersionLabelMap refuses an existing label moving to an unloaded
    # version; ReloadConfig returns before AddModelsViaModelConfigList, so the
    # new version in the same edit never loads either.
    server = start_compose(two_versions, config_dir)
    path = config_dir / "models.config"
    path.write_text(path.read_text().replace("versions: 1", "versions: 1\n        versions: 2")
                    .replace('key: "canary"\n      value: 1', 'key: "canary"\n      value: 2'))
    server.core.poll_once()
    assert "which is not currently available" in server.core.reload_errors[-1]
    assert server.core.status("cgan") == [(1, "AVAILABLE")]
    assert label_version(server, "canary") == 1


def test_a_broken_config_on_a_poll_changes_nothing(published, config_dir, start_compose):
    # server.cc PollFilesystemAndReloadConfig logs a parse error and returns.
    server = start_compose(published[0], config_dir)
    (config_dir / "models.config").write_text("model_config_list { config { nam: 'x' } }")
    server.core.poll_once()
    assert "Invalid protobuf file" in server.core.reload_errors[-1]
    assert label_version(server, "stable") == 1


def test_a_single_file_mount_never_sees_a_promote(two_versions, config_dir):
    # Why compose mounts the folder: a single-file bind mount keeps the inode it
    # had at start, and `model-pkg promote` writes a new one by rename.
    flags, mounts = _compose_flags_and_mounts(two_versions, config_dir)
    mounts = [m for m in mounts if m[1] != "/config"] + [
        (str(config_dir / name), f"/config/{name}", "ro")
        for name in ("models.config", "monitoring.config")]
    server = StandIn(flags, mounts)
    try:
        config_files.promote("canary", 2, str(config_dir / "models.config"))
        server.core.poll_once()
        assert server.core.status("cgan") == [(1, "AVAILABLE")]   # the old file, still
    finally:
        server.close()


def test_status_ignores_the_label_and_keeps_unloaded_versions(two_versions, config_dir,
                                                             start_compose):
    # get_model_status_impl.cc reads only the version; END versions stay listed.
    server = start_compose(two_versions, config_dir)
    rest = RestClient(server.rest_url, label="no-such-label", retries=0)
    assert [s["version"] for s in rest.status()["model_version_status"]] == ["1"]
    path = str(config_dir / "models.config")
    config_files.promote("canary", 2, path)
    server.core.poll_once()
    config_files.promote("canary", 2, path, loaded_versions={1, 2})
    config_files.promote("stable", 2, path, loaded_versions={1, 2})
    server.core.poll_once()
    text = (config_dir / "models.config").read_text().replace("versions: 1\n", "", 1)
    (config_dir / "models.config").write_text(text)
    server.core.poll_once()
    assert server.core.status("cgan") == [(2, "AVAILABLE"), (1, "END")]


def test_the_compose_healthcheck_passes_against_a_serving_server(published, config_dir,
                                                                 start_compose):
    import subprocess

    server = start_compose(published[0], config_dir)
    test = compose_service(shipped_compose(), "serving", env={})["healthcheck"]
    assert test[0] == "CMD"
    port = server.rest_url.rsplit(":", 1)[1]
    command = [arg.replace("127.0.0.1/8501", f"127.0.0.1/{port}") for arg in test[1:]]
    assert subprocess.run(command, timeout=30).returncode == 0
