"""The client and deployment checks against a real TF Serving, wherever one is reachable.

Two ways in, else every test skips and says why:
- An external server (the Docker workflow, .github/workflows/tf-serving.yml):
  TF_SERVING_REST_URL and/or TF_SERVING_GRPC_TARGET; TF_SERVING_VERSION_DIR
  (the served version folder, for parity); TF_SERVING_CONFIG_DIR (the folder
  mounted at /config, to move labels) with TF_SERVING_MODELS_DIR (to find
  version 2).
- ``tensorflow_model_server`` on PATH: the test starts it on loopback with the
  shipped docker-compose.yml flags (container paths mapped to temporary
  copies; the config poll shortened to 1 s) over two freshly exported versions.
"""

import json
import os
import shutil
import subprocess
import time
import urllib.request

import numpy as np
import pytest

from model_pkg import contract
from model_pkg.export import parity
from model_pkg.fileio import atomic_write_text
from model_pkg.serving import config_files
from model_pkg.serving.grpc_client import GrpcClient
from model_pkg.serving.local_clients import OnnxClient
from model_pkg.serving.rest_client import RestClient
from tests.ports import free_ports
from tests.serving.standin import shipped_compose
from tests.serving.standin.flags import compose_service
from tests.serving.test_clients import RAW_REST_BAD, _post

SKIP_REASON = ("no real TF Serving reachable: set TF_SERVING_REST_URL / TF_SERVING_GRPC_TARGET "
               "(and TF_SERVING_VERSION_DIR), or put tensorflow_model_server on PATH")
POLL_WAIT_S = 75   # an external server polls its config every 30 s (docker-compose.yml)


def _local_flags(models_dir, config_dir, grpc_port, rest_port):
    """The shipped compose flags with its container paths mapped to this machine's."""
    spec = compose_service(shipped_compose(), "serving", env={
        "MODELS_DIR": models_dir, "TF_SERVING_CONFIG_DIR": str(config_dir)})
    config = config_dir / "models.config"
    config.write_text(config.read_text().replace(
        'base_path: "/models/cgan"', f'base_path: "{os.path.join(models_dir, "cgan")}"'))
    flags = []
    for flag in spec["flags"]:
        name, _, value = flag.partition("=")
        if name == "--port":
            value = str(grpc_port)
        elif name == "--rest_api_port":
            value = str(rest_port)
        elif name == "--model_config_file_poll_wait_seconds":
            value = "1"
        elif value.startswith("/config/"):
            value = str(config_dir / value[len("/config/"):])
        flags.append(f"{name}={value}" if value else name)
    return flags


def _start_model_server(binary, models_dir, tmp_path):
    config_dir = tmp_path / "config"
    shutil.copytree(config_files.CONFIG_DIR, config_dir)
    grpc_port, rest_port = free_ports(2)
    # TF Serving has no bind-address flag: it listens on every interface
    # (server.cc: 0.0.0.0 for gRPC, evhttp_server.cc: :: for REST); we call loopback.
    proc = subprocess.Popen([binary, *_local_flags(models_dir, config_dir, grpc_port, rest_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{rest_port}"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if "AVAILABLE" in json.dumps(RestClient(url, retries=0).status()):
                return proc, url, f"127.0.0.1:{grpc_port}", config_dir
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(1)
    proc.kill()
    pytest.fail(f"tensorflow_model_server did not report AVAILABLE (exit code {proc.poll()})")


@pytest.fixture(scope="module")
def live(request, tmp_path_factory):
    """{"rest", "grpc", "version_dir", "config_dir", "models_dir"} of a real server."""
    env = os.environ
    if env.get("TF_SERVING_REST_URL") or env.get("TF_SERVING_GRPC_TARGET"):
        yield {"rest": env.get("TF_SERVING_REST_URL"), "grpc": env.get("TF_SERVING_GRPC_TARGET"),
               "version_dir": env.get("TF_SERVING_VERSION_DIR"),
               "config_dir": env.get("TF_SERVING_CONFIG_DIR"),
               "models_dir": env.get("TF_SERVING_MODELS_DIR"), "poll_s": POLL_WAIT_S}
        return
    binary = shutil.which("tensorflow_model_server")
    if not binary:
        pytest.skip(SKIP_REASON)
    models_dir = request.getfixturevalue("two_versions")
    proc, url, target, config_dir = _start_model_server(
        binary, models_dir, tmp_path_factory.mktemp("tfs"))
    yield {"rest": url, "grpc": target, "version_dir": os.path.join(models_dir, "cgan", "1"),
           "config_dir": str(config_dir), "models_dir": models_dir, "poll_s": 10}
    proc.terminate()
    proc.wait(timeout=30)


def _clients(live):
    clients = {}
    if live["rest"]:
        clients |= {"rest row": RestClient(live["rest"]),
                    "rest columnar": RestClient(live["rest"], fmt="columnar"),
                    "rest stable": RestClient(live["rest"], label="stable")}
    if live["grpc"]:
        clients["grpc"] = GrpcClient(live["grpc"])
    return clients


def test_live_server_reports_the_model_available(live):
    for name, client in _clients(live).items():
        status = client.status()
        if isinstance(status, dict):   # REST: GetModelStatusResponse as JSON
            states = [v["state"] for v in status["model_version_status"]]
        else:                          # gRPC: the proto; 30 is ModelVersionStatus.AVAILABLE
            states = ["AVAILABLE" if v.state == 30 else v.state
                      for v in status.model_version_status]
        assert "AVAILABLE" in states, (name, states)


def test_live_outputs_equal_onnx(live):
    if not live["version_dir"]:
        pytest.skip("set TF_SERVING_VERSION_DIR to the served version folder for parity")
    onnx = OnnxClient(live["version_dir"], device="cpu")
    for name, client in _clients(live).items():
        for label, noise in parity.golden_inputs():
            np.testing.assert_allclose(client.generate(label, noise), onnx.generate(label, noise),
                                       rtol=0, atol=contract.PARITY_ATOL, err_msg=name)


@pytest.mark.parametrize("case", sorted(RAW_REST_BAD))
def test_live_server_refuses_bad_requests_with_400(live, case):
    if not live["rest"]:
        pytest.skip("REST address not given")
    code, body = _post(live["rest"], RAW_REST_BAD[case])
    assert code == 400 and "error" in body, (code, body)


def test_live_prometheus_metrics(live):
    if not live["rest"]:
        pytest.skip("REST address not given")
    with urllib.request.urlopen(live["rest"] + "/monitoring/prometheus/metrics",
                                timeout=10) as reply:
        assert reply.status == 200 and b":tensorflow:" in reply.read()


def _wait_for(check, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(1)
    pytest.fail(f"{what}: not seen within {seconds} s")


def test_live_promote_and_rollback_move_the_label(live):
    """model-pkg promote's two steps, then rollback, seen over REST (labels/<l>/metadata)."""
    if not (live["rest"] and live["config_dir"] and live["models_dir"]):
        pytest.skip("needs TF_SERVING_REST_URL, TF_SERVING_CONFIG_DIR and TF_SERVING_MODELS_DIR")
    if not os.path.isdir(os.path.join(live["models_dir"], "cgan", "2")):
        pytest.skip("needs a published version 2")
    path = os.path.join(live["config_dir"], "models.config")
    rest = RestClient(live["rest"], retries=0)

    def canary():
        reply = RestClient(live["rest"], label="canary", retries=0).metadata()
        return int(reply["model_spec"]["version"])

    def loaded():
        return {int(s["version"]) for s in rest.status()["model_version_status"]
                if s["state"] == "AVAILABLE"}

    original = open(path).read()
    try:
        config_files.promote("canary", 2, path)
        _wait_for(lambda: 2 in loaded(), live["poll_s"], "version 2 AVAILABLE")
        config_files.promote("canary", 2, path, loaded_versions=loaded())
        _wait_for(lambda: canary() == 2, live["poll_s"], "canary -> 2")
        config_files.rollback("canary", path)
        _wait_for(lambda: canary() == 1, live["poll_s"], "canary back to 1")
    finally:
        # The server as this test found it: a second run (or the parity test after it)
        # must meet the same versions, not version 2 still served.
        atomic_write_text(path, original)
    _wait_for(lambda: loaded() == {1}, live["poll_s"], "the original config served again")
