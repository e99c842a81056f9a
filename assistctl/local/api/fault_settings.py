"""The fault settings the admin API accepts: latency, a rate limit, random failures, the
indexing delay and rules that fail chosen requests. Validated like any request body, with
every number bounded.

A rule's ``path`` is a regular expression in RE2 syntax (the ``google-re2`` engine), searched
in the request path: ``^/v1/assistants$`` and ``/file_batches$`` read as they always did, but
matching takes time linear in the path, so no pattern (``(a+)+b``) can stall the event loop.
Backreferences and lookaround, which need backtracking, are refused with a 400."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import re2

from assistctl.local.api.validation import (
    check_array_length,
    expect_type,
    one_of,
    optional_number,
)
from assistctl.local.domain import InvalidRequest

RULE_KEYS = ("methods", "path", "nth", "count", "status", "drop", "when", "retry_after")
FAULT_KEYS = ("latency_ms", "rate_limit_per_s", "fail_rate", "seed", "indexing_delay_s", "rules")
MAX_LATENCY_MS = 600_000
MAX_RATE_LIMIT_PER_S = 1_000_000
MAX_INDEXING_DELAY_S = 86_400
MAX_RETRY_AFTER_S = 3600
MAX_RULE_COUNT = 1_000_000_000
MAX_RULES = 100
MAX_PATTERN_LENGTH = 1000


class PathPattern(Protocol):
    """A compiled RE2 pattern (``google-re2`` ships no type information)."""

    pattern: str

    def search(self, text: str) -> object: ...


@dataclass(frozen=True)
class FaultRule:
    """Fail the ``nth``..``nth+count-1`` requests matching ``methods`` + ``path`` (an RE2
    regular expression)."""

    path: PathPattern
    methods: frozenset[str] | None = None
    nth: int = 1
    count: int = 1
    status: int = 500
    drop: bool = False
    when: str = "before"
    retry_after: float | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and bool(self.path.search(path))

    def fires(self, seen: int) -> bool:
        """Whether the ``seen``-th matching request is one this rule fails."""
        return self.nth <= seen < self.nth + self.count

    def body(self, seen: int) -> dict[str, Any]:
        return {
            "methods": sorted(self.methods) if self.methods else None,
            "path": self.path.pattern,
            "nth": self.nth,
            "count": self.count,
            "status": self.status,
            "drop": self.drop,
            "when": self.when,
            "retry_after": self.retry_after,
            "seen": seen,
        }


@dataclass(frozen=True)
class FaultSettings:
    """A whole fault set; what is left out is off."""

    latency_ms: int = 0
    rate_limit_per_s: float | None = None
    fail_rate: float = 0.0
    seed: int | None = None
    indexing_delay_s: float = 0.0
    rules: tuple[FaultRule, ...] = ()


def parse_rule(raw: Any, index: int) -> FaultRule:
    where = f"rules[{index}]"
    expect_type(raw, dict, where, "an object")
    for key in raw:
        if key not in RULE_KEYS:
            raise InvalidRequest(f"Unrecognized fault rule field: {where}.{key}", param=where)
    pattern = raw.get("path", ".*")
    expect_type(pattern, str, f"{where}.path", "a string (regex)")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidRequest(
            f"Invalid '{where}.path': longer than {MAX_PATTERN_LENGTH} characters.",
            f"{where}.path",
        )
    try:
        compiled: PathPattern = re2.compile(pattern)
    except re2.error as exc:
        raise InvalidRequest(
            f"Invalid '{where}.path': not an RE2 regular expression "
            f"(no backreferences or lookaround): {exc}",
            f"{where}.path",
        ) from None
    listed = raw.get("methods")
    methods = None
    if listed is not None:
        expect_type(listed, list, f"{where}.methods", "an array")
        if not all(isinstance(m, str) for m in listed):
            raise InvalidRequest(
                f"Invalid '{where}.methods': expected strings.", f"{where}.methods"
            )
        methods = frozenset(m.upper() for m in listed)
    when = one_of(raw.get("when", "before"), f"{where}.when", ("before", "after"))
    status = raw.get("status", 500)
    expect_type(status, int, f"{where}.status", "an integer")
    if not 400 <= status <= 599:
        raise InvalidRequest(f"Invalid '{where}.status': expected 400..599.", f"{where}.status")
    drop = raw.get("drop", False)
    expect_type(drop, bool, f"{where}.drop", "a boolean")
    nth = _optional_integer(raw, "nth", f"{where}.nth") or 1
    count = _optional_integer(raw, "count", f"{where}.count") or 1
    retry_after = optional_number(raw, "retry_after", 0, MAX_RETRY_AFTER_S, f"{where}.retry_after")
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


def _optional_integer(raw: dict[str, Any], name: str, param: str) -> int | None:
    if raw.get(name) is None:
        return None
    expect_type(raw[name], int, param, "an integer")
    return int(optional_number(raw, name, 1, MAX_RULE_COUNT, param) or 1)


def parse_faults(body: dict[str, Any]) -> FaultSettings:
    """Validate an admin fault body; 400 with the offending field otherwise."""
    for key in body:
        if key not in FAULT_KEYS:
            raise InvalidRequest(f"Unrecognized fault setting: {key}", param=key)
    rules = body.get("rules") or []
    expect_type(rules, list, "rules", "an array")
    check_array_length(rules, "rules", MAX_RULES)
    seed = body.get("seed")
    if seed is not None:
        expect_type(seed, int, "seed", "an integer")
    rate = optional_number(body, "rate_limit_per_s", 0, MAX_RATE_LIMIT_PER_S)
    latency = optional_number(body, "latency_ms", 0, MAX_LATENCY_MS)
    indexing_delay = optional_number(body, "indexing_delay_s", 0, MAX_INDEXING_DELAY_S)
    return FaultSettings(
        latency_ms=int(latency or 0),
        rate_limit_per_s=float(rate) if rate else None,
        fail_rate=float(optional_number(body, "fail_rate", 0, 1) or 0.0),
        seed=seed,
        indexing_delay_s=float(indexing_delay or 0.0),
        rules=tuple(parse_rule(rule, index) for index, rule in enumerate(rules)),
    )
