"""The fault settings the admin API accepts: latency, a rate limit, random failures, the
indexing delay and rules that fail chosen requests. Validated like any request body."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from assistctl.local.api.validation import expect_type, one_of, optional_number
from assistctl.local.domain import InvalidRequest

RULE_KEYS = ("methods", "path", "nth", "count", "status", "drop", "when", "retry_after")
FAULT_KEYS = ("latency_ms", "rate_limit_per_s", "fail_rate", "seed", "indexing_delay_s", "rules")


@dataclass(frozen=True)
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
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise InvalidRequest(
            f"Invalid '{where}.path': not a regex: {exc}", f"{where}.path"
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


def parse_faults(body: dict[str, Any]) -> FaultSettings:
    """Validate an admin fault body; 400 with the offending field otherwise."""
    for key in body:
        if key not in FAULT_KEYS:
            raise InvalidRequest(f"Unrecognized fault setting: {key}", param=key)
    rules = body.get("rules") or []
    expect_type(rules, list, "rules", "an array")
    seed = body.get("seed")
    if seed is not None:
        expect_type(seed, int, "seed", "an integer")
    rate = optional_number(body, "rate_limit_per_s", 0, math.inf)
    return FaultSettings(
        latency_ms=int(optional_number(body, "latency_ms", 0, math.inf) or 0),
        rate_limit_per_s=float(rate) if rate else None,
        fail_rate=float(optional_number(body, "fail_rate", 0, 1) or 0.0),
        seed=seed,
        indexing_delay_s=float(optional_number(body, "indexing_delay_s", 0, math.inf) or 0.0),
        rules=tuple(parse_rule(rule, index) for index, rule in enumerate(rules)),
    )
