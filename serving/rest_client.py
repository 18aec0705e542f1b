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

from model_pkg import contract
from model_pkg.serving.errors import (
    UNKNOWN_LABEL,
    ModelNotFound,
    RequestRefused,
    ServingError,
    ServingTimeout,
    TLSError,
    Unauthorized,
    _Retryable,
)
from model_pkg.serving.remote import (
    DEFAULT_DEADLINE_S,
    DEFAULT_TIMEOUT_S,
    RemoteClient,
    bad_reply,
    check_spec,
)


def model_path(model, version=None, label=None):
    """/v1/models/<model>[/versions/N | /labels/L]; a version and a label are exclusive.

    The label must follow the label rule (ConfigError at once, never a retried
    request); every part is quoted so that no value can change the endpoint.
    """
    version, label = check_spec(version, label)
    path = f"/v1/models/{urllib.parse.quote(str(model), safe='')}"
    if version is not None:
        path += f"/versions/{version}"
    elif label is not None:
        path += f"/labels/{urllib.parse.quote(label, safe='')}"
    return path


class RestClient(RemoteClient):
    """generate() over REST in row ("instances") or columnar ("inputs") format.

    ``https://`` URLs verify the server against ``ca_file`` (else the system's
    CAs); ``cert_file``/``key_file`` present a client certificate; ``headers``
    (e.g. {"Authorization": "Bearer ..."}) go with every request, for a proxy in
    front of TF Serving, which has no authentication of its own. Timeouts,
    retries and the deadline: serving/remote.py. ``timeout_s`` is urllib's, per
    socket operation.
    """

    name = "rest"   # its entry in model_pkg/runtimes.py
    typed_replies = False   # JSON numbers carry no dtype

    def __init__(self, url="http://localhost:8501", model=contract.MODEL_NAME, version=None,
                 label=None, fmt="row", timeout_s=DEFAULT_TIMEOUT_S, retries=3, backoff_s=0.2,
                 max_batch=contract.MAX_REQUEST_ROWS, ca_file=None, cert_file=None,
                 key_file=None, headers=None, deadline_s=DEFAULT_DEADLINE_S, rng=None):
        if fmt not in ("row", "columnar"):
            raise ValueError(f"fmt {fmt!r}: must be 'row' or 'columnar'")
        self.url, self.fmt = url.rstrip("/"), fmt
        super().__init__(self.url, model, version, label, timeout_s, retries, backoff_s,
                         deadline_s, max_batch, rng)
        self.path = model_path(model, version, label)
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        self._tls = _tls_context(self.url, ca_file, cert_file, key_file)

    def _predict_once(self, label, noise, timeout_s):
        reply = self._request("POST", f"{self.path}:predict", timeout_s, self._body(label, noise))
        key = "predictions" if self.fmt == "row" else "outputs"
        if not isinstance(reply, dict) or key not in reply:
            found = sorted(reply) if isinstance(reply, dict) else type(reply).__name__
            raise bad_reply(self.url, f"must hold {key!r}", f"got {found}")
        return reply[key]

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

    def _status_once(self, timeout_s):
        """GetModelStatusResponse as JSON."""
        return self._request("GET", self.path, timeout_s)

    def _metadata_once(self, timeout_s):
        """GetModelMetadataResponse as JSON (signature_def included)."""
        return self._request("GET", f"{self.path}/metadata", timeout_s)

    def _request(self, method, path, timeout_s, payload=None):
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s,
                                        context=self._tls) as response:
                return _json(response.read(), request.full_url)
        except urllib.error.HTTPError as err:
            raise _http_error(err, request.full_url) from None
        except (TimeoutError, socket.timeout) as err:
            raise _timeout(request.full_url, timeout_s) from err
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, ssl.SSLError):
                raise TLSError(f"{request.full_url}: TLS failed ({reason}); check the CA file "
                               "and the server's certificate", status="tls") from err
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise _timeout(request.full_url, timeout_s) from err
            raise _Retryable(f"{request.full_url}: {reason}", status="unreachable") from err


def _json(raw, url):
    try:
        return json.loads(raw)
    except ValueError as err:
        raise bad_reply(url, "must be JSON", str(err)) from None


def _timeout(url, timeout_s):
    return ServingTimeout(f"{url}: no reply within {timeout_s:.3g} s", status="timeout")


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
