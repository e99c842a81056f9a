"""Retries for account calls: honour ``retry-after``, back off with jitter, never re-create blindly.

The SDK's own retries are switched off (``max_retries=0`` in ``backends.connect``) because they
would repeat a POST whose outcome is unknown. Backends turn every failed request into an
``AccountError`` that says what the failure may have done (``Transience``); here a create passes
``recover``: before a retry after a failure that may have committed (5xx, dropped connection,
timeout), ``recover`` looks the resource up by its ownership keys and, when it finds it, that
result is used instead.

Throttling (429) is the account saying "not now", not a failure: throttled retries are bounded
by the deadline only (120 s per request, as documented), never by the attempt count; the
server's ``retry-after`` is a minimum, stretched by up to a quarter at random so that the
workers it throttled at once do not all come back at once; and a shared ``Pacer`` holds every
worker back until that wait has passed and halves how many requests run at once while the
account throttles, then lets it grow back.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from assistctl.errors import AccountError, AssistctlError, Transience

T = TypeVar("T")


class RetryPolicy:
    """How hard to try. ``sleep`` and ``clock`` are injectable so tests need not wait."""

    def __init__(
        self,
        *,
        attempts: int = 8,
        deadline_s: float = 120.0,
        base_delay_s: float = 0.25,
        max_delay_s: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.attempts = attempts
        self.deadline_s = deadline_s
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        return self.rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))

    def after(self, retry_after: float) -> float:
        """The server's wait, stretched by up to a quarter so throttled workers spread out."""
        return retry_after * self.rng.uniform(1.0, 1.25)


class Pacer:
    """How many requests may be in flight at once, and when the next may start.

    Throttling halves the limit (once per episode: the 429s of requests already in flight are
    one signal, not many), and nobody starts a request before the server's ``retry-after`` has
    passed: a worker that was not throttled itself would otherwise spend the tokens its
    neighbours wait for and draw more 429s. The limit grows back by one after as many
    successes as the current limit (additive increase, multiplicative decrease), never above
    ``ceiling`` nor below one.
    """

    def __init__(self, ceiling: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = ceiling
        self.limit = ceiling
        self.in_flight = 0
        self.successes = 0
        self.resume_at = float("-inf")
        self.clock = clock
        self.changed = threading.Condition()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self.changed:
            while True:
                quiet_for = self.resume_at - self.clock()
                if quiet_for > 0:
                    self.changed.wait(quiet_for)
                elif self.in_flight >= self.limit:
                    self.changed.wait()
                else:
                    break
            self.in_flight += 1
        try:
            yield
        finally:
            with self.changed:
                self.in_flight -= 1
                self.changed.notify_all()

    def throttled(self, retry_after: float = 0.0) -> None:
        with self.changed:
            now = self.clock()
            if now >= self.resume_at:
                self.limit = max(1, self.limit // 2)
                self.successes = 0
            self.resume_at = max(self.resume_at, now + retry_after)

    def succeeded(self) -> None:
        with self.changed:
            self.successes += 1
            if self.successes >= self.limit and self.limit < self.ceiling:
                self.limit += 1
                self.successes = 0
                self.changed.notify_all()


DEFAULT_POLICY = RetryPolicy()
BASE_DELAY_ENV = "ASSISTCTL_RETRY_BASE_DELAY"


def policy_from_environment(environ: Mapping[str, str] | None = None) -> RetryPolicy:
    """The policy for writes: ``ASSISTCTL_RETRY_BASE_DELAY`` (seconds) shortens the backoff,
    which fault-injection tests and impatient pipelines use. ``retry-after`` is honoured
    either way."""
    value = (os.environ if environ is None else environ).get(BASE_DELAY_ENV)
    if not value:
        return DEFAULT_POLICY
    try:
        base = float(value)
    except ValueError:
        raise AssistctlError(f"{BASE_DELAY_ENV}={value!r} is not a number of seconds") from None
    return RetryPolicy(attempts=30, base_delay_s=base, max_delay_s=max(base * 16, base))


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``retry-after`` secs or date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


REFUSED_ATTEMPTS = 3


def call(
    operation: Callable[[], T],
    *,
    what: str,
    recover: Callable[[], T | None] | None = None,
    idempotent: bool = True,
    policy: RetryPolicy = DEFAULT_POLICY,
    on_retry: Callable[[str, float], None] | None = None,
    pacer: Pacer | None = None,
) -> T:
    """Run ``operation`` with retries.

    ``idempotent=False`` marks a create: after an 'unknown' failure it is only repeated once
    ``recover`` has looked and found nothing. Without ``recover`` such a failure is final.
    """
    start = policy.clock()
    attempt = 0
    while True:
        try:
            with pacer.slot() if pacer is not None else contextlib.nullcontext():
                result = operation()
            if pacer is not None:
                pacer.succeeded()
            return result
        except AccountError as error:
            if error.transience is Transience.FATAL:
                raise
            attempt += 1
            elapsed = policy.clock() - start
            throttled = error.transience is Transience.THROTTLED
            wait = error.retry_after
            if throttled and pacer is not None:
                pacer.throttled(wait or 0.0)
            delay = policy.after(wait) if wait is not None else policy.backoff(attempt)
            refused = error.transience is Transience.REFUSED
            attempts = REFUSED_ATTEMPTS if refused else policy.attempts
            if (attempt >= attempts and not throttled) or elapsed + delay > policy.deadline_s:
                error.message = (
                    f"{error.message} (gave up after {attempt} attempt"
                    f"{'s' if attempt != 1 else ''} in {elapsed:.1f}s)"
                )
                raise
            if on_retry is not None:
                on_retry(f"{error.message}; retrying in {delay:.1f}s", delay)
            policy.sleep(delay)
            if error.transience is Transience.UNKNOWN and not idempotent:
                if recover is None:
                    raise
                found = recover()
                if found is not None:
                    return found
