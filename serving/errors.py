"""The errors the remote clients raise (the retry policy is serving/retry.py).

Only "the server is not there right now" is retried (HTTP 503, a proxy's 502,
gRPC UNAVAILABLE, connection refused): an attempt raises _Retryable for it. A
refused request (400 / INVALID_ARGUMENT) is never retried: the server's message
is raised as it came. A timeout is not retried either: the attempt's time is spent.
"""


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
    """The server stayed unreachable or overloaded through every retry.
    ``.attempts`` and ``.elapsed_s`` say how many attempts were made in how long."""

    def __init__(self, message, status=None, attempts=0, elapsed_s=0.0):
        super().__init__(message, status=status)
        self.attempts, self.elapsed_s = attempts, elapsed_s


class ServingTimeout(ServingError):
    """The request did not finish within the client's timeout."""


class DeadlineExceeded(ServerUnavailable, ServingTimeout):
    """The call's total deadline passed (attempts, timeouts and backoff together).

    Both a ServerUnavailable and a ServingTimeout, so that code catching either of
    the errors a call without a deadline would have ended with still catches it.
    """


class BadReply(ServingError):
    """The server answered, but not with what the contract promises (images float32
    [N, 28, 28, 1] in [0, 1], N the request's rows). Not retried: a server that
    answers wrongly once will again."""


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
