"""`make compose-test`'s scenarios past the README path: the live test module, label moves,
TLS, the scale profile under a kill, and multi-worker training across containers."""

import os
import subprocess
import sys

from tests.compose.scenarios import (
    POLL_S,
    _as_me,
    _grpc_and_rest_equal_onnx,
    _new_stack,
    _version_dir,
    publish_two_versions,
)
from tests.compose.stack import run, wait_until

REST = "http://127.0.0.1:8501"


def _serving_stack(ctx, files=("docker-compose.yml",), service="serving"):
    """A fresh copy with two short versions published and ``service`` up and healthy."""
    stack = _new_stack(ctx, files)
    publish_two_versions(stack)
    stack.compose("up", "--detach", service, env=_as_me())
    healthy_s = stack.wait_healthy(service)
    return stack, healthy_s


def live_tests_twice(ctx):
    """tests/serving/test_live_tfserving.py against the container, twice in a row."""
    stack, _ = _serving_stack(ctx)
    try:
        env = dict(os.environ, TF_SERVING_REST_URL=REST, TF_SERVING_GRPC_TARGET="127.0.0.1:8500",
                   TF_SERVING_VERSION_DIR=_version_dir(stack, 1),
                   TF_SERVING_MODELS_DIR=os.path.join(stack.folder, "artifacts", "models"),
                   TF_SERVING_CONFIG_DIR=os.path.join(stack.folder, "serving", "config"))
        counts = []
        for _ in range(2):
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p",
                                   "no:cacheprovider", "tests/serving/test_live_tfserving.py"],
                                  cwd=ctx["checkout"], env=env, text=True, capture_output=True,
                                  timeout=900)
            last = done.stdout.strip().splitlines()[-1]
            assert done.returncode == 0 and "skipped" not in last, done.stdout[-3000:]
            counts.append(last)
        return {"ok": True, "runs": counts}
    finally:
        ctx["leftovers"] += stack.down()


def _model_pkg(*args, cwd):
    return run([os.path.join(os.path.dirname(sys.executable), "model-pkg"), *args], cwd=cwd)


def promote_and_rollback(ctx):
    """`model-pkg promote` twice and `rollback` on the mounted folder: each seen in one poll."""
    from model_pkg.serving.rest_client import RestClient

    stack, _ = _serving_stack(ctx)
    try:
        config = os.path.join(stack.folder, "serving", "config", "models.config")

        def canary():
            return int(RestClient(REST, label="canary", retries=0).metadata()
                       ["model_spec"]["version"])

        def loaded():
            return {int(s["version"]) for s in RestClient(REST, retries=0).status()
                    ["model_version_status"] if s["state"] == "AVAILABLE"}

        limit = POLL_S + 15   # one poll, plus the load of a small version
        _model_pkg("promote", "--label", "canary", "--version", "2", "--config", config,
                   cwd=stack.folder)
        step1 = wait_until(lambda: 2 in loaded(), limit, "version 2 AVAILABLE")
        _model_pkg("promote", "--label", "canary", "--version", "2", "--config", config,
                   cwd=stack.folder)
        step2 = wait_until(lambda: canary() == 2, limit, "canary -> 2")
        _model_pkg("rollback", "--label", "canary", "--config", config, cwd=stack.folder)
        back = wait_until(lambda: canary() == 1, limit, "canary back to 1")
        return {"ok": True, "step1_s": round(step1), "step2_s": round(step2),
                "rollback_s": round(back), "poll_s": POLL_S}
    finally:
        ctx["leftovers"] += stack.down()


def _give_to_nobody_group(path):
    """docs/security.md: ssl.config stays 0640, group 65534 (TF Serving runs as nobody)."""
    if os.getuid() == 0:
        os.chown(path, -1, 65534)
    else:   # a CI runner's user, with passwordless sudo
        run(["sudo", "-n", "chgrp", "65534", path])


def tls_override(ctx):
    """docker-compose.tls.yml: gRPC over TLS equals ONNX Runtime; plaintext is refused."""
    import trustme

    from model_pkg.serving.grpc_client import GrpcClient

    stack = _new_stack(ctx, files=("docker-compose.yml", "docker-compose.tls.yml"))
    try:
        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        paths = {name: os.path.join(stack.folder, f"{name}.pem") for name in ("ca", "key", "crt")}
        ca.cert_pem.write_to_path(paths["ca"])
        cert.private_key_pem.write_to_path(paths["key"])
        cert.cert_chain_pems[0].write_to_path(paths["crt"])
        ssl_config = os.path.join(stack.folder, "serving", "config", "ssl.config")
        _model_pkg("tls-config", "--key", paths["key"], "--cert", paths["crt"], "--out",
                   ssl_config, cwd=stack.folder)
        _give_to_nobody_group(ssl_config)
        publish_two_versions(stack)
        up = stack.compose("up", "--detach", "serving", env=_as_me(), check=False)
        assert up.returncode == 0, up.stderr[-1000:] + stack.logs("pipeline")
        stack.wait_healthy("serving")
        worst = _grpc_and_rest_equal_onnx(stack, 1, grpc_target="localhost:8500",
                                          ca_file=paths["ca"])
        try:
            GrpcClient("127.0.0.1:8500", retries=0, timeout_s=10).status()
            raise AssertionError("plaintext gRPC was answered on the TLS port")
        except Exception as err:  # noqa: BLE001 - the client's own error type wraps gRPC's
            assert "answered" not in str(err), err
            refused = type(err).__name__
        return {"ok": True, "tls_max_diff": worst, "plaintext": f"refused ({refused})"}
    finally:
        ctx["leftovers"] += stack.down()

