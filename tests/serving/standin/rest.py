"""TF Serving's REST API as its source does it. A TEST FIXTURE, not TF Serving.

Routing: model_servers/http_rest_api_util.cc (the two regexes) and
http_rest_api_handler.cc ``ProcessRequest``; JSON: util/json_tensor.cc
(``FillPredictRequestFromJson``, ``AddValueToTensor``, ``MakeJsonFromTensors``,
``MakeJsonFromStatus``); codes: http_server.cc ``ToHTTPStatusCode``.
"""

import json
import re
import urllib.parse
from http.server import BaseHTTPRequestHandler

import numpy as np
from google.protobuf import json_format

from model_pkg import contract
from tests.serving.standin.status import EarlyRefused, Refused

_PREDICT = re.compile(r"(?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
                      r":(classify|regress|predict)")
_STATUS = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|"
                     r"(?:/labels/([^/:]+)))?(?:\/(metadata))?")
_NOT_FOUND_HTML = ("<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n"
                   "<H1>Not Found</H1>\n</BODY></HTML>\n")
_INT32 = (-2**31, 2**31 - 1)


def _type_error(value, dtype):
    kind = {bool: "True" if value else "False", str: "String", dict: "Object",
            list: "Array", type(None): "Null"}.get(type(value), "Number")
    return Refused("INVALID_ARGUMENT", f"JSON Value: {json.dumps(value)} Type: {kind} "
                                       f"is not of expected type: {dtype}")


def to_tensor(name, value):
    """A JSON value -> the signature's dtype: int32 takes JSON integers only, float any number."""
    dtype = "int32" if name == contract.LABEL_KEY else "float"
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif dtype == "int32" and not (type(item) is int and _INT32[0] <= item <= _INT32[1]):
            raise _type_error(item, dtype)
        elif dtype == "float" and (isinstance(item, bool) or not isinstance(item, (int, float))):
            raise _type_error(item, dtype)
    try:
        return np.array(value, dtype=np.int32 if dtype == "int32" else np.float32)
    except ValueError as err:   # ragged lists
        raise Refused("INVALID_ARGUMENT", f"Encountered list at unexpected size: {err}") from err


def parse_predict(body, inputs):
    """(tensors by input name, "row" | "columnar") of a body (FillPredictRequestFromJson)."""
    if ("instances" in body) and ("inputs" in body):
        raise Refused("INVALID_ARGUMENT", f"JSON Value: {json.dumps(body)[:256]} Not formatted "
                      "correctly expecting only one of 'inputs' or 'instances' keys to exist ")
    if "inputs" in body:
        columns = body["inputs"]
        if not isinstance(columns, dict):
            raise Refused("INVALID_ARGUMENT", "inputs is a plain value/list, but expecting an "
                          "object as multiple input tensors required as per tensorinfo_map")
        for name in inputs:   # extra keys are ignored; a missing one is an error
            if name not in columns:
                raise Refused("INVALID_ARGUMENT",
                              f"Missing named input: {name} in 'inputs' object.")
        return {name: to_tensor(name, columns[name]) for name in inputs}, "columnar"
    if "instances" not in body:
        raise Refused("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key")
    rows = body["instances"]
    if not isinstance(rows, list):
        raise Refused("INVALID_ARGUMENT", f"JSON Value: {json.dumps(body)[:256]} Expecting "
                      "'instances' to be an list/array")
    if not rows:
        raise Refused("INVALID_ARGUMENT", f"JSON Value: {json.dumps(body)[:256]} No values in "
                      "'instances' array")
    if not isinstance(rows[0], dict):
        raise Refused("INVALID_ARGUMENT", "instances is a plain list, but expecting list of "
                      "objects as multiple input tensors required as per tensorinfo_map")
    return {name: _column(rows, name, inputs) for name in inputs}, "row"


def _column(rows, name, inputs):
    """One input across the instances; every instance needs exactly the signature's keys."""
    values = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise Refused("INVALID_ARGUMENT", f"Expecting object but got list at item {i} of "
                                              "input list")
        for key in row:
            if key not in inputs:
                raise Refused("INVALID_ARGUMENT", f"Failed to process element: {i} key: {key} of "
                              "'instances' list. Error: INVALID_ARGUMENT: JSON object: does not "
                              f"have named input: {key}")
        if set(row) != set(inputs):
            raise Refused("INVALID_ARGUMENT", f"Failed to process element: {i} of 'instances' "
                          f"list. JSON object: {json.dumps(row)[:256]} keys must be equal to: "
                          f"{','.join(sorted(inputs))}")
        try:
            values.append(to_tensor(name, row[name]))
        except Refused as err:
            raise Refused("INVALID_ARGUMENT", f"Failed to process element: {i} key: {name} of "
                          f"'instances' list. Error: {err}") from err
    if len({v.shape for v in values}) > 1:
        raise Refused("INVALID_ARGUMENT", f"Failed to process element: {name} Expecting shape "
                      f"{list(values[0].shape)} but got: {[list(v.shape) for v in values]}")
    return np.stack(values)


def metadata_json(name, number, signature_defs):
    """GetModelMetadataResponse as the REST handler prints it (every signature of the graph)."""
    return {"model_spec": {"name": name, "signature_name": "", "version": str(number)},
            "metadata": {"signature_def": {"signature_def": {
                key: json_format.MessageToDict(sig) for key, sig in signature_defs.items()}}}}


def model_info(name, version, label):
    """http_rest_api_util.cc, ParseModelInfo: name and label percent-decoded (DecodeArg,
    curl_easy_unescape), the version converted to int64 (absl::SimpleAtoi)."""
    if version is not None and not int(version) < 2 ** 63:
        raise EarlyRefused("INVALID_ARGUMENT",
                           f"Failed to convert version: {version} to numeric.")
    decode = urllib.parse.unquote_to_bytes
    return (decode(name).decode("utf-8", "replace"), version,
            None if label is None else decode(label).decode("utf-8", "replace"))


def handler(server):
    """A BaseHTTPRequestHandler class bound to a StandIn."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):   # keep test output clean
            pass

        def _send(self, code, body, content_type="application/json"):
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self, method):
            if self.path == server.prometheus_path and method == "GET":
                return self._send(200, server.prometheus_page(), "text/plain")
            if not re.fullmatch(r"(?i)/v1/.*", self.path):   # http_server.cc, Dispatch
                return self._send(404, _NOT_FOUND_HTML, "text/html")
            try:
                reply = self._route(method)
                self._send(200, json.dumps(reply, indent=4))
            except Refused as err:
                server.count(err.code)
                body = "" if isinstance(err, EarlyRefused) else json.dumps({"error": err.message},
                                                                           indent=4)
                self._send(err.http, body)

        def _route(self, method):
            predict, status = _PREDICT.fullmatch(self.path), _STATUS.fullmatch(self.path)
            if method == "POST" and predict and predict[4] == "predict":
                length = int(self.headers.get("Content-Length", 0))
                return server.rest_predict(*model_info(*predict.group(1, 2, 3)),
                                           self.rfile.read(length))
            if method == "GET" and status and status[1]:
                name, version, label = model_info(*status.group(1, 2, 3))
                if status[4] == "metadata":
                    return server.rest_metadata(name, version, label)
                return server.rest_status(name, version)
            if method == "GET" and status:
                raise Refused("INVALID_ARGUMENT", "Missing model name in request.")
            raise Refused("INVALID_ARGUMENT", f"Malformed request: {method} {self.path}")

        def do_GET(self):   # noqa: N802 - http.server's naming
            self._dispatch("GET")

        def do_POST(self):   # noqa: N802
            self._dispatch("POST")

        def do_PUT(self):   # noqa: N802
            self._dispatch("PUT")

        def do_DELETE(self):   # noqa: N802
            self._dispatch("DELETE")

    return Handler


def decode_body(raw):
    """ParseJson: NaN/Infinity allowed, anything after the top-level value ignored."""
    text = raw.decode("utf-8", "replace")
    if not text.strip():
        raise Refused("INVALID_ARGUMENT", "JSON Parse error: The document is empty")
    try:
        body, _ = json.JSONDecoder().raw_decode(text.lstrip())
    except ValueError as err:
        raise Refused("INVALID_ARGUMENT", f"JSON Parse error: {err.msg}. at offset: {err.pos}") \
            from err
    if not isinstance(body, dict):
        raise Refused("INVALID_ARGUMENT", f"JSON Value: {json.dumps(body)[:256]} Is not object")
    return body
