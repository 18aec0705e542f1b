"""TF Serving's config files parse with its protos; compose is exact; labels move legally."""

import os
import shutil

import pytest
import yaml
from google.protobuf import text_format

from export import artifacts
from serving import config_files, protos
from serving.config_files import ConfigError

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


def test_batching_matches_the_warmup_and_the_clients_limit():
    params = config_files.load_batching_config()
    assert params.max_batch_size.value == config_files.MAX_BATCH
    assert tuple(params.allowed_batch_sizes) == artifacts.WARMUP_BATCH_SIZES


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


def test_batching_sizes_must_end_at_max(tmp_path):
    bad = tmp_path / "b.txt"
    bad.write_text("max_batch_size { value: 64 } num_batch_threads { value: 1 } "
                   "allowed_batch_sizes: 1 allowed_batch_sizes: 32")
    with pytest.raises(ConfigError, match="must increase and end at max_batch_size 64"):
        config_files.load_batching_config(str(bad))


def test_compose_serving_service_is_exact(compose):
    serving = compose["services"]["serving"]
    assert serving["image"] == "tensorflow/serving:2.21.0"   # pinned, matches tensorflow
    import tensorflow as tf
    assert serving["image"].endswith(tf.__version__)
    flags = serving["command"]
    for flag in ("--port=8500", "--rest_api_port=8501", "--enable_batching=true",
                 "--model_config_file=/config/models.config",
                 "--batching_parameters_file=/config/batching_parameters.txt",
                 "--monitoring_config_file=/config/monitoring.config"):
        assert flag in flags
    assert any(f.startswith("--model_config_file_poll_wait_seconds=") for f in flags)
    assert serving["ports"] == ["8500:8500", "8501:8501"]
    assert "/v1/models/cgan" in " ".join(serving["healthcheck"]["test"])
    assert serving["depends_on"]["pipeline"]["condition"] == "service_completed_successfully"


def test_compose_mounts_exist_and_models_are_read_only(compose):
    mounts = compose["services"]["serving"]["volumes"]
    for mount in mounts:
        source, target, mode = mount.split(":")
        assert mode == "ro", mount
        if not source.startswith("./artifacts"):
            assert os.path.exists(os.path.join(ROOT, source)), source
    assert "./artifacts/models:/models:ro" in mounts
    _, model = config_files.load_models_config()
    assert model.base_path.startswith("/models/")
    flags = compose["services"]["serving"]["command"]
    for flag in flags:
        if flag.split("=")[0].endswith("_file"):
            target = flag.split("=", 1)[1]
            assert any(m.split(":")[1] == target for m in mounts), flag


def test_compose_gpu_variant_and_pipeline(compose):
    gpu = compose["services"]["serving-gpu"]
    assert gpu["image"] == "tensorflow/serving:2.21.0-gpu" and gpu["profiles"] == ["gpu"]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    pipeline = compose["services"]["pipeline"]
    assert pipeline["build"]["dockerfile"] == "serving/Dockerfile"
    assert os.path.exists(os.path.join(ROOT, "serving", "Dockerfile"))
    assert "--skip-if-published" in pipeline["command"]


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
