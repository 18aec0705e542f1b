"""The same checks against a real TF Serving, wherever one is reachable.

Runs when TF_SERVING_REST_URL and/or TF_SERVING_GRPC_TARGET point at a server
that serves this package's model (set TF_SERVING_VERSION_DIR to the version
folder it serves, for the parity check), or when tensorflow_model_server is on
PATH: then the test starts it on loopback with this repository's batching and
monitoring files and a models.config pointing at a freshly exported version.
Skips, saying why, otherwise.
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest

from export import parity
from model_pkg import contract
from serving import config_files
from serving.grpc_client import GrpcClient
from serving.local_clients import OnnxClient
from serving.rest_client import RestClient
from tests.serving.test_clients import RAW_REST_BAD, _post

SKIP_REASON = ("no real TF Serving reachable: set TF_SERVING_REST_URL / TF_SERVING_GRPC_TARGET "
               "(and TF_SERVING_VERSION_DIR), or put tensorflow_model_server on PATH")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_model_server(binary, published, tmp_path):
    models_dir, version_dir = published
    config = tmp_path / "models.config"
    config.write_text(open(config_files.MODELS_CONFIG).read().replace(
        'base_path: "/models/cgan"', f'base_path: "{os.path.join(models_dir, "cgan")}"'))
    grpc_port, rest_port = _free_port(), _free_port()
    proc = subprocess.Popen([
        binary, f"--port={grpc_port}", f"--rest_api_port={rest_port}",
        "--rest_api_bind_address=127.0.0.1",
        f"--model_config_file={config}", "--enable_batching=true",
        f"--batching_parameters_file={config_files.BATCHING_CONFIG}",
        f"--monitoring_config_file={config_files.MONITORING_CONFIG}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{rest_port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if "AVAILABLE" in json.dumps(RestClient(url, retries=0).status()):
                return proc, url, f"127.0.0.1:{grpc_port}", version_dir
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(1)
    proc.kill()
    pytest.fail("tensorflow_model_server did not report AVAILABLE within 120 s")


@pytest.fixture(scope="module")
def live(published, tmp_path_factory):
    rest, grpc_target = os.environ.get("TF_SERVING_REST_URL"), os.environ.get(
        "TF_SERVING_GRPC_TARGET")
    if rest or grpc_target:
        yield rest, grpc_target, os.environ.get("TF_SERVING_VERSION_DIR")
        return
    binary = shutil.which("tensorflow_model_server")
    if not binary:
        pytest.skip(SKIP_REASON)
    proc, url, target, version_dir = _start_model_server(
        binary, published, tmp_path_factory.mktemp("tfs"))
    yield url, target, version_dir
    proc.terminate()
    proc.wait(timeout=30)


def _clients(live):
    rest, target, _ = live
    clients = {}
    if rest:
        clients |= {"rest row": RestClient(rest), "rest columnar": RestClient(rest, fmt="columnar"),
                    "rest stable": RestClient(rest, label="stable")}
    if target:
        clients["grpc"] = GrpcClient(target)
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
    if not live[2]:
        pytest.skip("set TF_SERVING_VERSION_DIR to the served version folder for parity")
    onnx = OnnxClient(live[2], device="cpu")
    for name, client in _clients(live).items():
        for label, noise in parity.golden_inputs():
            np.testing.assert_allclose(client.generate(label, noise), onnx.generate(label, noise),
                                       rtol=0, atol=contract.PARITY_ATOL, err_msg=name)


@pytest.mark.parametrize("case", sorted(RAW_REST_BAD))
def test_live_server_refuses_bad_requests_with_400(live, case):
    if not live[0]:
        pytest.skip("REST address not given")
    code, body = _post(live[0], RAW_REST_BAD[case])
    assert code == 400 and "error" in body, (code, body)


def test_live_prometheus_metrics(live):
    if not live[0]:
        pytest.skip("REST address not given")
    with urllib.request.urlopen(live[0] + "/monitoring/prometheus/metrics", timeout=10) as reply:
        assert reply.status == 200 and b":tensorflow:" in reply.read()
