"""deploy/tfjob/tfjob.yaml: a TFJob whose command is a valid multi-worker `model-pkg train`.

Checked offline: against the training operator's own TFJob CRD schema (v1.9.0, vendored in
deploy/tfjob/crd/ with its source), unknown fields refused; and what the package itself
decides: the command line, the container the operator looks for, its port, and the shared
workdir.
"""

import copy
import os

import yaml

from model_pkg.cli import build_parser
from tests.crd import crd_schema, schema_errors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _job():
    with open(os.path.join(ROOT, "deploy", "tfjob", "tfjob.yaml")) as handle:
        return yaml.safe_load(handle)


def test_the_tfjob_runs_a_valid_multi_worker_train_on_a_shared_workdir():
    job = _job()
    assert (job["apiVersion"], job["kind"]) == ("kubeflow.org/v1", "TFJob")
    specs = job["spec"]["tfReplicaSpecs"]
    assert set(specs) == {"Worker"} and specs["Worker"]["replicas"] >= 2   # worker 0: chief
    pod = specs["Worker"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["name"] == "tensorflow"   # the operator's default container name
    assert container["ports"] == [{"name": "tfjob-port", "containerPort": 2222}]
    command = container["command"]
    assert command[0] == "model-pkg"
    args = build_parser().parse_args(command[1:])
    assert (args.command, args.strategy) == ("train", "multi-worker")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert args.workdir.startswith(mounts["workdir"] + "/")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "persistentVolumeClaim" in volumes["workdir"]   # one volume every worker mounts


def test_the_tfjob_validates_against_the_operators_crd():
    schema = crd_schema(os.path.join(ROOT, "deploy", "tfjob", "crd"), "kubeflow.org_tfjobs.yaml.gz",
                        "TFJob", "v1")
    job = _job()
    assert schema_errors(schema, job) == []
    bad = copy.deepcopy(job)
    bad["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = "two"
    bad["spec"]["runPolicy"]["cleanupPolicy"] = "None"   # a typo of cleanPodPolicy
    assert len(schema_errors(schema, bad)) == 2
