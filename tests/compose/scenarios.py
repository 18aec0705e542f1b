"""`make compose-test`'s scenarios: each brings part of the shipped compose project up on a
real Docker engine, checks what a user would check, records numbers, and takes it down.
Each returns {"ok": bool, ...numbers}; a failed check raises AssertionError."""

import json
import os
import re
import time
import urllib.error
import urllib.request

import numpy as np

from tests.compose.stack import Stack, fresh_copy, output, run

SEED_STEPS = 30   # a short seed-preset version: serving is under test here, not quality
POLL_S = 30       # docker-compose.yml's --model_config_file_poll_wait_seconds


def _new_stack(ctx, files=("docker-compose.yml",)):
    """A fresh copy with ./artifacts/models made by this user (as `make serve` does)."""
    folder = fresh_copy(ctx["checkout"])
    os.makedirs(os.path.join(folder, "artifacts", "models"))
    return Stack(folder, ctx["images"], files)


def _as_me():
    return {"HOST_UID": str(os.getuid()), "HOST_GID": str(os.getgid())}


def publish_two_versions(stack):
    """The GitHub workflow's step: a short seed run, exported twice, in the pipeline image."""
    script = (f"model-pkg train --workdir artifacts/train/ct --preset seed --steps {SEED_STEPS} "
              "--no-progress && model-pkg export --workdir artifacts/train/ct --skip-quality "
              "&& model-pkg export --workdir artifacts/train/ct --skip-quality")
    began = time.time()
    stack.compose("run", "--rm", "--no-deps", "pipeline", "sh", "-c", script, env=_as_me())
    return time.time() - began


def _version_dir(stack, number):
    return os.path.join(stack.folder, "artifacts", "models", "cgan", str(number))


def _readme_curl(stack):
    """The README's REST call, run as written (bash, python3, curl)."""
    text = open(os.path.join(stack.folder, "README.md")).read()
    block = re.search(r"```bash\n(python3 -c .*?\| head -c 120)\n", text, re.S).group(1)
    return run(["bash", "-c", block], cwd=stack.folder).stdout


def _grpc_and_rest_equal_onnx(stack, version, rest="http://127.0.0.1:8501",
                              grpc_target="127.0.0.1:8500", **grpc_kw):
    from model_pkg.export import parity
    from model_pkg.serving.grpc_client import GrpcClient
    from model_pkg.serving.local_clients import OnnxClient
    from model_pkg.serving.rest_client import RestClient

    onnx = OnnxClient(_version_dir(stack, version), device="cpu")
    worst = 0.0
    for client in (GrpcClient(grpc_target, **grpc_kw), RestClient(rest)):
        for label, noise in parity.golden_inputs():
            worst = max(worst, float(np.abs(client.generate(label, noise)
                                            - onnx.generate(label, noise)).max()))
    assert worst <= 1e-5, f"served images differ from ONNX Runtime by {worst}"
    return worst


def _bad_requests_refused(rest="http://127.0.0.1:8501", grpc_target="127.0.0.1:8500"):
    import grpc

    request = urllib.request.Request(rest + "/v1/models/cgan:predict", method="POST",
                                     data=json.dumps({"instances": [
                                         {"label": 10, "noise": [0.0] * 100}]}).encode())
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("REST answered label 10")
    except urllib.error.HTTPError as err:
        assert err.code == 400 and "error" in json.loads(err.read()), err.code
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from model_pkg import contract
    from model_pkg.serving.grpc_client import tensor_proto

    # Past the client's own checks: the raw stub, as a foreign client would call it.
    request = predict_pb2.PredictRequest()
    request.model_spec.name = contract.MODEL_NAME
    request.inputs[contract.LABEL_KEY].CopyFrom(tensor_proto(np.array([12], np.int32)))
    request.inputs[contract.NOISE_KEY].CopyFrom(tensor_proto(np.zeros((1, 100), np.float32)))
    with grpc.insecure_channel(grpc_target) as channel:
        try:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request,
                                                                                timeout=30)
            raise AssertionError("gRPC answered label 12")
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.code()
    return "400 / INVALID_ARGUMENT"


def readme_path(ctx):
    """Fresh clone, a short version published first, `make serve` as the README says."""
    stack = _new_stack(ctx)
    try:
        publish_s = publish_two_versions(stack)
        proc = stack.popen(["make", "serve"])
        healthy_s = stack.wait_healthy("serving", proc=proc)
        log = output(proc)
        assert "already published" in log, f"the pipeline did not skip training:\n{log[-3000:]}"
        assert "TF Serving can start" in log, "no check-serving verdict in the output"
        curl = _readme_curl(stack)
        assert curl.startswith('{') and "predictions" in curl, curl[:200]
        worst = _grpc_and_rest_equal_onnx(stack, 1)
        bad = _bad_requests_refused()
        return {"ok": True, "publish_s": round(publish_s), "healthy_s": round(healthy_s),
                "max_diff": worst, "bad_request": bad}
    finally:
        ctx["leftovers"] += stack.down()
        if "proc" in locals():
            proc.wait(timeout=60)


def first_run_as_root_and_training(ctx):
    """Root without HOST_UID: the advice printed must work; then a first run that trains."""
    stack = _new_stack(ctx)
    try:
        refused = stack.compose("up", "--no-color", "--attach-dependencies", "serving",
                                check=False, timeout=300)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0, "the pipeline wrote into a root-owned ./artifacts"
        assert "HOST_UID=$(id -u) HOST_GID=$(id -g) docker compose up serving" in said, said[-800:]
        stack.compose("down", check=False)
        steps = ctx["train_steps"]
        proc = stack.popen(["make", "serve"], env={
            "PIPELINE_ARGS": f"--preset seed --steps {steps} --skip-quality"})
        healthy_s = stack.wait_healthy("serving", proc=proc, timeout=900)
        lines = re.findall(r"train: step (\d+)/(\d+).*? ([\d.]+) steps/s", output(proc))
        assert lines and int(lines[-1][0]) == steps, "no training progress in make serve's output"
        rate = float(lines[-1][2])
        return {"ok": True, "root_message": "HOST_UID=$(id -u) ...", "steps": steps,
                "progress_lines": len(lines), "ms_per_step": round(1000 / rate, 1),
                "healthy_s": round(healthy_s)}
    finally:
        ctx["leftovers"] += stack.down()
        if "proc" in locals():
            proc.wait(timeout=60)
