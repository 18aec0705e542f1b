"""The remote clients' shared base: jittered retries, the total deadline, reply checks, the
version-or-label rule, for REST and gRPC alike (serving/remote.py, serving/retry.py)."""

import pathlib
import random
import socket
import time

import numpy as np
import pytest

from model_pkg.serving.errors import (
    BadReply,
    DeadlineExceeded,
    ServerUnavailable,
    ServingTimeout,
)
from model_pkg.serving.grpc_client import GrpcClient
from model_pkg.serving.rest_client import RestClient
from model_pkg.serving.retry import MAX_BACKOFF_S

TRANSPORTS = ("rest", "grpc")
NOISE = np.zeros((2, 100), np.float32)


def _client(kind, server, **kw):
    if kind == "rest":
        return RestClient(server.rest_url, **kw)
    return GrpcClient(server.grpc_target, **kw)


@pytest.fixture
def silent_port():
    """A port that takes connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def _silent_client(kind, port, **kw):
    if kind == "rest":
        return RestClient(f"http://127.0.0.1:{port}", **kw)
    return GrpcClient(f"127.0.0.1:{port}", **kw)


# --- jitter ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", TRANSPORTS)
def test_backoff_is_full_jitter_within_bounds_and_seedable(silent_port, kind):
    seeded = [_silent_client(kind, silent_port, backoff_s=0.2, rng=random.Random(7))
              for _ in range(2)]
    draws = [[c.retry.delay(i) for i in range(8) for _ in range(50)] for c in seeded]
    assert draws[0] == draws[1]   # the same seed, the same waits
    for k, delay in enumerate(draws[0]):
        assert 0 <= delay <= min(MAX_BACKOFF_S, 0.2 * 2 ** (k // 50))
    first = draws[0][:50]   # retry 1's waits spread over [0, 0.2], not one value
    assert len(set(first)) == 50 and min(first) < 0.05 and max(first) > 0.15
    assert max(draws[0][-50:]) > 0.2 * 2 ** 5   # retry 8's range grew, up to the 10 s cap
    unseeded = [_silent_client(kind, silent_port) for _ in range(2)]
    assert ([c.retry.delay(0) for c in unseeded[:1] for _ in range(5)]
            != [c.retry.delay(0) for c in unseeded[1:] for _ in range(5)])


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_retries_wait_the_jittered_delays(fresh_standin, kind):
    fresh_standin.inject(failures=3)
    rng = random.Random(4)
    waits = [rng.uniform(0, 0.4 * 2 ** i) for i in range(3)]
    assert sum(waits) < 0.7 * 2.8   # this seed's waits are well below the unjittered 2.8 s
    began = time.monotonic()
    images = _client(kind, fresh_standin, backoff_s=0.4, rng=random.Random(4)).generate(
        [1, 2], NOISE)
    elapsed = time.monotonic() - began
    assert images.shape == (2, 28, 28, 1)
    assert sum(waits) <= elapsed < sum(waits) + 0.5


# --- the total deadline ---------------------------------------------------------------
@pytest.mark.parametrize("where", ["constructor", "per call"])
@pytest.mark.parametrize("kind", TRANSPORTS)
def test_the_deadline_ends_a_call_a_server_never_answers(silent_port, kind, where):
    client = _silent_client(kind, silent_port, timeout_s=30,
                            **({"deadline_s": 1.0} if where == "constructor" else {}))
    began = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"deadline of 1 s: 1 attempt in 1\.\d\d s") as err:
        client.generate([1, 2], NOISE, **({"deadline_s": 1.0} if where == "per call" else {}))
    assert 1.0 <= time.monotonic() - began < 1.0 + 0.5
    assert isinstance(err.value, ServingTimeout) and err.value.attempts == 1


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_the_deadline_ends_retries_of_a_server_that_answers_unavailable(fresh_standin, kind):
    fresh_standin.inject(failures=10 ** 6)
    client = _client(kind, fresh_standin, retries=1000, backoff_s=0.05, deadline_s=1.5)
    began = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"deadline of 1\.5 s: \d+ attempts in [01]\.\d\d s"
                       r", and the next would begin after it \(last: .*(HTTP 503|UNAVAILABLE)"
                       ) as err:
        client.generate([1, 2], NOISE)
    assert time.monotonic() - began < 1.5 + 0.5
    assert isinstance(err.value, ServerUnavailable) and 3 <= err.value.attempts < 1000


def test_without_a_deadline_retries_still_end_after_their_count(fresh_standin):
    fresh_standin.inject(failures=10 ** 6)
    with pytest.raises(ServerUnavailable, match="unavailable after 3 attempts in 0") as err:
        RestClient(fresh_standin.rest_url, retries=2, backoff_s=0.01,
                   deadline_s=None).generate([1], NOISE[:1])
    assert not isinstance(err.value, DeadlineExceeded)


@pytest.mark.parametrize("name, value", [("deadline_s", 0), ("deadline_s", -1),
                                         ("deadline_s", float("nan")), ("deadline_s", "5"),
                                         ("timeout_s", 0), ("backoff_s", -0.1),
                                         ("retries", -1), ("retries", 1.5)])
@pytest.mark.parametrize("kind", TRANSPORTS)
def test_bad_retry_settings_are_refused_naming_them(silent_port, kind, name, value):
    with pytest.raises(ValueError, match=f"{name} .*: must be"):
        _silent_client(kind, silent_port, **{name: value})


# --- reply checks ---------------------------------------------------------------------
def _one_pixel(value):
    def corrupt(images):
        images = images.copy()
        images[1, 3, 4, 0] = value
        return images
    return corrupt


MALFORMED = {
    "wrong shape": (lambda im: im[:, :27], r"images must be of shape \[N, 28, 28, 1\] "
                    r"\(got shape \[2, 27, 28, 1\], expected \[2, 28, 28, 1\]\)"),
    "wrong N": (lambda im: im[:1], r"must have N = 2 images, one per request row"),
    "pixel above 1": (_one_pixel(1.5), r"pixels must be in \[0, 1\] \(got 1.5 at index "
                                       r"\[1, 3, 4, 0\]\)"),
    "negative pixel": (_one_pixel(-0.25), r"pixels must be in \[0, 1\] \(got -0.25"),
    "NaN pixel": (_one_pixel(np.nan), r"pixels must be in \[0, 1\] \(got nan"),
    "dtype": ({"rest": lambda im: im.astype(str), "grpc": lambda im: im.astype(np.float64)},
              r"images must be (numbers|float32) \(got (dtype <U|DT_DOUBLE)"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_malformed_reply_is_refused_naming_the_rule_and_not_retried(fresh_standin, kind,
                                                                       case):
    corrupt, message = MALFORMED[case]
    fresh_standin.inject(reply=corrupt[kind] if isinstance(corrupt, dict) else corrupt)
    before = fresh_standin.requests
    with pytest.raises(BadReply, match=message):
        _client(kind, fresh_standin).generate([1, 2], NOISE)
    assert fresh_standin.requests == before + 1


# --- the version-or-label rule --------------------------------------------------------
@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_version_and_a_label_together_are_refused(silent_port, kind):
    with pytest.raises(ValueError, match="give a version or a label, not both"):
        _silent_client(kind, silent_port, version=1, label="stable")


def test_the_version_or_label_rule_lives_in_one_place():
    serving = pathlib.Path(__file__).parents[2] / "serving"
    holders = sorted(path.name for path in serving.glob("*.py")
                     if "not both" in path.read_text())
    assert holders == ["remote.py"]
