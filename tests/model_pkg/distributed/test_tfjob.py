"""deploy/tfjob/tfjob.yaml: a TFJob whose command is a valid multi-worker `model-pkg train`.

The manifest was validated against the training operator's published TFJob CRD schema when
it was written (docs/distributed.md); that CRD is not vendored (no PyPI or npm package
carries it), so this test checks what the package itself decides: the command line, the
container the operator looks for, its port, and the shared workdir.
"""

import os

import yaml

from model_pkg.cli import build_parser

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
