"""Retries for account calls: honour ``retry-after``, back off with jitter, never re-create blindly.

The SDK's own retries are switched off (``max_retries=0`` in ``accounts.connect``) because they
would repeat a POST whose outcome is unknown. Here a create passes ``recover``: before a retry
after a failure that may have committed (5xx, dropped connection, timeout), ``recover`` looks the
resource up by its ownership keys and, when it finds it, that result is used instead.
"""

from __future__ import annotations

import email.utils
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from assistctl.errors import AccountError, AssistctlError

T = TypeVar("T")

SUNSET_MESSAGE = (
    "the account answered 404 to {path}: OpenAI and Azure shut the Assistants API down on "
    "2026-08-26 (files and vector stores still work there)"
)
SUNSET_HINT = (
    "run assistants on the embedded local account (--account local, or `assistctl local serve`, "
    "optionally backed by a real model with --engine chat), or point --account at an "
    "Assistants-compatible server (http(s)://HOST/v1)"
)


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


def retry_after_seconds(headers: object) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``retry-after`` secs or date)."""
    if headers is None:
        return None
    get = getattr(headers, "get", None)
    if get is None:
        return None
    millis = get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = get("retry-after")
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


def _classify(exc: BaseException) -> str:
    """'throttled' (not committed), 'refused' (never sent: nothing listens there), 'unknown'
    (may have committed), or 'fatal'."""
    import httpx2
    import openai

    if isinstance(exc, openai.RateLimitError):
        return "throttled"
    if isinstance(exc, openai.APIConnectionError) and isinstance(
        exc.__cause__, httpx2.ConnectError
    ):
        return "refused"
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return "unknown"
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return "unknown"
    if isinstance(exc, openai.APIStatusError) and exc.status_code == 409:
        return "throttled"
    return "fatal"


def translate_error(exc: BaseException, what: str) -> AssistctlError:
    """Turn an SDK error into one line a user can act on (never including the key)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        path = exc.request.url.path if exc.request is not None else ""
        message = _error_message(exc)
        if status == 404 and (path.endswith("/assistants") or path.endswith("/threads")):
            return AccountError(SUNSET_MESSAGE.format(path=path), hint=SUNSET_HINT)
        if status == 401:
            return AccountError(
                f"{what}: the account refused the API key (401): {message}",
                hint="set ASSISTCTL_API_KEY (or OPENAI_API_KEY) to a key this account accepts",
            )
        if status == 403:
            return AccountError(f"{what}: permission denied (403): {message}")
        return AccountError(f"{what}: the account answered {status}: {message}")
    if isinstance(exc, openai.APIConnectionError):
        url = getattr(getattr(exc, "request", None), "url", None)
        host = f" {url.scheme}://{url.host}:{url.port}" if url is not None else ""
        return AccountError(
            f"{what}: cannot reach the account{host} ({exc.__class__.__name__})",
            hint="check --account / ASSISTCTL_ACCOUNT and that the server is running",
        )
    return AccountError(f"{what}: {exc}")


def _error_message(exc: object) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(getattr(exc, "message", exc))


def call(
    operation: Callable[[], T],
    *,
    what: str,
    recover: Callable[[], T | None] | None = None,
    idempotent: bool = True,
    policy: RetryPolicy = DEFAULT_POLICY,
    on_retry: Callable[[str, float], None] | None = None,
) -> T:
    """Run ``operation`` with retries.

    ``idempotent=False`` marks a create: after an 'unknown' failure it is only repeated once
    ``recover`` has looked and found nothing. Without ``recover`` such a failure is final.
    """
    start = policy.clock()
    attempt = 0
    while True:
        try:
            return operation()
        except AssistctlError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised when fatal
            kind = _classify(exc)
            if kind == "fatal":
                raise translate_error(exc, what) from exc
            attempt += 1
            elapsed = policy.clock() - start
            wait = retry_after_seconds(getattr(getattr(exc, "response", None), "headers", None))
            delay = wait if wait is not None else policy.backoff(attempt)
            attempts = REFUSED_ATTEMPTS if kind == "refused" else policy.attempts
            if attempt >= attempts or elapsed + delay > policy.deadline_s:
                error = translate_error(exc, what)
                error.message = (
                    f"{error.message} (gave up after {attempt} attempt"
                    f"{'s' if attempt != 1 else ''} in {elapsed:.1f}s)"
                )
                raise error from exc
            if on_retry is not None:
                on_retry(f"{what}: {exc.__class__.__name__}, retrying in {delay:.1f}s", delay)
            policy.sleep(delay)
            if kind == "unknown" and not idempotent:
                if recover is None:
                    raise translate_error(exc, what) from exc
                found = recover()
                if found is not None:
                    return found
