"""Client errors and the one retry policy every remote client uses.

Only "the server is not there right now" is retried (HTTP 503, a proxy's 502,
gRPC UNAVAILABLE, connection refused), a bounded number of times with exponential
backoff. A refused request (400 / INVALID_ARGUMENT) is never retried: the
server's message is raised as it came. A timeout is not retried either: the
caller's deadline is spent.
"""

import time


class ServingError(RuntimeError):
    """A remote runtime failed the request. ``.status`` is the HTTP code or gRPC name."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class RequestRefused(ServingError):
    """The server refused the request as invalid (HTTP 400 / INVALID_ARGUMENT, or
    FAILED_PRECONDITION for an unknown signature over gRPC)."""


class ModelNotFound(ServingError):
    """No such model, version or label on the server (HTTP 404 / NOT_FOUND, and the
    INVALID_ARGUMENT TF Serving gives an unknown label)."""


class ServerUnavailable(ServingError):
    """The server stayed unreachable or overloaded through every retry."""


class ServingTimeout(ServingError):
    """The request did not finish within the client's timeout."""


class Unauthorized(ServingError):
    """A proxy in front of the server refused the credentials (HTTP 401/403, gRPC
    UNAUTHENTICATED/PERMISSION_DENIED). Not retried: the same credentials fail again."""


class TLSError(ServingError):
    """The server's certificate did not verify against the CA given (or the server
    refused the client's). Not retried: it is a configuration error, not an outage."""


# TF Serving answers an unknown label with INVALID_ARGUMENT / HTTP 400, not
# NOT_FOUND (model_servers/server_core.cc, ``GetModelVersionForLabel``); the
# clients still raise ModelNotFound for it, the class a caller expects.
UNKNOWN_LABEL = "Unrecognized servable version label"


class _Retryable(Exception):
    """Raised inside an attempt to ask for another one."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def with_retries(attempt, retries, backoff_s, describe, sleep=time.sleep):
    """Calls ``attempt()``; on _Retryable waits backoff_s * 2**i and tries again.

    Raises ServerUnavailable after ``retries`` further attempts.
    """
    last = None
    for i in range(retries + 1):
        try:
            return attempt()
        except _Retryable as err:
            last = err
            if i < retries:
                sleep(backoff_s * (2 ** i))
    raise ServerUnavailable(f"{describe}: unavailable after {retries + 1} attempts "
                            f"(last: {last})", status=last.status)
