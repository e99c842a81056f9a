"""A test's ``repeat``: how many conversations it may run and which rule judges them.

``repeat: N`` (a whole number) keeps the count rule every test had before verdicts existed:
all N attempts run and the test passes when ``required_passes`` of them did, so existing tests
keep their outcome and their cost; reports add the pass rate, its interval and flakiness.
``repeat: {min, max}`` opts into the sequential verdict (``verdicts.sequential_rule``): attempts
run until the interval decides PASS or FAIL, at least ``min`` and at most ``max`` of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assistctl.smoketest import verdicts

DEFAULT_THRESHOLD = 1.0


@dataclass(frozen=True)
class Repeat:
    """The validated ``repeat`` and ``pass_threshold`` of one test."""

    min_attempts: int
    max_attempts: int
    sequential: bool
    threshold: float

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> Repeat:
        threshold = float(spec.get("pass_threshold", DEFAULT_THRESHOLD))
        repeat = spec.get("repeat", 1)
        if isinstance(repeat, Mapping):
            return cls(int(repeat["min"]), int(repeat["max"]), True, threshold)
        return cls(int(repeat), int(repeat), False, threshold)

    @property
    def rule_name(self) -> str:
        return "sequential" if self.sequential else "count"

    @property
    def repeated(self) -> bool:
        """More than one attempt may run: a rate and an interval mean something."""
        return self.max_attempts > 1

    @property
    def shown(self) -> str:
        """As written in the manifest: ``5`` or ``{min: 3, max: 30}``."""
        if self.sequential:
            return f"{{min: {self.min_attempts}, max: {self.max_attempts}}}"
        return str(self.max_attempts)

    def as_json(self) -> int | dict[str, int]:
        if self.sequential:
            return {"min": self.min_attempts, "max": self.max_attempts}
        return self.max_attempts

    def rule(self, confidence: float = verdicts.DEFAULT_CONFIDENCE) -> verdicts.Rule:
        if self.sequential:
            return verdicts.sequential_rule(
                self.threshold, self.min_attempts, self.max_attempts, confidence
            )
        return verdicts.count_rule(self.max_attempts, self.threshold, confidence)

    def problem(self, confidence: float) -> tuple[tuple[str, ...], str] | None:
        """Why this repeat can never give a verdict, as ``(field path, phrase)``: a ``min``
        above ``max``, or a sequential ``max`` too small for any run of passes to reach PASS
        at this threshold and confidence. None when it can."""
        if not self.sequential:
            return None
        if self.min_attempts > self.max_attempts:
            return ("repeat", "min"), f"must not exceed max ({self.max_attempts})"
        try:
            verdicts.check_reachable(self.threshold, self.max_attempts, confidence)
        except verdicts.UnreachablePass as exc:
            return ("repeat", "max"), str(exc)
        return None
