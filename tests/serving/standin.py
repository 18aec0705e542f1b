"""A TEST FIXTURE that speaks TF Serving's protocols in-process. It is not TF Serving.

It implements the REST API as g3doc/api_rest.md documents it (paths, row and
columnar JSON, {"error": ...} bodies, status codes) and the gRPC
PredictionService / ModelService from tensorflow-serving-api, backed by the
TF1 session path of real exported versions (the graph's own asserts do the
refusing, as in TF Serving). It exists so the clients can be tested here,
where no TF Serving can run; tests/serving/test_live_tfserving.py runs the
same checks against a real server when one is reachable.
"""

import json
import re
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from export.runtimes import Tf1SessionRuntime
from model_pkg import contract

_PATH = re.compile(r"^/v1/models/(?P<model>[^/:]+)(?:/versions/(?P<version>\d+)|"
                   r"/labels/(?P<label>[^/:]+))?(?P<suffix>/metadata|:predict)?$")


class Refused(Exception):
    """A request TF Serving would refuse: ``code`` is the HTTP status, ``grpc`` the code name."""

    def __init__(self, message, code=400, grpc="INVALID_ARGUMENT"):
        super().__init__(message)
        self.code, self.grpc = code, grpc


class StandIn:
    """Serves {version: folder} under model "cgan", with {label: version}."""

    def __init__(self, versions, labels=None, max_batch=256):
        self.runtimes = {v: Tf1SessionRuntime(path) for v, path in versions.items()}
        self.labels, self.max_batch = dict(labels or {}), max_batch
        self.fail_next, self.fail_code, self.delay_s = 0, 503, 0.0
        self.requests = 0
        self._lock = threading.Lock()
        self._rest = ThreadingHTTPServer(("127.0.0.1", 0), _rest_handler(self))
        self.rest_url = f"http://127.0.0.1:{self._rest.server_address[1]}"
        threading.Thread(target=self._rest.serve_forever, daemon=True).start()
        self._grpc, port = _grpc_server(self)
        self.grpc_target = f"127.0.0.1:{port}"

    def close(self):
        self._rest.shutdown()
        self._rest.server_close()
        self._grpc.stop(grace=None)
        for runtime in self.runtimes.values():
            runtime.close()

    def inject(self, failures=0, code=503, delay_s=0.0):
        """The next ``failures`` requests fail with ``code``; every request waits ``delay_s``."""
        with self._lock:
            self.fail_next, self.fail_code, self.delay_s = failures, code, delay_s

    def _faults(self):
        with self._lock:
            self.requests += 1
            delay, fail = self.delay_s, self.fail_next > 0
            self.fail_next -= 1 if fail else 0
        time.sleep(delay)
        if fail:
            raise Refused("injected fault: server unavailable", code=self.fail_code,
                          grpc="UNAVAILABLE")

    def resolve(self, model, version=None, label=None):
        if model != contract.MODEL_NAME:
            raise Refused(f"Servable not found for request: Latest({model})", 404, "NOT_FOUND")
        if label is not None:
            if label not in self.labels:
                raise Refused(f"Unrecognized servable version label: {label}", 404, "NOT_FOUND")
            version = self.labels[label]
        version = max(self.runtimes) if version is None else int(version)
        if version not in self.runtimes:
            raise Refused(f"Servable not found for request: Specific({model}, {version})",
                          404, "NOT_FOUND")
        return version

    def predict(self, version, inputs, signature_name):
        """inputs: {name: np.ndarray} -> images; raises Refused like TF Serving."""
        self._faults()
        if signature_name not in ("", contract.SIGNATURE_NAME):
            raise Refused(f'Serving signature name: "{signature_name}" not found in '
                          "signature def")
        expected = {contract.LABEL_KEY, contract.NOISE_KEY}
        if set(inputs) != expected:
            raise Refused(f"input tensor alias not found in signature: "
                          f"{sorted(set(inputs) ^ expected)}. Inputs expected to be in the "
                          f"set {{{', '.join(sorted(expected))}}}.")
        label = inputs[contract.LABEL_KEY]
        if label.ndim >= 1 and label.shape[0] > self.max_batch:
            raise Refused(f"Task size {label.shape[0]} is larger than maximum input batch "
                          f"size {self.max_batch}")
        try:
            return self.runtimes[version].run_unchecked(label, inputs[contract.NOISE_KEY])
        except Exception as err:  # noqa: BLE001 - every graph/feeding error is INVALID_ARGUMENT
            raise Refused(_first_line(err)) from err


def _first_line(err):
    text = str(err)
    match = re.search(r"assertion failed: \[([^\]]*)\]", text)
    if match:
        return match.group(1)
    return next((line for line in text.splitlines() if line.strip()
                 and line.strip() != "Graph execution error:"), type(err).__name__)


# --- REST -------------------------------------------------------------------

def _json_inputs(body):
    """The request's tensors as arrays (JSON -> dtypes the way TF Serving converts)."""
    if ("instances" in body) == ("inputs" in body):
        raise Refused("JSON Value: must have exactly one of 'instances' or 'inputs'")
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise Refused("instances must be a list of objects with named inputs")
        names = set().union(*rows) if rows else {contract.LABEL_KEY, contract.NOISE_KEY}
        if any(set(r) != names for r in rows):
            raise Refused("Failed to process element: every instance needs the same inputs")
        columns = {name: [r[name] for r in rows] for name in names}
    else:
        columns = body["inputs"]
        if not isinstance(columns, dict):
            raise Refused("inputs must be an object of named inputs")
    return {name: _to_array(name, value) for name, value in columns.items()}


def _to_array(name, value):
    if name == contract.LABEL_KEY:
        flat = np.asarray(value, dtype=object).ravel()
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
            raise Refused(f"JSON Value for {name} is not of expected type: int32")
        array = np.asarray(value, dtype=np.int64)
        if array.size and (array.min() < -2**31 or array.max() >= 2**31):
            raise Refused(f"JSON Value for {name} does not fit int32")
        return array.astype(np.int32)
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise Refused(f"JSON Value for {name} is not of expected type: float ({err})") from err


def _rest_handler(standin):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):   # keep test output clean
            pass

        def _reply(self, code, obj):
            data = json.dumps(obj).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method):
            match = _PATH.match(self.path)
            if not match or (method == "POST") != (match["suffix"] == ":predict"):
                raise Refused(f"Malformed request: {method} {self.path}", 404, "NOT_FOUND")
            return match, standin.resolve(match["model"], match["version"], match["label"])

        def do_GET(self):   # noqa: N802 - http.server's naming
            try:
                match, version = self._route("GET")
                if match["suffix"] == "/metadata":
                    self._reply(200, _metadata_json(standin, version))
                else:
                    versions = [version] if (match["version"] or match["label"]) else sorted(
                        standin.runtimes)
                    self._reply(200, {"model_version_status": [
                        {"version": str(v), "state": "AVAILABLE",
                         "status": {"error_code": "OK", "error_message": ""}}
                        for v in versions]})
            except Refused as err:
                self._reply(err.code, {"error": str(err)})

        def do_POST(self):   # noqa: N802
            try:
                _, version = self._route("POST")
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                except ValueError as err:
                    raise Refused(f"JSON Parse error: {err}") from err
                if not isinstance(body, dict):
                    raise Refused("JSON Value: request body must be an object")
                images = standin.predict(version, _json_inputs(body),
                                         body.get("signature_name", ""))
                key = "predictions" if "instances" in body else "outputs"
                self._reply(200, {key: images.tolist()})
            except Refused as err:
                self._reply(err.code, {"error": str(err)})

    return Handler


def _metadata_json(standin, version):
    from google.protobuf import json_format

    signature = standin.runtimes[version].signature_def
    return {"model_spec": {"name": contract.MODEL_NAME, "signature_name": "",
                           "version": str(version)},
            "metadata": {"signature_def": {"signature_def": {
                contract.SIGNATURE_NAME: json_format.MessageToDict(signature)}}}}


# --- gRPC -------------------------------------------------------------------

def _grpc_server(standin):
    import grpc
    from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                         model_service_pb2_grpc, predict_pb2,
                                         prediction_service_pb2_grpc)

    from serving.grpc_client import tensor_proto, to_array

    def version_of(spec, context):
        try:
            label = spec.version_label or None
            return standin.resolve(spec.name, spec.version.value or None, label)
        except Refused as err:
            context.abort(getattr(grpc.StatusCode, err.grpc), str(err))

    class Prediction(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):   # noqa: N802 - gRPC's naming
            version = version_of(request.model_spec, context)
            try:
                inputs = {}
                for name, proto in request.inputs.items():
                    if name == contract.LABEL_KEY and proto.dtype != 3:   # DT_INT32
                        raise Refused(f"Expects arg[0] ({name}) to be int32 but another "
                                      f"dtype ({proto.dtype}) is provided")
                    inputs[name] = to_array(proto)
                images = standin.predict(version, inputs, request.model_spec.signature_name)
            except (Refused, KeyError) as err:
                code = getattr(err, "grpc", "INVALID_ARGUMENT")
                context.abort(getattr(grpc.StatusCode, code), str(err))
            reply = predict_pb2.PredictResponse()
            reply.model_spec.name, reply.model_spec.version.value = contract.MODEL_NAME, version
            reply.outputs[contract.IMAGES_KEY].CopyFrom(tensor_proto(images))
            return reply

        def GetModelMetadata(self, request, context):   # noqa: N802
            from tensorflow_serving.apis import get_model_metadata_pb2 as meta

            version = version_of(request.model_spec, context)
            sig_map = meta.SignatureDefMap()
            sig_map.signature_def[contract.SIGNATURE_NAME].CopyFrom(
                standin.runtimes[version].signature_def)
            reply = get_model_metadata_pb2.GetModelMetadataResponse()
            reply.model_spec.name, reply.model_spec.version.value = contract.MODEL_NAME, version
            reply.metadata["signature_def"].Pack(sig_map)
            return reply

    class Models(model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):   # noqa: N802
            version = version_of(request.model_spec, context)
            reply = get_model_status_pb2.GetModelStatusResponse()
            status = reply.model_version_status.add(version=version)
            status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
            return reply

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Prediction(), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(Models(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port
