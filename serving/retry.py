"""The one retry policy of the remote clients: what is retried, how long to wait, when to stop.

An attempt that raises _Retryable (HTTP 503, a proxy's 502, gRPC UNAVAILABLE, a
refused connection) is tried again, at most ``retries`` more times, after a
"full jitter" exponential backoff: retry i+1 waits a time drawn uniformly from
[0, min(MAX_BACKOFF_S, backoff_s * 2**i)], so that clients refused together (a
replica going away under many callers) do not come back together. Every attempt
gets ``timeout_s``, cut to what is left of the call's total ``deadline_s``; when
the deadline passes, or the next wait would pass it, the call raises
DeadlineExceeded naming the attempts made and the time they took. Anything else
an attempt raises (a refused request, its own timeout, bad credentials, a bad
reply) ends the call at once.
"""

import math
import random
import time

from model_pkg.serving.errors import DeadlineExceeded, ServerUnavailable, ServingTimeout, _Retryable

# Without a cap, retries=20 would wait up to 0.2 * 2**19 s between attempts.
MAX_BACKOFF_S = 10.0


class RetryPolicy:
    """retries (int >= 0), backoff_s (>= 0), timeout_s per attempt (> 0) and the total
    deadline_s (> 0, or None for none) of one call; ``rng`` (a random.Random) draws
    the jitter: give a seeded one for repeatable waits, else each policy has its own.
    """

    def __init__(self, retries=3, backoff_s=0.2, timeout_s=30.0, deadline_s=60.0, rng=None):
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries {retries!r}: must be an integer >= 0")
        self.retries = retries
        self.backoff_s = _seconds("backoff_s", backoff_s, zero_ok=True)
        self.timeout_s = _seconds("timeout_s", timeout_s)
        self.deadline_s = check_deadline(deadline_s, "deadline_s")
        self.rng = random.Random() if rng is None else rng

    def delay(self, i):
        """Seconds to wait before retry i+1 (i = 0 after the first attempt):
        uniform in [0, min(MAX_BACKOFF_S, backoff_s * 2**i)]."""
        return self.rng.uniform(0.0, min(MAX_BACKOFF_S, self.backoff_s * 2.0 ** i))

    def run(self, attempt, describe, deadline_s=None):
        """attempt(timeout_s) until it returns, under this policy; its result.

        ``deadline_s`` overrides the policy's total deadline for this call.
        Raises ServerUnavailable when the retries ran out, DeadlineExceeded when
        the deadline passed, and whatever else an attempt raised, at once.
        """
        call = _Call(describe, self.deadline_s if deadline_s is None
                     else check_deadline(deadline_s, "deadline_s"))
        for i in range(self.retries + 1):
            if call.remaining() <= 0:   # a sleep may overshoot
                raise call.expired(call.last)
            timeout = min(self.timeout_s, call.remaining())
            call.attempts += 1
            try:
                return attempt(timeout)
            except ServingTimeout as err:
                if timeout < self.timeout_s:   # cut short by the deadline, not its own timeout
                    raise call.expired(err) from err
                raise
            except _Retryable as err:
                call.last = err
            if i < self.retries:
                wait = self.delay(i)
                if wait >= call.remaining():   # no use waiting: the attempt would come too late
                    raise call.expired(call.last, ", and the next would begin after it")
                time.sleep(wait)
        raise ServerUnavailable(
            f"{describe}: unavailable after {call.attempts} attempts in {call.elapsed():.2f} s "
            f"(last: {call.last})", status=call.last.status, attempts=call.attempts,
            elapsed_s=call.elapsed())


class _Call:
    """One call's clock, attempt count and last retryable error."""

    def __init__(self, describe, deadline_s):
        self.describe, self.deadline_s = describe, deadline_s
        self.began, self.attempts, self.last = time.monotonic(), 0, None

    def elapsed(self):
        return time.monotonic() - self.began

    def remaining(self):
        return self.deadline_s - self.elapsed()

    def expired(self, last, why=""):
        elapsed = self.elapsed()
        plural = "" if self.attempts == 1 else "s"
        return DeadlineExceeded(
            f"{self.describe}: no reply within the deadline of {self.deadline_s:g} s: "
            f"{self.attempts} attempt{plural} in {elapsed:.2f} s{why} (last: {last})",
            status=getattr(last, "status", None), attempts=self.attempts, elapsed_s=elapsed)


def check_deadline(value, name):
    """A total deadline in seconds (> 0, finite) -> float; None -> math.inf (no deadline)."""
    if value is None:
        return math.inf
    return _seconds(name, value)


def _seconds(name, value, zero_ok=False):
    rule = "a finite number of seconds " + (">= 0" if zero_ok else "> 0")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} {value!r}: must be {rule}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        raise ValueError(f"{name} {value!r}: must be {rule}")
    return float(value)
