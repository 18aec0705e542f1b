"""Sixteen bad requests against every runtime: each refused, naming input and rule.

Runtimes: the SavedModel in TF Serving's own loader (the C API) behind TF
Serving's request checks, ONNX Runtime through OnnxClient, and REST and gRPC
through the stand-in server (raw requests, so the server's own refusal is what
is tested). After the table the server still serves correctly.

Where TF Serving's own message cannot name the input (a JSON value or a tensor
of the wrong type is reported by its dtype: util/json_tensor.cc ``TypeError``,
TensorFlow's "Expects arg[i] to be int32"), the dtype the rule asks for counts.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from model_pkg import contract
from model_pkg.export.runtimes import CApiRuntime
from model_pkg.serving.local_clients import OnnxClient
from tests.serving.standin.grpc_api import check_request_inputs
from tests.serving.test_clients import _post

MAX_BATCH = contract.MAX_REQUEST_ROWS

pytestmark = pytest.mark.faults

_NOISE = np.random.default_rng(0).standard_normal((3, 100)).astype(np.float32)
_LABEL = np.array([1, 2, 3], np.int32)


def _nan():
    noise = _NOISE.copy()
    noise[1, 7] = np.nan
    return noise


def _inf():
    noise = _NOISE.copy()
    noise[0, 0] = np.inf
    return noise


# case: (inputs, signature name, the word (or one of the words) every refusal must contain)
CASES = {
    "label -1": ({"label": np.array([-1, 2, 3], np.int32), "noise": _NOISE}, None, "label"),
    "label 10": ({"label": np.array([1, 10, 3], np.int32), "noise": _NOISE}, None, "label"),
    "label 2**31-1": ({"label": np.array([1, 2, 2**31 - 1], np.int32), "noise": _NOISE}, None,
                      "label"),
    "float labels": ({"label": np.array([1.0, 2.0, 3.0], np.float32), "noise": _NOISE}, None,
                     ("label", "int32")),
    "string labels": ({"label": np.array(["1", "2", "3"]), "noise": _NOISE}, None,
                      ("label", "int32")),
    "noise [N,99]": ({"label": _LABEL, "noise": _NOISE[:, :99]}, None, "noise"),
    "noise [N,101]": ({"label": _LABEL, "noise": np.hstack([_NOISE, _NOISE[:, :1]])}, None,
                      "noise"),
    "noise [N]": ({"label": _LABEL, "noise": _NOISE[:, 0]}, None, "noise"),
    "NaN noise": ({"label": _LABEL, "noise": _nan()}, None, "noise"),
    "Inf noise": ({"label": _LABEL, "noise": _inf()}, None, "noise"),
    # N = 0 breaks a rule of both inputs; a runtime may name either.
    "N = 0": ({"label": _LABEL[:0], "noise": _NOISE[:0]}, None, ("label", "noise")),
    "different N": ({"label": _LABEL[:2], "noise": _NOISE}, None, "noise"),
    "N above max batch": ({"label": np.ones(MAX_BATCH + 1, np.int32),
                           "noise": np.zeros((MAX_BATCH + 1, 100), np.float32)}, None,
                          "batch size"),
    "missing input": ({"label": _LABEL}, None, "noise"),
    "extra input": ({"label": _LABEL, "noise": _NOISE, "style": _NOISE}, None, "style"),
    "wrong signature name": ({"label": _LABEL, "noise": _NOISE}, "classify", "signature"),
}


@pytest.fixture(scope="module")
def runtimes(published, standin):
    loader = CApiRuntime(published[1])
    onnx = OnnxClient(published[1], device="cpu", max_batch=MAX_BATCH)
    yield {
        "tf serving loader": lambda i, s: _loader(loader, i, s),
        "onnx client": lambda i, s: onnx.predict(i, s or "serving_default"),
        "rest server": lambda i, s: _rest(standin, i, s),
        "grpc server": lambda i, s: _grpc(standin, i, s),
    }
    loader.close()


class Refused(Exception):
    pass


def _loader(runtime, inputs, signature):
    """TF Serving's predict path (predict_util.cc RunPredict) over its loader's session."""
    if (signature or "serving_default") not in runtime.signature_defs:
        raise Refused(f'Serving signature key "{signature}" not found.')
    check_request_inputs(inputs, runtime.input_names)
    return runtime.run_tensors(inputs)


def _rest(standin, inputs, signature):
    # Row format where the request has rows (TF Serving refuses an unknown key there;
    # columnar "inputs" ignores extra keys: util/json_tensor.cc), columnar otherwise.
    sizes = {len(v) if np.ndim(v) else -1 for v in inputs.values()}
    if len(sizes) == 1 and min(sizes) >= 1:
        rows = [{k: v[i].tolist() for k, v in inputs.items()} for i in range(sizes.pop())]
        body = {"instances": rows}
    else:
        body = {"inputs": {k: v.tolist() for k, v in inputs.items()}}
    if signature:
        body["signature_name"] = signature
    code, reply = _post(standin.rest_url, json.dumps(body).encode())   # NaN/Infinity tokens
    if code != 200:
        raise Refused(f"HTTP {code}: {reply.get('error')}")
    return reply


def _grpc(standin, inputs, signature):
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "cgan"
    request.model_spec.signature_name = signature or ""
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    stub = prediction_service_pb2_grpc.PredictionServiceStub(
        grpc.insecure_channel(standin.grpc_target))
    try:
        return stub.Predict(request, timeout=30)
    except grpc.RpcError as err:
        raise Refused(f"{err.code().name}: {err.details()}") from None


def test_the_table_has_at_least_fifteen_cases():
    assert len(CASES) >= 15


@pytest.mark.parametrize("runtime", ["tf serving loader", "onnx client", "rest server",
                                     "grpc server"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_with_input_and_rule_named(runtimes, runtime, case):
    inputs, signature, word = CASES[case]
    with pytest.raises(Exception) as err:
        runtimes[runtime](inputs, signature)
    message = str(err.value)
    words = word if isinstance(word, tuple) else (word,)
    assert any(w in message for w in words), f"{runtime} / {case}: {message[:300]}"
    if runtime == "rest server":
        assert message.startswith("HTTP 400:"), message[:300]
    if runtime == "grpc server":   # an unknown signature is FAILED_PRECONDITION over gRPC
        code = "FAILED_PRECONDITION" if case == "wrong signature name" else "INVALID_ARGUMENT"
        assert message.startswith(code + ":"), message[:300]


def test_every_runtime_serves_correctly_after_the_table(runtimes, published):
    good = {"label": _LABEL, "noise": _NOISE}
    reference = OnnxClient(published[1], device="cpu").generate(_LABEL, _NOISE)
    out = {
        "tf serving loader": runtimes["tf serving loader"](good, None),
        "onnx client": runtimes["onnx client"](good, None)["images"],
        "rest server": np.asarray(runtimes["rest server"](good, None)["predictions"], np.float32),
        "grpc server": tf.make_ndarray(runtimes["grpc server"](good, None).outputs["images"]),
    }
    for name, images in out.items():
        np.testing.assert_allclose(images, reference, rtol=0, atol=contract.PARITY_ATOL,
                                   err_msg=name)
