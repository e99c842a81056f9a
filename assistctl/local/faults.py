"""Fault injection and request statistics for the local account.

The active fault set starts from ``LocalConfig`` and is replaced at run time through
``POST /_admin/faults``. For each counted request, in this order: added latency; the token
bucket (429 with ``retry-after`` and ``x-ratelimit-*``); the fault rules; the random
``fail_rate`` (500, reproducible with ``seed``); then the request runs. A rule with
``"when": "after"`` lets the request run and commit, then answers its status or drops the
TCP connection with no answer: the SDK sees an ``APIConnectionError`` for a write that did
happen, which is how duplicate-create bugs in callers are caught.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistctl.local.http import (
    ApiError,
    bad_request,
    expect_type,
    one_of,
    optional_number,
)

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
RULE_KEYS = ("methods", "path", "nth", "count", "status", "drop", "when", "retry_after")
FAULT_KEYS = ("latency_ms", "rate_limit_per_s", "fail_rate", "seed", "indexing_delay_s", "rules")


@dataclass
class FaultRule:
    """Fail the ``nth``..``nth+count-1`` requests matching ``methods`` + ``path`` (a regex)."""

    path: re.Pattern[str]
    methods: frozenset[str] | None = None
    nth: int = 1
    count: int = 1
    status: int = 500
    drop: bool = False
    when: str = "before"
    retry_after: float | None = None
    seen: int = 0

    def body(self) -> dict[str, Any]:
        return {
            "methods": sorted(self.methods) if self.methods else None,
            "path": self.path.pattern,
            "nth": self.nth,
            "count": self.count,
            "status": self.status,
            "drop": self.drop,
            "when": self.when,
            "retry_after": self.retry_after,
            "seen": self.seen,
        }


@dataclass
class Faults:
    """The live fault set. Mutated only under ``lock`` (requests run on several threads)."""

    latency_ms: int = 0
    rate_limit_per_s: float | None = None
    fail_rate: float = 0.0
    seed: int | None = None
    indexing_delay_s: float = 0.0
    rules: list[FaultRule] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    random: random.Random = field(default_factory=random.Random, repr=False)
    tokens: float = 0.0
    refilled_at: float = 0.0

    @classmethod
    def from_config(cls, config) -> Faults:
        faults = cls()
        faults.replace(
            {
                "latency_ms": config.latency_ms,
                "rate_limit_per_s": config.rate_limit_per_s,
                "fail_rate": config.fail_rate,
                "seed": config.seed,
                "indexing_delay_s": config.indexing_delay_s,
            }
        )
        return faults

    def replace(self, body: dict[str, Any]) -> None:
        """Replace the whole set from an admin body (missing keys switch that fault off)."""
        parsed = parse_faults(body)
        with self.lock:
            self.latency_ms = parsed["latency_ms"]
            self.rate_limit_per_s = parsed["rate_limit_per_s"]
            self.fail_rate = parsed["fail_rate"]
            self.seed = parsed["seed"]
            self.indexing_delay_s = parsed["indexing_delay_s"]
            self.rules = parsed["rules"]
            self.random = random.Random(self.seed)
            self.tokens = self.capacity()
            self.refilled_at = time.monotonic()

    def capacity(self) -> float:
        return max(1.0, self.rate_limit_per_s or 0.0)

    def body(self) -> dict[str, Any]:
        with self.lock:
            return {
                "latency_ms": self.latency_ms,
                "rate_limit_per_s": self.rate_limit_per_s,
                "fail_rate": self.fail_rate,
                "seed": self.seed,
                "indexing_delay_s": self.indexing_delay_s,
                "rules": [rule.body() for rule in self.rules],
            }

    def take_token(self) -> tuple[bool, dict[str, str]]:
        """Token bucket: (allowed, x-ratelimit headers). Always allowed with no limit set."""
        with self.lock:
            rate = self.rate_limit_per_s
            if not rate:
                return True, {}
            capacity = self.capacity()
            moment = time.monotonic()
            self.tokens = min(capacity, self.tokens + (moment - self.refilled_at) * rate)
            self.refilled_at = moment
            allowed = self.tokens >= 1.0
            if allowed:
                self.tokens -= 1.0
            headers = {
                "x-ratelimit-limit-requests": str(int(capacity)),
                "x-ratelimit-remaining-requests": str(int(self.tokens)),
                "x-ratelimit-reset-requests": f"{(capacity - self.tokens) / rate:.3f}s",
            }
            if not allowed:
                wait = (1.0 - self.tokens) / rate
                headers["retry-after"] = str(max(1, math.ceil(wait)))
                headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
            return allowed, headers

    def matching_rule(self, method: str, path: str) -> FaultRule | None:
        """Count the request against every matching rule; the first one that fires wins."""
        fired = None
        with self.lock:
            for rule in self.rules:
                if rule.methods is not None and method not in rule.methods:
                    continue
                if not rule.path.search(path):
                    continue
                rule.seen += 1
                if fired is None and rule.nth <= rule.seen < rule.nth + rule.count:
                    fired = rule
        return fired

    def random_failure(self) -> bool:
        with self.lock:
            return self.fail_rate > 0 and self.random.random() < self.fail_rate


def parse_rule(raw: Any, index: int) -> FaultRule:
    where = f"rules[{index}]"
    expect_type(raw, dict, where, "an object")
    for key in raw:
        if key not in RULE_KEYS:
            raise bad_request(f"Unrecognized fault rule field: {where}.{key}", param=where)
    pattern = raw.get("path", ".*")
    expect_type(pattern, str, f"{where}.path", "a string (regex)")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise bad_request(f"Invalid '{where}.path': not a regex: {exc}", f"{where}.path") from None
    methods = raw.get("methods")
    if methods is not None:
        expect_type(methods, list, f"{where}.methods", "an array")
        if not all(isinstance(m, str) for m in methods):
            raise bad_request(f"Invalid '{where}.methods': expected strings.", f"{where}.methods")
        methods = frozenset(m.upper() for m in methods)
    when = one_of(raw.get("when", "before"), f"{where}.when", ("before", "after"))
    status = raw.get("status", 500)
    expect_type(status, int, f"{where}.status", "an integer")
    if not 400 <= status <= 599:
        raise bad_request(f"Invalid '{where}.status': expected 400..599.", f"{where}.status")
    drop = raw.get("drop", False)
    expect_type(drop, bool, f"{where}.drop", "a boolean")
    nth = optional_number(raw, "nth", 1, math.inf, f"{where}.nth") or 1
    count = optional_number(raw, "count", 1, math.inf, f"{where}.count") or 1
    retry_after = optional_number(raw, "retry_after", 0, math.inf, f"{where}.retry_after")
    return FaultRule(
        path=compiled,
        methods=methods,
        nth=int(nth),
        count=int(count),
        status=status,
        drop=drop,
        when=when,
        retry_after=float(retry_after) if retry_after is not None else None,
    )


def parse_faults(body: dict[str, Any]) -> dict[str, Any]:
    """Validate an admin fault body; 400 with the offending field otherwise."""
    for key in body:
        if key not in FAULT_KEYS:
            raise bad_request(f"Unrecognized fault setting: {key}", param=key)
    rules = body.get("rules") or []
    expect_type(rules, list, "rules", "an array")
    seed = body.get("seed")
    if seed is not None:
        expect_type(seed, int, "seed", "an integer")
    rate = optional_number(body, "rate_limit_per_s", 0, math.inf)
    return {
        "latency_ms": int(optional_number(body, "latency_ms", 0, math.inf) or 0),
        "rate_limit_per_s": float(rate) if rate else None,
        "fail_rate": float(optional_number(body, "fail_rate", 0, 1) or 0.0),
        "seed": seed,
        "indexing_delay_s": float(optional_number(body, "indexing_delay_s", 0, math.inf) or 0.0),
        "rules": [parse_rule(rule, index) for index, rule in enumerate(rules)],
    }


def fault_error(status: int, retry_after: float | None = None) -> ApiError:
    message, kind, code = STATUS_ERRORS.get(
        status, (f"Injected fault: status {status}.", "server_error", None)
    )
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
        headers["retry-after-ms"] = str(int(retry_after * 1000))
    return ApiError(status, message, type=kind, code=code, headers=headers)


class RequestStats:
    """Counts of requests per ``METHOD /route/{template}`` since start or the last reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def body(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(sorted(self._counts.items())), "total": self._counts.total()}


class FaultGate:
    """Applies the live fault set around one request to the inner ASGI app."""

    def __init__(self, account) -> None:
        self.account = account

    async def __call__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        faults: Faults = self.account.faults
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
            self.account.drop_connection(scope.get("client"))
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
