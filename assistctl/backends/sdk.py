"""The ``openai`` SDK's failures as ``AccountError``s, for every backend built on the SDK.

One place decides what an SDK exception means: its HTTP status and API error code, whether the
request may have committed (``Transience``), how long the server asked us to wait, and one line
a user can act on (never the key).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import httpx2
import openai

from assistctl.errors import AccountError, Transience
from assistctl.retry import retry_after_seconds

T = TypeVar("T")

UNAUTHORISED_HINT = "set ASSISTCTL_API_KEY (or OPENAI_API_KEY) to a key this account accepts"
UNREACHABLE_HINT = "check --account / ASSISTCTL_ACCOUNT and that the server is running"


def translated(operation: Callable[[], T], what: str) -> Callable[[], T]:
    """``operation`` with every SDK exception raised as an ``AccountError`` about ``what``."""

    def run() -> T:
        try:
            return operation()
        except openai.OpenAIError as exc:
            raise translate_error(exc, what) from exc

    return run


def translate_error(exc: openai.OpenAIError, what: str) -> AccountError:
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = _error_message(exc)
        headers = {key.lower(): value for key, value in exc.response.headers.items()}
        if status == 401:
            text = f"{what}: the account refused the API key (401): {message}"
        elif status == 403:
            text = f"{what}: permission denied (403): {message}"
        else:
            text = f"{what}: the account answered {status}: {message}"
        return AccountError(
            text,
            hint=UNAUTHORISED_HINT if status == 401 else None,
            status=status,
            code=_error_code(exc),
            transience=_transience_of_status(status),
            retry_after=retry_after_seconds(headers),
        )
    if isinstance(exc, openai.APIConnectionError):
        url = exc.request.url
        refused = isinstance(exc.__cause__, httpx2.ConnectError)
        return AccountError(
            f"{what}: cannot reach the account {url.scheme}://{url.host}:{url.port} "
            f"({exc.__class__.__name__})",
            hint=UNREACHABLE_HINT,
            transience=Transience.REFUSED if refused else Transience.UNKNOWN,
        )
    return AccountError(f"{what}: {exc}")


def _transience_of_status(status: int) -> Transience:
    if status in (409, 429):
        return Transience.THROTTLED
    if status >= 500:
        return Transience.UNKNOWN
    return Transience.FATAL


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(exc.message)


def _error_code(exc: openai.APIStatusError) -> str | None:
    code = exc.code
    return str(code) if code else None
