"""RemoteClient: what the REST and gRPC clients share, over a transport of their own.

The shared part: which model, version or label (checked once, when the client is
made), input validation (model_pkg/validation.py, before anything is sent), the
one retry policy (serving/retry.py: jittered backoff, per-attempt timeout, total
deadline) and the reply checks (images float32 [N, 28, 28, 1] in [0, 1], N the
request's rows). A transport implements three attempts, each given its timeout
in seconds, raising serving/errors.py's classes (_Retryable for what may be
retried):

    _predict_once(label int32 [N], noise float32 [N, 100], timeout_s) -> raw images
    _status_once(timeout_s), _metadata_once(timeout_s) -> the server's reply
"""

import numpy as np

from model_pkg import contract
from model_pkg.serving.config_files import check_label, check_version
from model_pkg.serving.errors import BadReply
from model_pkg.serving.retry import RetryPolicy
from model_pkg.validation import validate_inputs

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_DEADLINE_S = 60.0


def check_spec(version=None, label=None):
    """(version, label) as given, after the rules: at most one of them; a version is an
    integer >= 1 and a label follows the label rule (ConfigError at once, never a
    retried request)."""
    if version is not None and label is not None:
        raise ValueError("give a version or a label, not both")
    if version is not None:
        check_version(version, "version")
    if label is not None:
        check_label(label, "label")
    return version, label


class RemoteClient:
    """generate(), status() and metadata() of a TF Serving model over a transport.

    ``timeout_s`` bounds each attempt, ``deadline_s`` the whole call (attempts and
    backoff together; None: no total deadline), ``retries`` and ``backoff_s`` the
    retries, ``rng`` (a random.Random) draws their jitter. Every method takes
    ``deadline_s=`` to override the client's for one call.
    """

    typed_replies = True   # replies carry a dtype (gRPC's TensorProto), not bare JSON numbers

    def __init__(self, where, model, version, label, timeout_s, retries, backoff_s,
                 deadline_s, max_batch, rng=None):
        self.version, self.label = check_spec(version, label)
        self.where, self.model, self.max_batch = where, model, max_batch
        self.retry = RetryPolicy(retries, backoff_s, timeout_s, deadline_s, rng)
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self.deadline_s = deadline_s

    def generate(self, labels, noise, deadline_s=None):
        """(labels [N] 0..9, noise [N,100]) -> float32 [N,28,28,1] in [0, 1]."""
        label, noise = validate_inputs(labels, noise, max_batch=self.max_batch)
        images = self.retry.run(lambda timeout: self._predict_once(label, noise, timeout),
                                f"{self.where} Predict", deadline_s)
        return check_images(images, len(label), self.where, typed=self.typed_replies)

    def status(self, deadline_s=None):
        """The server's GetModelStatusResponse (the state of each version)."""
        return self.retry.run(self._status_once, f"{self.where} GetModelStatus", deadline_s)

    def metadata(self, deadline_s=None):
        """The server's GetModelMetadataResponse (signature_def included)."""
        return self.retry.run(self._metadata_once, f"{self.where} GetModelMetadata",
                              deadline_s)

    def close(self):
        """Frees the transport's connections (a no-op where it holds none)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _predict_once(self, label, noise, timeout_s):
        raise NotImplementedError

    def _status_once(self, timeout_s):
        raise NotImplementedError

    def _metadata_once(self, timeout_s):
        raise NotImplementedError


def check_images(images, rows, where, typed=True):
    """A reply's images -> float32 [rows, 28, 28, 1] in [0, 1], or BadReply naming the rule.

    ``typed``: the reply said its dtype (must be float32); else they are JSON numbers.
    """
    try:
        array = np.asarray(images)
    except (ValueError, TypeError) as err:   # ragged lists and the like
        raise bad_reply(where, "images must be a rectangular array", str(err)) from None
    if typed and array.dtype != np.float32:
        raise bad_reply(where, "images must be float32", f"got {array.dtype}")
    if not typed and array.dtype.kind not in "iuf":
        raise bad_reply(where, "images must be numbers", f"got dtype {array.dtype}")
    expected = (rows, *contract.IMAGE_SHAPE)
    if array.shape != expected:
        rule = (f"must have N = {rows} images, one per request row" if array.shape[1:]
                == contract.IMAGE_SHAPE else "images must be of shape [N, 28, 28, 1]")
        raise bad_reply(where, rule, f"got shape {list(array.shape)}, expected {list(expected)}")
    with np.errstate(over="ignore"):   # a huge JSON number becomes inf, refused below
        array = np.asarray(array, dtype=np.float32)
    outside = np.flatnonzero(~((array >= 0.0) & (array <= 1.0)))   # NaN is outside too
    if outside.size:
        index = np.unravel_index(outside[0], array.shape)
        raise bad_reply(where, "pixels must be in [0, 1]",
                        f"got {array[index]} at index {list(map(int, index))}")
    return array


def bad_reply(where, rule, detail=""):
    """BadReply: '<where>: reply: <rule> (<detail>)'."""
    return BadReply(f"{where}: reply: {rule}" + (f" ({detail})" if detail else ""),
                    status="bad reply")
