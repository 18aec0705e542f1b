"""TF Serving's config files parse with its protos; compose is exact; labels move legally."""

import os
import shutil

import pytest
import yaml
from google.protobuf import text_format

from model_pkg.serving import config_files, protos
from model_pkg.serving.config_files import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def compose():
    with open(os.path.join(ROOT, "docker-compose.yml")) as handle:
        return yaml.safe_load(handle)


def test_models_config_names_cgan_with_stable_and_canary():
    _, model = config_files.load_models_config()
    assert model.name == "cgan" and model.base_path == "/models/cgan"
    assert set(model.version_labels) == {"stable", "canary"}
    assert list(model.model_version_policy.specific.versions) == [1]


def test_monitoring_exposes_prometheus():
    config = config_files.load_monitoring_config()
    assert config.prometheus_config.path == "/monitoring/prometheus/metrics"


@pytest.mark.parametrize("text, message_class", [
    ("max_batch_size: 256", protos.batching_parameters),
    ("max_batch_size { value: 256 } unknown_field: 1", protos.batching_parameters),
    ("prometheus_config { enable: maybe }", protos.monitoring_config),
    ("model_config_list { config { nam: 'cgan' } }", protos.model_server_config),
])
def test_the_protos_reject_what_tf_serving_rejects(text, message_class):
    with pytest.raises(text_format.ParseError):
        text_format.Parse(text, message_class()())


def test_compose_serving_service_is_exact(compose):
    serving = compose["services"]["serving"]
    # The newest release tag of tensorflow/serving, overridable (docs/tf_serving.md).
    # The whole image is a variable away too (make compose-test's stand-in).
    assert serving["image"] == "${TF_SERVING_IMAGE:-tensorflow/serving:${TF_SERVING_TAG:-2.20.0}}"
    assert _resolved({})["serving"]["image"] == "tensorflow/serving:2.20.0"
    assert _resolved({"TF_SERVING_TAG": "2.19.1"})["serving"]["image"] == \
        "tensorflow/serving:2.19.1"
    assert _resolved({"TF_SERVING_IMAGE": "model-pkg/tf-serving-standin:latest"})["serving"][
        "image"] == "model-pkg/tf-serving-standin:latest"
    assert serving["entrypoint"] == ["tensorflow_model_server"] and serving["init"] is True
    flags = serving["command"]
    for flag in ("--port=8500", "--rest_api_port=8501",
                 "--model_config_file=/config/models.config",
                 "--allow_version_labels_for_unavailable_models=true",
                 "--monitoring_config_file=/config/monitoring.config"):
        assert flag in flags
    assert not any(f.startswith(("--enable_batching", "--batching_parameters")) for f in flags)
    assert any(f.startswith("--model_config_file_poll_wait_seconds=") for f in flags)
    assert serving["ports"] == ["${TF_SERVING_BIND:-127.0.0.1}:8500:8500",
                                "${TF_SERVING_BIND:-127.0.0.1}:8501:8501"]
    assert "/v1/models/cgan" in " ".join(serving["healthcheck"]["test"])
    assert serving["depends_on"]["pipeline"]["condition"] == "service_completed_successfully"


def test_compose_mounts_folders_read_only(compose):
    mounts = compose["services"]["serving"]["volumes"]
    assert mounts == ["${MODELS_DIR:-./artifacts/models}:/models:ro",
                      "${TF_SERVING_CONFIG_DIR:-./serving/config}:/config:ro"]
    assert os.path.isdir(os.path.join(ROOT, "serving", "config"))
    _, model = config_files.load_models_config()
    assert model.base_path.startswith("/models/")
    for flag in compose["services"]["serving"]["command"]:
        if flag.split("=")[0].endswith("_file"):
            target = flag.split("=", 1)[1]
            assert target.startswith("/config/"), flag
            assert os.path.exists(os.path.join(config_files.CONFIG_DIR, target[8:])), flag


def test_compose_gpu_variant_and_pipeline(compose):
    gpu = compose["services"]["serving-gpu"]
    assert _resolved({})["serving-gpu"]["image"] == "tensorflow/serving:2.20.0-gpu"
    assert gpu["profiles"] == ["gpu"]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    pipeline = compose["services"]["pipeline"]
    assert pipeline["build"]["dockerfile"] == "serving/Dockerfile"
    assert os.path.exists(os.path.join(ROOT, "serving", "Dockerfile"))
    assert "--skip-if-published" in pipeline["command"][-1]
    assert "model-pkg check-serving --config-dir /config" in pipeline["command"][-1]


@pytest.fixture
def config_copy(tmp_path):
    path = tmp_path / "models.config"
    shutil.copy(config_files.MODELS_CONFIG, path)
    return str(path)


def test_promote_is_two_steps_and_rollback_goes_back(config_copy):
    message = config_files.promote("canary", 2, config_copy)
    assert message.startswith("step 1 of 2")
    _, model = config_files.load_models_config(config_copy)
    assert list(model.model_version_policy.specific.versions) == [1, 2]
    assert model.version_labels["canary"] == 1
    assert config_files.promote("canary", 2, config_copy) == "'canary': 1 -> 2"
    assert config_files.load_models_config(config_copy)[1].version_labels["canary"] == 2
    assert config_files.rollback("canary", config_copy) == "'canary': 2 -> 1"
    with pytest.raises(ConfigError, match="no older served version"):
        config_files.rollback("canary", config_copy)


def test_promote_refuses_a_version_the_server_has_not_loaded(config_copy):
    config_files.promote("stable", 3, config_copy)
    with pytest.raises(ConfigError, match="version 3 is not loaded yet"):
        config_files.promote("stable", 3, config_copy, loaded_versions={1})


def test_a_label_on_an_unserved_version_is_refused(tmp_path):
    bad = tmp_path / "models.config"
    bad.write_text(open(config_files.MODELS_CONFIG).read().replace(
        'key: "stable"\n      value: 1', 'key: "stable"\n      value: 5'))
    with pytest.raises(ConfigError, match="label 'stable' -> 5 names a version outside"):
        config_files.load_models_config(str(bad))


def _resolved(env):
    from tests.serving.standin.flags import interpolate

    with open(os.path.join(ROOT, "docker-compose.yml")) as handle:
        return yaml.safe_load(interpolate(handle.read(), env))["services"]


@pytest.mark.parametrize("service", ["serving", "serving-gpu", "serving-replica", "balancer",
                                     "pipeline"])
def test_compose_is_hardened_by_default(service):
    # docs/security.md: why each setting, and what TF Serving's image needs.
    spec = _resolved({})[service]
    assert spec["read_only"] is True and spec["tmpfs"] == ["/tmp"]
    assert spec["cap_drop"] == ["ALL"] and "cap_add" not in spec
    assert spec["security_opt"] == ["no-new-privileges:true"]
    assert spec["mem_limit"] and spec["user"] and not spec["user"].startswith("0")
    for volume in spec["volumes"]:
        if service != "pipeline" or volume.endswith(":/config:ro"):
            assert volume.endswith(":ro"), volume
    if service != "pipeline":
        # nginx's image user for the balancer; nobody for TF Serving.
        assert spec["user"] == ("101:101" if service == "balancer" else "65534:65534")
        assert float(spec["cpus"]) > 0
        assert all(port.startswith("127.0.0.1:") for port in spec.get("ports", []))


def test_exposing_the_ports_is_a_variable_away():
    ports = _resolved({"TF_SERVING_BIND": "0.0.0.0"})["serving"]["ports"]
    assert ports == ["0.0.0.0:8500:8500", "0.0.0.0:8501:8501"]


def test_the_pipeline_runs_as_the_checkout_owner_and_checks_it_can_write():
    import subprocess

    pipeline = _resolved({"HOST_UID": "1234", "HOST_GID": "99"})["pipeline"]
    assert pipeline["user"] == "1234:99" and pipeline["environment"]["HOME"] == "/tmp"
    script = pipeline["command"][2].replace("$$", "$")
    assert script.startswith("{ test -w /app/artifacts ||")
    assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0   # it parses


def test_the_tls_override_adds_only_the_ssl_flag(compose):
    with open(os.path.join(ROOT, "docker-compose.tls.yml")) as handle:
        override = yaml.safe_load(handle)["services"]["serving"]["command"]
    assert override == compose["services"]["serving"]["command"] + [
        "--ssl_config_file=/config/ssl.config"]


def test_the_scale_profile_replicas_are_serving_without_host_ports(compose):
    # docs/scale_out.md: a fixed host port can be bound by one container only.
    services = compose["services"]
    replica, serving = services["serving-replica"], services["serving"]
    assert replica["profiles"] == ["scale"] and "ports" not in replica
    for key in ("image", "entrypoint", "command", "volumes", "healthcheck", "depends_on"):
        assert replica[key] == serving[key], key
    balancer = services["balancer"]
    assert balancer["profiles"] == ["scale"]
    assert balancer["depends_on"] == {"serving-replica": {"condition": "service_healthy"}}
    assert balancer["volumes"] == ["./deploy/compose:/config:ro"]
    assert balancer["command"][balancer["command"].index("-c") + 1] == "/config/nginx.conf"
    assert os.path.exists(os.path.join(ROOT, "deploy", "compose", "nginx.conf"))
    assert balancer["ports"] == ["${TF_SERVING_BIND:-127.0.0.1}:9500:8500",
                                 "${TF_SERVING_BIND:-127.0.0.1}:9501:8501"]


# Several processes, each promoting its own versions (step 1) at the same moment.
_PROMOTERS, _PROMOTES_EACH = 6, 5


def _promote_many(path, first, start):
    start.wait()
    for version in range(first, first + _PROMOTES_EACH):
        config_files.promote("canary", version, path)


def test_concurrent_promotes_from_several_processes_lose_no_update(config_copy):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    workers = [ctx.Process(target=_promote_many, args=(config_copy, 2 + i * _PROMOTES_EACH,
                                                       start)) for i in range(_PROMOTERS)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0] * _PROMOTERS
    _, model = config_files.load_models_config(config_copy)
    expected = list(range(1, 2 + _PROMOTERS * _PROMOTES_EACH))
    assert list(model.model_version_policy.specific.versions) == expected


@pytest.mark.parametrize("label", ["stäble", "ｓｔａｂｌｅ", "sta ble", "../x", "a/b", "", "٣"])
def test_promote_refuses_labels_outside_the_ascii_rule(config_copy, label):
    with pytest.raises(ConfigError, match="ASCII letters, digits"):
        config_files.promote(label, 1, config_copy)


def test_a_unicode_label_in_models_config_is_refused(tmp_path):
    bad = tmp_path / "models.config"
    bad.write_text(open(config_files.MODELS_CONFIG).read().replace('"stable"', '"stäble"'))
    with pytest.raises(ConfigError, match="label 'stäble'"):
        config_files.load_models_config(str(bad))


@pytest.mark.parametrize("version", [True, False, 0, -1, 2.0, "2"])
def test_promote_refuses_a_version_that_is_not_an_integer_above_zero(config_copy, version):
    with pytest.raises(ConfigError, match=f"--version {version!r}: must be an integer >= 1"):
        config_files.promote("canary", version, config_copy)
    assert list(config_files.load_models_config(config_copy)[1]
                .model_version_policy.specific.versions) == [1]
