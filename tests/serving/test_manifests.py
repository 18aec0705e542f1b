"""The scale-out configuration checked offline: Kubernetes manifests, KServe, compose.

Validated, not run: no cluster and no Docker engine here (docs/scale_out.md says what
ran). kubernetes-validate in strict mode (unknown fields fail) on every deploy/k8s
manifest, where a kind it has no schema for is a failure, not its warning; the KServe
InferenceService against KServe's own CRD schema (vendored, deploy/kserve/crd); both
compose files against the compose spec (check-jsonschema's vendored copy). Plus the
manifests kept in step with docker-compose.yml and serving/config/.
"""

import copy
import glob
import os
import subprocess
import sys

import pytest
import yaml

from tests.crd import crd_schema, schema_errors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S = sorted(glob.glob(os.path.join(ROOT, "deploy", "k8s", "*.yaml")))
KSERVE = os.path.join(ROOT, "deploy", "kserve")
# The oldest and the newest Kubernetes minor release the manifests are checked against.
K8S_VERSIONS = ["1.31.0", "1.37.0"]


def _documents(path):
    with open(path) as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def k8s_problems(resource, version):
    """[] when ``resource`` validates strictly; a schema that is missing is a problem too."""
    kv = pytest.importorskip("kubernetes_validate")
    try:
        kv.validate(resource, version, strict=True)
    except kv.ValidationError as err:
        return [f"{'.'.join(map(str, err.path))}: {err.message}"]
    except kv.SchemaNotFoundError as err:   # the CLI only warns here
        return [f"no schema: {err.message}"]
    return []


def test_every_manifest_is_checked():
    names = {os.path.basename(p) for p in K8S}
    assert {"deployment.yaml", "service-rest.yaml", "service-grpc.yaml", "hpa.yaml",
            "configmap.yaml", "models-pvc.yaml", "pdb.yaml"} <= names


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", K8S, ids=os.path.basename)
def test_kubernetes_manifests_validate_strictly(path, version):
    for resource in _documents(path):
        assert k8s_problems(resource, version) == [], path


def test_the_strict_check_fails_on_typos_and_unknown_kinds():
    deployment = _documents(os.path.join(ROOT, "deploy", "k8s", "deployment.yaml"))[0]
    bad = copy.deepcopy(deployment)
    bad["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"exec": {}}
    assert k8s_problems(bad, K8S_VERSIONS[-1])
    isvc = _documents(os.path.join(KSERVE, "inferenceservice.yaml"))[0]
    assert k8s_problems(isvc, K8S_VERSIONS[-1])[0].startswith("no schema")


@pytest.fixture(scope="module")
def isvc_schema():
    return crd_schema(os.path.join(KSERVE, "crd"), "serving.kserve.io_inferenceservices.yaml.gz",
                      "InferenceService", "v1beta1")


def test_the_inferenceservice_validates_against_kserves_crd(isvc_schema):
    isvc = _documents(os.path.join(KSERVE, "inferenceservice.yaml"))[0]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["metadata"]["name"] == "cgan"   # --model_name: REST stays /v1/models/cgan
    assert schema_errors(isvc_schema, isvc) == []
    bad = copy.deepcopy(isvc)
    bad["spec"]["predictor"]["model"]["storageUrl"] = "typo"
    bad["spec"]["predictor"]["minReplicas"] = "three"
    assert len(schema_errors(isvc_schema, bad)) == 2


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.tls.yml"])
def test_compose_files_validate_against_the_compose_spec(name):
    pytest.importorskip("check_jsonschema")
    out = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                          "vendor.compose-spec", os.path.join(ROOT, name)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.fixture(scope="module")
def compose():
    from tests.serving.standin.flags import interpolate

    with open(os.path.join(ROOT, "docker-compose.yml")) as handle:
        return yaml.safe_load(interpolate(handle.read(), {}))["services"]


def _container(name="deployment.yaml"):
    return _documents(os.path.join(ROOT, "deploy", "k8s", name))[0]["spec"]["template"][
        "spec"]["containers"][0]


def test_the_deployment_runs_compose_flags_plus_the_connection_age(compose):
    container = _container()
    assert container["command"] == compose["serving"]["entrypoint"]
    extra = [f for f in container["args"] if f not in compose["serving"]["command"]]
    assert container["args"][:len(compose["serving"]["command"])] == compose["serving"]["command"]
    assert extra == ["--grpc_channel_arguments=grpc.max_connection_age_ms=300000,"
                     "grpc.max_connection_age_grace_ms=30000"]
    assert container["image"] == compose["serving"]["image"]
    # Ready exactly when compose's healthcheck passes: a version AVAILABLE.
    assert container["readinessProbe"]["exec"]["command"] == \
        compose["serving"]["healthcheck"]["test"][1:]
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]}
    assert mounts == {"/config": True, "/models": True, "/tmp": False}


def test_the_configmap_is_serving_config():
    data = _documents(os.path.join(ROOT, "deploy", "k8s", "configmap.yaml"))[0]["data"]
    folder = os.path.join(ROOT, "serving", "config")
    assert data == {name: open(os.path.join(folder, name)).read()
                    for name in os.listdir(folder) if name.endswith(".config")}


def test_grpc_goes_through_a_headless_service_and_rest_through_a_cluster_ip():
    grpc = _documents(os.path.join(ROOT, "deploy", "k8s", "service-grpc.yaml"))[0]["spec"]
    rest = _documents(os.path.join(ROOT, "deploy", "k8s", "service-rest.yaml"))[0]["spec"]
    assert grpc["clusterIP"] == "None" and grpc["ports"][0]["port"] == 8500
    assert rest["type"] == "ClusterIP" and rest["ports"][0]["port"] == 8501
