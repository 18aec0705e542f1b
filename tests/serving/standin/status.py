"""Status codes as TF Serving reports them. Part of a TEST FIXTURE, not TF Serving."""

# Status code -> HTTP code: model_servers/http_server.cc, ``ToHTTPStatusCode``.
HTTP_CODE = {"OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400,
             "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
             "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429, "FAILED_PRECONDITION": 400,
             "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "INTERNAL": 500,
             "UNAVAILABLE": 503, "DATA_LOSS": 500, "UNAUTHENTICATED": 401}


class Refused(Exception):
    """A non-OK status: ``code`` is its name (INVALID_ARGUMENT, ...), ``message`` its text."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message

    @property
    def http(self):
        return HTTP_CODE.get(self.code, 500)


class StartupRefused(RuntimeError):
    """tensorflow_model_server would print "Failed to start server. Error: ..." and exit
    (model_servers/main.cc), or never open its ports (it waits without a timeout)."""


class EarlyRefused(Refused):
    """A ParseModelInfo error (http_rest_api_util.cc): ProcessRequest returns it through
    TF_RETURN_IF_ERROR before MakeJsonFromStatus writes the JSON, so the HTTP reply carries
    the status code with an EMPTY body (http_rest_api_handler.cc, ProcessRequest)."""
