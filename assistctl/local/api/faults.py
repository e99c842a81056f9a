"""Fault injection: the live fault set and the gate that applies it around each request.

The active fault set starts from the account's configuration and is replaced at run time
through ``POST /_admin/faults``. For each counted request, in this order: added latency; the
token bucket (429 with ``retry-after`` and ``x-ratelimit-*``); the fault rules; the random
``fail_rate`` (500, reproducible with ``seed``); then the request runs. A rule with
``"when": "after"`` lets the request run and commit, then answers its status or drops the
TCP connection with no answer: the SDK sees an ``APIConnectionError`` for a write that did
happen, which is how duplicate-create bugs in callers are caught.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistctl.local.api.errors import ApiError
from assistctl.local.api.fault_settings import FaultRule, FaultSettings, parse_faults

STATUS_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Injected fault: bad request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("Injected fault: forbidden.", "invalid_request_error", None),
    404: ("Injected fault: not found.", "invalid_request_error", None),
    409: ("Injected fault: conflict.", "invalid_request_error", None),
    429: (
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The server is overloaded or not ready yet.", "server_error", None),
}


class Faults:
    """The live fault set: its settings, each rule's count of matching requests, the token
    bucket and the random sequence. Changed only under a lock (requests run on several
    threads)."""

    def __init__(self, body: dict[str, Any]) -> None:
        """Start from ``body``, validated like the admin API's (the account's configuration)."""
        self._lock = threading.Lock()
        self._apply(parse_faults(body))

    def _apply(self, settings: FaultSettings) -> None:
        with self._lock:
            self.settings = settings
            self._seen = [0] * len(settings.rules)
            self._random = random.Random(settings.seed)
            self._tokens = self._capacity()
            self._refilled_at = time.monotonic()

    def replace(self, body: dict[str, Any]) -> None:
        """Replace the whole set from an admin body (missing keys switch that fault off); rule
        counters start again from zero."""
        self._apply(parse_faults(body))

    @property
    def latency_ms(self) -> int:
        return self.settings.latency_ms

    @property
    def indexing_delay_s(self) -> float:
        return self.settings.indexing_delay_s

    def _capacity(self) -> float:
        return max(1.0, self.settings.rate_limit_per_s or 0.0)

    def body(self) -> dict[str, Any]:
        with self._lock:
            settings = self.settings
            return {
                "latency_ms": settings.latency_ms,
                "rate_limit_per_s": settings.rate_limit_per_s,
                "fail_rate": settings.fail_rate,
                "seed": settings.seed,
                "indexing_delay_s": settings.indexing_delay_s,
                "rules": [
                    rule.body(seen) for rule, seen in zip(settings.rules, self._seen, strict=True)
                ],
            }

    def take_token(self) -> tuple[bool, dict[str, str]]:
        """Token bucket: (allowed, x-ratelimit headers). Always allowed with no limit set."""
        with self._lock:
            rate = self.settings.rate_limit_per_s
            if not rate:
                return True, {}
            capacity = self._capacity()
            moment = time.monotonic()
            self._tokens = min(capacity, self._tokens + (moment - self._refilled_at) * rate)
            self._refilled_at = moment
            allowed = self._tokens >= 1.0
            if allowed:
                self._tokens -= 1.0
            headers = {
                "x-ratelimit-limit-requests": str(int(capacity)),
                "x-ratelimit-remaining-requests": str(int(self._tokens)),
                "x-ratelimit-reset-requests": f"{(capacity - self._tokens) / rate:.3f}s",
            }
            if not allowed:
                wait = (1.0 - self._tokens) / rate
                headers["retry-after"] = str(max(1, math.ceil(wait)))
                headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
            return allowed, headers

    def matching_rule(self, method: str, path: str) -> FaultRule | None:
        """Count the request against every matching rule; the first one that fires wins."""
        fired = None
        with self._lock:
            for index, rule in enumerate(self.settings.rules):
                if not rule.matches(method, path):
                    continue
                self._seen[index] += 1
                if fired is None and rule.fires(self._seen[index]):
                    fired = rule
        return fired

    def random_failure(self) -> bool:
        with self._lock:
            fail_rate = self.settings.fail_rate
            return fail_rate > 0 and self._random.random() < fail_rate


class Connections:
    """The open connections of the server an app runs in, which a ``drop`` rule cuts."""

    def __init__(self) -> None:
        self._server: uvicorn.Server | None = None

    def attach(self, server: uvicorn.Server) -> None:
        self._server = server

    def drop(self, client: tuple[str, int] | None) -> bool:
        """Abort the TCP connection from ``client`` without an answer (True if found)."""
        if self._server is None or client is None:
            return False
        for connection in list(self._server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None and tuple(getattr(connection, "client", ()) or ()) == tuple(
                client
            ):
                transport.abort()
                return True
        return False


def fault_error(status: int, retry_after: float | None = None) -> ApiError:
    message, kind, code = STATUS_ERRORS.get(
        status, (f"Injected fault: status {status}.", "server_error", None)
    )
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
        headers["retry-after-ms"] = str(int(retry_after * 1000))
    return ApiError(status, message, type=kind, code=code, headers=headers)


class FaultGate:
    """Applies the live fault set around one request to the inner ASGI app."""

    def __init__(self, faults: Faults, connections: Connections) -> None:
        self.faults = faults
        self.connections = connections

    async def __call__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        allowed, limit_headers = faults.take_token()
        if not allowed:
            await fault_error(429).response(limit_headers)(scope, receive, send)
            return
        rule = faults.matching_rule(scope["method"], scope["path"])
        if rule is not None and rule.when == "before":
            await self._fail(rule, scope, receive, send)
            return
        if rule is None and faults.random_failure():
            await fault_error(500).response(limit_headers)(scope, receive, send)
            return
        if rule is not None:
            await app(scope, receive, _discard)
            await self._fail(rule, scope, receive, send)
            return
        await app(scope, receive, _with_headers(send, limit_headers))

    async def _fail(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        if rule.drop:
            self.connections.drop(scope.get("client"))
            # Let the transport report the loss, so the server does not try to answer.
            await asyncio.sleep(0.01)
            return
        await fault_error(rule.status, rule.retry_after).response()(scope, receive, send)


async def _discard(message: Message) -> None:
    """Swallow the real answer of an ``after`` rule's request."""


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    if not headers:
        return send
    extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return send_with_headers
