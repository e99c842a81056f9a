"""What the chat and responses engines share: a model backend reached through the ``openai``
SDK (model names mapped, the key never logged or stored) and its errors turned into the
``Failure`` of a run or response.

Neither are credentials riding in the URL (``user:password@``, ``?api-key=``): every failure
message is redacted of them and shows the URL without them, since ``last_error`` / ``error`` is
stored and shown to every client — also when the backend echoes the key.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

import openai

from assistctl.local.engines.contract import (
    CodeSession,
    Failure,
    Outcome,
    RunInput,
    Search,
    ServerToolCall,
    Usage,
)

REQUEST_TIMEOUT_S = 120.0
MODELS_TIMEOUT_S = 5.0
MAX_RETRIES = 2
NO_KEY = "no-key"
ANY_MODEL = "*"
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4
_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, any surrogate is unpaired


class Backend:
    """One backend: ``kind`` (``chat`` or ``responses``) names it in errors; ``model_map``
    sends a model name as the backend's (``*`` maps every other name)."""

    def __init__(
        self,
        kind: str,
        base_url: str,
        model_map: dict[str, str] | None,
        api_key: str | None,
        *,
        timeout: float = REQUEST_TIMEOUT_S,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self.kind = kind
        self.redact = Redactor(base_url, api_key)
        self.base_url = self.redact.shown_url
        self.model_map = dict(model_map or {})
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or NO_KEY,
            timeout=timeout,
            max_retries=max_retries,
        )

    def model(self, name: str) -> str:
        """``name`` as the backend knows it: mapped, else the ``*`` mapping, else unchanged."""
        return self.model_map.get(name) or self.model_map.get(ANY_MODEL) or name

    def model_names(self) -> tuple[str, ...]:
        """The names the model map gives; with no map, the backend's own models (an
        unreachable backend lists none), since their names pass through unchanged."""
        named = tuple(name for name in self.model_map if name != ANY_MODEL)
        if self.model_map:
            return named
        try:
            listed = self.client.with_options(timeout=MODELS_TIMEOUT_S, max_retries=0).models.list()
        except openai.APIError:
            return ()
        return tuple(model.id for model in listed.data)

    def failure(
        self, error: openai.APIError, usage: Usage, calls: tuple[ServerToolCall, ...]
    ) -> Failure:
        """A backend error as the API's ``last_error`` / ``error`` (never echoing
        credentials)."""
        failure = self._failure(error, usage, calls)
        return Failure(failure.code, self.redact(failure.message), usage, calls)

    def _failure(
        self, error: openai.APIError, usage: Usage, calls: tuple[ServerToolCall, ...]
    ) -> Failure:
        kind = self.kind
        if isinstance(error, openai.RateLimitError):
            return Failure(
                "rate_limit_exceeded",
                f"The {kind} backend rate-limited the request (429): {error_detail(error)}",
                usage,
                calls,
            )
        if isinstance(error, openai.APIStatusError):
            detail = error_detail(error)
            if is_context_length_error(error):
                return Failure(
                    "invalid_prompt",
                    f"The conversation is too long for the model's context window: {detail}",
                    usage,
                    calls,
                )
            return Failure(
                "server_error",
                f"The {kind} backend answered {error.status_code}: {detail}",
                usage,
                calls,
            )
        if isinstance(error, openai.APITimeoutError):
            return Failure(
                "server_error", f"The {kind} backend at {self.base_url} timed out.", usage, calls
            )
        if isinstance(error, openai.APIConnectionError):
            return Failure(
                "server_error", f"Cannot reach the {kind} backend at {self.base_url}.", usage, calls
            )
        return Failure(
            "server_error", f"The {kind} backend failed: {error_detail(error)}", usage, calls
        )


class BackendEngine:
    """What an engine answering through a backend starts from: its ``Backend`` (named by the
    class's ``kind``) and the model names it lists."""

    kind = "backend"

    def __init__(
        self,
        base_url: str,
        model_map: dict[str, str] | None = None,
        api_key: str | None = None,
        *,
        timeout: float = REQUEST_TIMEOUT_S,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self.backend = Backend(
            self.kind, base_url, model_map, api_key, timeout=timeout, max_retries=max_retries
        )

    def model_names(self) -> tuple[str, ...]:
        return self.backend.model_names()

    def respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None = None,
        on_tool_call: Callable[[ServerToolCall], None] | None = None,
        code: CodeSession | None = None,
    ) -> Outcome:
        """Answer ``run`` as ``Engine.respond`` says; failures never carry the backend's
        credentials."""
        redact = self.backend.redact
        try:
            outcome = self._respond(run, search, new_id, on_text, on_tool_call, code)
        except Exception as exc:
            raise EngineFailure(redact(f"{type(exc).__name__}: {exc}")) from None
        if isinstance(outcome, Failure):
            return replace(outcome, message=redact(outcome.message))
        return outcome

    def _respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None,
        on_tool_call: Callable[[ServerToolCall], None] | None,
        code: CodeSession | None,
    ) -> Outcome:
        """The engine's own answer (each backend engine has one)."""
        raise NotImplementedError


def is_context_length_error(error: openai.APIError) -> bool:
    """Whether the backend refused the request for being longer than the context window."""
    if not isinstance(error, openai.APIStatusError):
        return False
    code = str(getattr(error, "code", "") or "")
    return code == "context_length_exceeded" or "context length" in error_detail(error).lower()


def error_detail(error: openai.APIError) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(error, "message", "") or error)


def valid_text(text: str) -> str:
    """``text`` with each unpaired UTF-16 surrogate replaced by U+FFFD: the account stores
    nothing it could not answer back."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


class EngineFailure(Exception):
    """An unexpected error of a backend engine, its message already redacted."""


class Redactor:
    """Removes a backend's credentials from text: the key, and the user, password and query
    values of its URL (as written and percent-decoded)."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        parts = urlsplit(base_url)
        found = {api_key or ""}
        for value in (parts.username, parts.password, *(v for _, v in parse_qsl(parts.query))):
            if value:
                found.update({value, unquote(value), quote(unquote(value), safe="")})
        if parts.password is not None:  # sent as HTTP Basic auth, which a backend may echo
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password)}"
            found.add(base64.b64encode(pair.encode()).decode())
        # Shorter values (a user "me") would garble every message and protect nothing.
        long_enough = (s for s in found if len(s) >= MIN_SECRET_LENGTH)
        self.secrets = tuple(sorted(long_enough, key=len, reverse=True))
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        self.shown_url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text
