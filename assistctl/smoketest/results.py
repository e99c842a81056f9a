"""What a smoke-test run found: steps, attempts (conversations), tests and the suite.

Plain data, judged here: a test's verdict comes from feeding its attempts, in attempt order,
to the rule its ``repeat`` chose (``repeats``), exactly as the runner did when it decided to
stop. Rendered by ``reports``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from assistctl.conversation import Reply
from assistctl.model import DesiredSmokeTest
from assistctl.smoketest.expectations import Check
from assistctl.smoketest.repeats import Repeat
from assistctl.smoketest.verdicts import DEFAULT_CONFIDENCE, Judgement, Rule, Verdict

OUTCOMES = ("passed", "failed", "inconclusive", "error")
_TEST_OUTCOMES = {
    Verdict.PASS: "passed",
    Verdict.FAIL: "failed",
    Verdict.INCONCLUSIVE: "inconclusive",
}


@dataclass(frozen=True)
class StepResult:
    """One user message and the run that answered it.

    ``failure`` is set when the conversation itself broke (the run timed out, or called a
    function the test has no canned output for); then ``checks`` is empty.
    """

    index: int
    user: str
    reply: Reply | None = None
    checks: tuple[Check, ...] = ()
    failure: str | None = None
    run_id: str | None = None

    @property
    def passed(self) -> bool:
        return (
            self.failure is None and self.reply is not None and all(c.passed for c in self.checks)
        )

    @property
    def problems(self) -> tuple[str, ...]:
        if self.failure is not None:
            return (self.failure,)
        return tuple(c.message for c in self.checks if not c.passed)


@dataclass(frozen=True)
class AttemptResult:
    """One conversation. ``error`` means the account (or the grader) failed us, not the
    assistant; ``cancelled`` that the test's verdict was reached while it was in flight."""

    test: str
    index: int
    steps: tuple[StepResult, ...]
    total_steps: int
    duration_s: float
    thread_id: str | None = None
    error: str | None = None
    cleanup_error: str | None = None
    cancelled: bool = False

    @property
    def outcome(self) -> str:
        if self.error is not None:
            return "error"
        if self.cancelled:
            return "cancelled"
        complete = len(self.steps) == self.total_steps
        return "passed" if complete and all(s.passed for s in self.steps) else "failed"

    @property
    def first_problem(self) -> str:
        if self.error is not None:
            return self.error
        if self.cancelled:
            return "cancelled: verdict reached"
        for step in self.steps:
            if not step.passed:
                return f"step {step.index}: {step.problems[0]}"
        return ""


def counted_prefix(attempts: tuple[AttemptResult, ...], rule: Rule) -> tuple[AttemptResult, ...]:
    """The attempts the rule judges: in attempt order, up to the one after which it stopped
    (attempts past it, finished or cancelled, do not count). An attempt that neither passed
    nor failed ends the prefix: an error makes the whole test an error anyway. So does a
    missing attempt: while attempt 3 is still running, 4 and 5 must not be judged in its place.
    """
    counted: list[AttemptResult] = []
    passes = 0
    for attempt in sorted(attempts, key=lambda a: a.index):
        if attempt.index != len(counted) + 1 or attempt.outcome not in ("passed", "failed"):
            break
        counted.append(attempt)
        passes += attempt.outcome == "passed"
        if rule.stops(passes, len(counted)):
            break
    return tuple(counted)


@dataclass(frozen=True)
class TestResult:
    """All attempts of one SmokeTest, judged by the rule of its ``repeat``."""

    __test__ = False  # not a pytest class

    test: DesiredSmokeTest
    attempts: tuple[AttemptResult, ...]
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def name(self) -> str:
        return self.test.name

    @cached_property
    def repeat(self) -> Repeat:
        return Repeat.of(self.test.spec)

    @property
    def pass_threshold(self) -> float:
        return self.repeat.threshold

    @cached_property
    def rule(self) -> Rule:
        return self.repeat.rule(self.confidence)

    @property
    def required(self) -> int | None:
        """For the count rule, how many attempts must pass; None for a sequential repeat."""
        if self.repeat.sequential:
            return None
        return self.rule.least_passes_to_pass[self.repeat.max_attempts]

    @cached_property
    def counted(self) -> tuple[AttemptResult, ...]:
        return counted_prefix(self.attempts, self.rule)

    @property
    def passes(self) -> int:
        return sum(1 for a in self.counted if a.outcome == "passed")

    @cached_property
    def judgement(self) -> Judgement | None:
        """What the counted attempts prove; None when none counted."""
        if not self.counted:
            return None
        return self.rule.judge(self.passes, len(self.counted))

    @property
    def verdict(self) -> Verdict | None:
        """PASS, FAIL or INCONCLUSIVE; None for a test that errored."""
        if self.outcome == "error" or self.judgement is None:
            return None
        return self.judgement.verdict

    @property
    def flaky(self) -> bool:
        """Some counted attempts passed and some failed."""
        return self.judgement is not None and self.judgement.flaky

    @property
    def stopped_early(self) -> bool:
        """A sequential repeat decided before running ``max`` attempts."""
        return self.repeat.sequential and len(self.counted) < self.repeat.max_attempts

    @property
    def outcome(self) -> str:
        if any(a.outcome == "error" for a in self.attempts) or self.judgement is None:
            return "error"
        return _TEST_OUTCOMES[self.judgement.verdict]

    @property
    def duration_s(self) -> float:
        return sum(a.duration_s for a in self.attempts)


@dataclass(frozen=True)
class SuiteResult:
    owner: str
    tests: tuple[TestResult, ...]
    duration_s: float
    deselected: tuple[str, ...] = ()
    allow_inconclusive: bool = False

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for test in self.tests:
            counts[test.outcome] += 1
        return counts

    @property
    def flaky(self) -> tuple[TestResult, ...]:
        return tuple(t for t in self.tests if t.flaky)

    @property
    def exit_code(self) -> int:
        """1 when a test errored; 2 when one failed, or was inconclusive without
        ``allow_inconclusive``; else 0."""
        counts = self.counts()
        if counts["error"]:
            return 1
        if counts["failed"] or (counts["inconclusive"] and not self.allow_inconclusive):
            return 2
        return 0
