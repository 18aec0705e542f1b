"""TF Serving's REST and gRPC behaviour and its batching, as its source has them.

Each test holds one row of docs/tf_serving.md: the stand-in must do what the
cited code does, so that the clients are tested against TF Serving's
behaviour, not against our beliefs about it.
"""

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from tests.serving.standin import StandIn, shipped_compose
from tests.serving.standin.flags import compose_service
from tests.serving.test_clients import ROW, _post
from tests.threads import run_in_threads


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, reply.headers.get("Content-Type"), reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type"), err.read().decode()


def test_rest_routing(fresh_standin):
    # http_server.cc Dispatch (only /v1/...), http_rest_api_handler.cc ProcessRequest.
    url = fresh_standin.rest_url
    code, kind, body = _get(url + "/healthz")
    assert (code, kind) == (404, "text/html") and "Not Found" in body
    code, _, body = _get(url + "/v1/models/cgan:predict")       # GET on the predict path
    assert code == 400 and json.loads(body)["error"].startswith("Malformed request: GET")
    code, _, body = _get(url + "/v1/models")
    assert code == 400 and json.loads(body)["error"] == "Missing model name in request."


@pytest.mark.parametrize("path, code, message", [
    ("/v1/models/nope", 404, "Could not find any versions of model nope"),
    ("/v1/models/cgan/versions/7", 404, "Could not find version 7 of model cgan"),
    ("/v1/models/nope/metadata", 404, "Servable not found for request: Latest(nope)"),
    ("/v1/models/cgan/versions/7/metadata", 404,
     "Servable not found for request: Specific(cgan, 7)"),
    ("/v1/models/cgan/labels/nope/metadata", 400, "Unrecognized servable version label: nope"),
])
def test_rest_error_codes_and_bodies(fresh_standin, path, code, message):
    # http_server.cc ToHTTPStatusCode; json_tensor.cc MakeJsonFromStatus.
    got, _, body = _get(fresh_standin.rest_url + path)
    assert (got, json.loads(body)) == (code, {"error": message})


def test_a_parse_model_info_error_is_400_with_an_empty_body(fresh_standin):
    """http_rest_api_handler.cc ProcessRequest: ParseModelInfo's error returns before
    MakeJsonFromStatus writes the JSON (a version past int64 fails absl::SimpleAtoi)."""
    got, _, body = _get(fresh_standin.rest_url + "/v1/models/cgan/versions/" + "9" * 20)
    assert (got, body) == (400, "")


def test_rest_labels_are_percent_decoded(fresh_standin):
    """ParseModelInfo's DecodeArg (curl_easy_unescape): %73table is the label stable."""
    got, _, body = _get(fresh_standin.rest_url + "/v1/models/cgan/labels/%73table/metadata")
    assert got == 200 and json.loads(body)["model_spec"]["version"] == "1"


@pytest.mark.parametrize("value, accepted", [(3, True), (3.0, False), (True, False),
                                             ("3", False), (2**31, False)])
def test_rest_label_takes_json_integers_only(fresh_standin, value, accepted):
    # json_tensor.cc AddValueToTensor: DT_INT32 needs IsInt(); floats take any number.
    code, body = _post(fresh_standin.rest_url, {"instances": [{"label": value, "noise": ROW}]})
    assert (code == 200) == accepted, body
    if not accepted:
        assert "key: label" in body["error"] and "is not of expected type: int32" in body["error"]


def test_rest_noise_takes_json_integers(fresh_standin):
    code, body = _post(fresh_standin.rest_url, {"instances": [{"label": 1, "noise": [0] * 100}]})
    assert code == 200 and np.asarray(body["predictions"]).shape == (1, 28, 28, 1)


def test_rest_row_and_columnar(fresh_standin):
    # json_tensor.cc: row keys must equal the signature's; columnar ignores extras;
    # MakeJsonFromTensors answers "predictions" (row) or "outputs" (columnar).
    url = fresh_standin.rest_url
    code, body = _post(url, {"inputs": {"label": [1], "noise": [ROW], "style": 3}})
    assert code == 200 and list(body) == ["outputs"]
    code, body = _post(url, {"instances": [{"label": 1, "noise": ROW, "style": 3}]})
    assert code == 400 and "does not have named input: style" in body["error"]
    code, body = _post(url, {"instances": [{"label": 1}]})
    assert code == 400 and "keys must be equal to: label,noise" in body["error"]
    code, body = _post(url, {"instances": [{"label": 1, "noise": ROW}],
                             "inputs": {"label": [1], "noise": [ROW]}})
    assert code == 400 and "expecting only one of 'inputs' or 'instances'" in body["error"]
    code, body = _post(url, {"signature_name": "x", "instances": [{"label": 1, "noise": ROW}]})
    assert (code, body["error"]) == (400, 'Serving signature name: "x" not found in signature def')


def _grpc_predict(target, inputs, **spec):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = spec.get("name", "cgan")
    if "label" in spec:
        request.model_spec.version_label = spec["label"]
    if "version" in spec:
        request.model_spec.version.value = spec["version"]
    request.model_spec.signature_name = spec.get("signature", "")
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(target))
    try:
        return "OK", stub.Predict(request, timeout=30)
    except grpc.RpcError as err:
        return err.code().name, err.details()


_GOOD = {"label": np.array([1], np.int32), "noise": np.zeros((1, 100), np.float32)}


@pytest.mark.parametrize("inputs, spec, code, message", [
    (_GOOD, {"name": "nope"}, "NOT_FOUND", "Servable not found for request: Latest(nope)"),
    (_GOOD, {"version": 7}, "NOT_FOUND", "Servable not found for request: Specific(cgan, 7)"),
    (_GOOD, {"label": "nope"}, "INVALID_ARGUMENT", "Unrecognized servable version label: nope"),
    (_GOOD, {"signature": "x"}, "FAILED_PRECONDITION", 'Serving signature key "x" not found.'),
    ({"noise": _GOOD["noise"]}, {}, "INVALID_ARGUMENT",
     "input size does not match signature: 1!=2 len({noise}) != len({label,noise}). "
     "Sent extra: {}. Missing but required: {label}."),
    ({"label": _GOOD["label"].astype(np.float32), "noise": _GOOD["noise"]}, {},
     "INVALID_ARGUMENT", "to be int32 but float is provided"),
])
def test_grpc_status_codes(fresh_standin, inputs, spec, code, message):
    # basic_manager.cc, server_core.cc GetModelVersionForLabel, predict_util.cc
    # RunPredict / VerifyRequestInputsSize; the dtype message is TensorFlow's own.
    got, details = _grpc_predict(fresh_standin.grpc_target, inputs, **spec)
    assert got == code and message in details


def test_prometheus_metrics_on_the_rest_port(fresh_standin):
    code, kind, body = _get(fresh_standin.rest_url + "/monitoring/prometheus/metrics")
    assert (code, kind) == (200, "text/plain")
    assert "# TYPE :tensorflow:serving:request_count counter" in body
    assert 'status="OK"' in body


def _mixed_traffic(server, rounds=120):
    """Good and bad requests from 16 threads at once; (good failed, bad served) counts."""
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((8, 100)).astype(np.float32)
    bad = [{"label": np.array([1, 10], np.int32), "noise": noise[:2]},
           {"label": np.array([1, 2], np.int32), "noise": np.full((2, 100), np.nan, np.float32)},
           {"label": np.array([1, 2], np.int32), "noise": noise[:2, :99]}]
    outcome = {"good failed": [], "bad served": []}

    def worker(k):
        for i in range(k, rounds, 16):
            is_bad = i % 3 == 0
            inputs = bad[i % 3] if is_bad else {"label": np.arange(1 + i % 4, dtype=np.int32),
                                                "noise": noise[:1 + i % 4]}
            code, _ = _grpc_predict(server.grpc_target, inputs)
            if is_bad and code == "OK":
                outcome["bad served"].append(i)
            if not is_bad and code != "OK":
                outcome["good failed"].append((i, code))

    assert run_in_threads(worker, 16) == []
    return outcome


def test_a_bad_request_never_fails_a_concurrent_good_one(published, config_dir, start_compose):
    # The shipped deployment: no --enable_batching; the SavedModel's checks run per
    # request before its in-graph BatchFunction (export/signature.py).
    outcome = _mixed_traffic(start_compose(published[0], config_dir))
    assert outcome == {"good failed": [], "bad served": []}


def _server_batching(published, config_dir, timeout_micros=20000):
    """The shipped service plus TF Serving's --enable_batching (what we no longer ship)."""
    (config_dir / "batching.txt").write_text(
        f"max_batch_size {{ value: 256 }} batch_timeout_micros {{ value: {timeout_micros} }} "
        "num_batch_threads { value: 2 } max_enqueued_batches { value: 64 } "
        "allowed_batch_sizes: 16 allowed_batch_sizes: 256")
    spec = compose_service(shipped_compose(), "serving", env={
        "MODELS_DIR": published[0], "TF_SERVING_CONFIG_DIR": str(config_dir)})
    return StandIn(spec["flags"] + ["--enable_batching=true",
                                    "--batching_parameters_file=/config/batching.txt"],
                   spec["mounts"])


def test_server_batching_fails_good_requests_merged_with_a_bad_one(published, config_dir):
    # batching_session.cc ProcessBatch: one Run per merged batch, one status for all.
    server = _server_batching(published, config_dir)
    try:
        outcome = _mixed_traffic(server)
    finally:
        server.close()
    assert outcome["good failed"] and not outcome["bad served"]


def test_server_batching_refuses_a_task_alone_before_merging(published, config_dir):
    # batching_util.h ComputeTensorBatchSize and the scheduler's size limit fail
    # only the request itself.
    server = _server_batching(published, config_dir, timeout_micros=0)
    try:
        big = {"label": np.ones(257, np.int32), "noise": np.zeros((257, 100), np.float32)}
        assert _grpc_predict(server.grpc_target, big) == (
            "INVALID_ARGUMENT", "Task size 257 is larger than maximum input batch size 256")
        uneven = {"label": np.ones(2, np.int32), "noise": np.zeros((3, 100), np.float32)}
        code, details = _grpc_predict(server.grpc_target, uneven)
        assert (code, details) == ("INVALID_ARGUMENT", "Batching Run() input tensors must "
                                                       "have equal 0th-dimension size")
        assert _grpc_predict(server.grpc_target, _GOOD)[0] == "OK"
    finally:
        server.close()


def test_server_batching_aborts_on_an_empty_request_that_needs_padding(published, config_dir):
    # batching_session.cc MergeInputTensors pads from Slice(0, 1) of the last
    # task: a 0-row task there fails a CHECK and the whole process aborts.
    import time

    server = _server_batching(published, config_dir, timeout_micros=500_000)
    empty = {"label": np.zeros(0, np.int32), "noise": np.zeros((0, 100), np.float32)}
    results = {}

    def send(k):
        time.sleep(0.1 * k)   # the good request opens the batch, the empty one joins it last
        results[k] = _grpc_predict(server.grpc_target, _GOOD if k == 0 else empty)[0]

    try:
        assert run_in_threads(send, 2) == []
        assert results == {0: "UNAVAILABLE", 1: "UNAVAILABLE"} and server.core.batcher.aborted
        assert _grpc_predict(server.grpc_target, _GOOD)[0] == "UNAVAILABLE"   # nothing serves
    finally:
        server.close()


def test_the_shipped_graph_refuses_an_empty_request_by_itself(fresh_standin):
    # The SavedModel's own check runs before its batcher: N = 0 fails alone.
    empty = {"label": np.zeros(0, np.int32), "noise": np.zeros((0, 100), np.float32)}
    code, details = _grpc_predict(fresh_standin.grpc_target, empty)
    assert code == "INVALID_ARGUMENT" and "got N = 0" in details
    assert _grpc_predict(fresh_standin.grpc_target, _GOOD)[0] == "OK"
