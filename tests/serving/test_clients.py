"""REST and gRPC clients against the stand-in, checked against ONNX Runtime."""

import json
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from model_pkg import contract
from model_pkg.export import parity
from model_pkg.serving.errors import (
    ModelNotFound,
    RequestRefused,
    ServerUnavailable,
    ServingTimeout,
)
from model_pkg.serving.grpc_client import GrpcClient, tensor_proto
from model_pkg.serving.local_clients import OnnxClient
from model_pkg.serving.rest_client import RestClient
from model_pkg.validation import InputError
from tests.threads import run_in_threads


@pytest.fixture(scope="module")
def onnx_client(published):
    return OnnxClient(published[1], device="cpu")


def _clients(standin):
    return {"rest row": RestClient(standin.rest_url, fmt="row"),
            "rest columnar": RestClient(standin.rest_url, fmt="columnar"),
            "rest label": RestClient(standin.rest_url, label="stable"),
            "grpc": GrpcClient(standin.grpc_target),
            "grpc version": GrpcClient(standin.grpc_target, version=1)}


@pytest.mark.parametrize("name", ["rest row", "rest columnar", "rest label", "grpc",
                                  "grpc version"])
def test_remote_outputs_equal_onnx(fresh_standin, onnx_client, name):
    client = _clients(fresh_standin)[name]
    for label, noise in parity.golden_inputs():
        np.testing.assert_allclose(client.generate(label, noise),
                                   onnx_client.generate(label, noise),
                                   rtol=0, atol=contract.PARITY_ATOL)


def test_status_and_metadata(fresh_standin):
    rest, grpc_client = RestClient(fresh_standin.rest_url), GrpcClient(fresh_standin.grpc_target)
    assert rest.status()["model_version_status"][0]["state"] == "AVAILABLE"
    signature = rest.metadata()["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sorted(signature["inputs"]) == ["label", "noise"]
    assert grpc_client.status().model_version_status[0].state == 30   # AVAILABLE
    assert grpc_client.metadata().metadata["signature_def"].type_url.endswith("SignatureDefMap")


@pytest.mark.parametrize("case", sorted(parity.bad_inputs()))
def test_clients_refuse_bad_input_before_sending(fresh_standin, case):
    label, noise = parity.bad_inputs()[case]
    before = fresh_standin.requests
    for client in _clients(fresh_standin).values():
        with pytest.raises(InputError):
            client.generate(label, noise)
    assert fresh_standin.requests == before


def _post(url, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + "/v1/models/cgan:predict", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


ROW = [0.0] * 100
RAW_REST_BAD = {
    "label -1": {"instances": [{"label": -1, "noise": ROW}]},
    "label 10": {"inputs": {"label": [10], "noise": [ROW]}},
    "float label": {"instances": [{"label": 2.5, "noise": ROW}]},
    "string label": {"instances": [{"label": "7", "noise": ROW}]},
    "noise of 99": {"instances": [{"label": 1, "noise": ROW[:99]}]},
    "NaN noise": b'{"instances": [{"label": 1, "noise": [NaN' + b", 0.0" * 99 + b"]}]}",
    "Infinity noise": b'{"inputs": {"label": [1], "noise": [[Infinity' + b", 0.0" * 99 + b"]]}}",
    "N = 0": {"inputs": {"label": [], "noise": []}},
    "different N": {"inputs": {"label": [1, 2], "noise": [ROW]}},
    "missing input": {"instances": [{"label": 1}]},
    "extra input": {"instances": [{"label": 1, "noise": ROW, "style": 3}]},
    "wrong signature": {"signature_name": "nope", "instances": [{"label": 1, "noise": ROW}]},
    "above max batch": {"inputs": {"label": [1] * (contract.MAX_REQUEST_ROWS + 1),
                                   "noise": [ROW] * (contract.MAX_REQUEST_ROWS + 1)}},
    "not JSON": b"{label: 1",
}


@pytest.mark.parametrize("case", sorted(RAW_REST_BAD))
def test_the_server_itself_refuses_raw_bad_rest_requests(fresh_standin, case):
    code, body = _post(fresh_standin.rest_url, RAW_REST_BAD[case])
    assert code == 400 and "error" in body and "predictions" not in body
    assert _post(fresh_standin.rest_url, {"instances": [{"label": 3, "noise": ROW}]})[0] == 200


def test_the_server_refuses_raw_bad_grpc_requests(fresh_standin):
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    stub = prediction_service_pb2_grpc.PredictionServiceStub(
        grpc.insecure_channel(fresh_standin.grpc_target))
    noise = np.zeros((1, 100), np.float32)
    for label in (np.array([-1], np.int32), np.array([1.0], np.float32)):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "cgan"
        request.inputs["label"].CopyFrom(tensor_proto(label))
        request.inputs["noise"].CopyFrom(tensor_proto(noise))
        with pytest.raises(grpc.RpcError) as err:
            stub.Predict(request, timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("make", [lambda s: RestClient(s.rest_url, backoff_s=0.01),
                                  lambda s: GrpcClient(s.grpc_target, backoff_s=0.01)])
def test_503_then_ok_is_retried(fresh_standin, make):
    fresh_standin.inject(failures=2)
    images = make(fresh_standin).generate([4], np.zeros((1, 100)))
    assert images.shape == (1, 28, 28, 1)


def test_400_is_not_retried_and_the_message_surfaces(fresh_standin):
    fresh_standin.inject(failures=5, code="INVALID_ARGUMENT")
    before = fresh_standin.requests
    with pytest.raises(RequestRefused, match="HTTP 400: injected fault"):
        RestClient(fresh_standin.rest_url).generate([4], np.zeros((1, 100)))
    assert fresh_standin.requests == before + 1


def test_server_down_gives_a_clear_error_after_bounded_retries():
    began = time.perf_counter()
    for client in (RestClient("http://127.0.0.1:9", retries=2, backoff_s=0.01),
                   GrpcClient("127.0.0.1:9", retries=2, backoff_s=0.01, timeout_s=2)):
        with pytest.raises(ServerUnavailable, match="unavailable after 3 attempts"):
            client.generate([1], np.zeros((1, 100)))
    assert time.perf_counter() - began < 30


@pytest.mark.parametrize("make", [lambda s: RestClient(s.rest_url, timeout_s=0.3),
                                  lambda s: GrpcClient(s.grpc_target, timeout_s=0.3)])
def test_too_slow_times_out(fresh_standin, make):
    fresh_standin.inject(delay_s=1.5)
    with pytest.raises(ServingTimeout):
        make(fresh_standin).generate([1], np.zeros((1, 100)))


def test_unknown_version_or_label_is_not_found(fresh_standin):
    with pytest.raises(ModelNotFound):
        RestClient(fresh_standin.rest_url, version=7).generate([1], np.zeros((1, 100)))
    with pytest.raises(ModelNotFound):
        GrpcClient(fresh_standin.grpc_target, label="nope").generate([1], np.zeros((1, 100)))


def test_concurrent_callers_each_get_their_own_images(fresh_standin, onnx_client):
    rng = np.random.default_rng(3)
    jobs = [(rng.integers(0, 10, n), rng.standard_normal((n, 100)).astype(np.float32))
            for n in rng.integers(1, 40, 32)]
    expected = [onnx_client.generate(label, noise) for label, noise in jobs]
    clients = [RestClient(fresh_standin.rest_url), GrpcClient(fresh_standin.grpc_target)]

    def worker(i):
        for j in range(i, len(jobs), 16):
            out = clients[j % 2].generate(*jobs[j])
            np.testing.assert_allclose(out, expected[j], rtol=0, atol=contract.PARITY_ATOL)

    assert run_in_threads(worker, 16) == []


@pytest.mark.parametrize("label", ["sta ble", "../versions/1", "stable/metadata", "a:predict",
                                   "stäble", "", "x?y", "#"])
@pytest.mark.parametrize("client", ["rest", "grpc"])
def test_a_bad_label_is_refused_at_once_naming_it_not_retried(label, client):
    from model_pkg.serving.config_files import ConfigError

    began = time.perf_counter()
    with pytest.raises(ConfigError, match=r"label .*must be ASCII letters, digits, '-' or '_'"):
        if client == "rest":
            RestClient("http://127.0.0.1:9", label=label, retries=5, backoff_s=10)
        else:
            GrpcClient("127.0.0.1:9", label=label, retries=5, backoff_s=10)
    assert time.perf_counter() - began < 5   # no attempt, no backoff (import time aside)


@pytest.mark.parametrize("version", [True, 0, -3, "1"])
def test_a_version_that_is_not_an_integer_above_zero_is_refused(version):
    from model_pkg.serving.config_files import ConfigError

    with pytest.raises(ConfigError, match="must be an integer >= 1"):
        RestClient("http://127.0.0.1:9", version=version)


def test_path_parts_are_quoted():
    from model_pkg.serving.rest_client import model_path

    assert model_path("cgan", label="stable-2_b") == "/v1/models/cgan/labels/stable-2_b"
    assert model_path("c g/an", version=3) == "/v1/models/c%20g%2Fan/versions/3"
