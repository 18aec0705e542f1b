"""RestClient: TF Serving's REST API (g3doc/api_rest.md) with the standard library.

    POST {url}/v1/models/cgan[/versions/N | /labels/L]:predict
    GET  {url}/v1/models/cgan[/versions/N | /labels/L][/metadata]
"""

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from model_pkg import contract
from model_pkg.serving.config_files import check_label, check_version
from model_pkg.serving.errors import (
    UNKNOWN_LABEL,
    ModelNotFound,
    RequestRefused,
    ServingError,
    ServingTimeout,
    TLSError,
    Unauthorized,
    _Retryable,
    with_retries,
)
from model_pkg.validation import validate_inputs


def model_path(model, version=None, label=None):
    """/v1/models/<model>[/versions/N | /labels/L]; a version and a label are exclusive.

    The label must follow the label rule (ConfigError at once, never a retried
    request); every part is quoted so that no value can change the endpoint.
    """
    if version is not None and label is not None:
        raise ValueError("give a version or a label, not both")
    path = f"/v1/models/{urllib.parse.quote(str(model), safe='')}"
    if version is not None:
        path += f"/versions/{check_version(version, 'version')}"
    elif label is not None:
        path += f"/labels/{urllib.parse.quote(check_label(label, 'label'), safe='')}"
    return path


class RestClient:
    """generate() over REST in row ("instances") or columnar ("inputs") format.

    ``https://`` URLs verify the server against ``ca_file`` (else the system's
    CAs); ``cert_file``/``key_file`` present a client certificate; ``headers``
    (e.g. {"Authorization": "Bearer ..."}) go with every request, for a proxy in
    front of TF Serving, which has no authentication of its own.
    """

    def __init__(self, url="http://localhost:8501", model=contract.MODEL_NAME, version=None,
                 label=None, fmt="row", timeout_s=30.0, retries=3, backoff_s=0.2,
                 max_batch=contract.MAX_REQUEST_ROWS, ca_file=None, cert_file=None,
                 key_file=None, headers=None):
        if fmt not in ("row", "columnar"):
            raise ValueError(f"fmt {fmt!r}: must be 'row' or 'columnar'")
        self.url, self.fmt, self.timeout_s = url.rstrip("/"), fmt, timeout_s
        self.retries, self.backoff_s, self.max_batch = retries, backoff_s, max_batch
        self.path = model_path(model, version, label)
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        self._tls = _tls_context(self.url, ca_file, cert_file, key_file)

    def generate(self, labels, noise):
        """(labels [N] 0..9, noise [N,100]) -> float32 [N,28,28,1] in [0, 1]."""
        label, noise = validate_inputs(labels, noise, max_batch=self.max_batch)
        body = self._body(label, noise)
        reply = self._request("POST", f"{self.path}:predict", body)
        key = "predictions" if self.fmt == "row" else "outputs"
        if key not in reply:
            raise ServingError(f"{self.url}: reply has no {key!r} ({sorted(reply)})")
        images = np.asarray(reply[key], dtype=np.float32)
        expected = (len(label), *contract.IMAGE_SHAPE)
        if images.shape != expected:
            raise ServingError(f"{self.url}: images of shape {images.shape}, expected {expected}")
        return images

    def _body(self, label, noise):
        if self.fmt == "row":
            rows = [{contract.LABEL_KEY: int(y), contract.NOISE_KEY: z.tolist()}
                    for y, z in zip(label, noise)]
            payload = {"instances": rows}
        else:
            payload = {"inputs": {contract.LABEL_KEY: label.tolist(),
                                  contract.NOISE_KEY: noise.tolist()}}
        payload["signature_name"] = contract.SIGNATURE_NAME
        return payload

    def status(self):
        """GetModelStatusResponse as JSON."""
        return self._request("GET", self.path)

    def metadata(self):
        """GetModelMetadataResponse as JSON (signature_def included)."""
        return self._request("GET", f"{self.path}/metadata")

    def _request(self, method, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=self._headers)
        return with_retries(lambda: self._attempt(request), self.retries, self.backoff_s,
                            describe=f"{method} {self.url}{path}")

    def _attempt(self, request):
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s,
                                        context=self._tls) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise _http_error(err, request.full_url) from None
        except (TimeoutError, socket.timeout) as err:
            raise ServingTimeout(f"{request.full_url}: no reply within {self.timeout_s} s",
                                 status="timeout") from err
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, ssl.SSLError):
                raise TLSError(f"{request.full_url}: TLS failed ({reason}); check the CA file "
                               "and the server's certificate", status="tls") from err
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise ServingTimeout(f"{request.full_url}: no reply within {self.timeout_s} s",
                                     status="timeout") from err
            raise _Retryable(f"{request.full_url}: {reason}", status="unreachable") from err


def _tls_context(url, ca_file, cert_file, key_file):
    """An ssl context for https:// (verifying against ca_file or the system), else None."""
    if not url.startswith("https://"):
        if ca_file or cert_file:
            raise ValueError(f"{url}: a CA or client certificate needs an https:// URL")
        return None
    context = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def _http_error(err, url):
    """TF Serving's {"error": message} turned into the matching exception."""
    try:
        message = json.loads(err.read()).get("error", "")
    except (ValueError, AttributeError):
        message = ""
    text = f"{url}: HTTP {err.code}: {message or err.reason}"
    if err.code in (502, 503):   # 502: a proxy in front found no server (docs/scale_out.md)
        return _Retryable(text, status=err.code)
    if err.code in (401, 403):
        return Unauthorized(text + " (the credentials were refused; see headers=)",
                            status=err.code)
    if err.code == 400 and UNKNOWN_LABEL not in message:
        return RequestRefused(text, status=400)
    if err.code in (400, 404):
        return ModelNotFound(text, status=404)
    return ServingError(text, status=err.code)
