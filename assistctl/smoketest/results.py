"""What a smoke-test run found: steps, attempts (conversations), tests and the suite.

Plain data, judged here (a test's outcome from its attempts against ``repeat`` and
``pass_threshold``) and rendered by ``reports``.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistctl.conversation import Reply
from assistctl.model import DesiredSmokeTest
from assistctl.smoketest import expectations
from assistctl.smoketest.expectations import Verdict


@dataclass(frozen=True)
class StepResult:
    """One user message and the run that answered it.

    ``failure`` is set when the conversation itself broke (the run timed out, or called a
    function the test has no canned output for); then ``verdicts`` is empty.
    """

    index: int
    user: str
    reply: Reply | None = None
    verdicts: tuple[Verdict, ...] = ()
    failure: str | None = None
    run_id: str | None = None

    @property
    def passed(self) -> bool:
        return (
            self.failure is None and self.reply is not None and all(v.passed for v in self.verdicts)
        )

    @property
    def problems(self) -> tuple[str, ...]:
        if self.failure is not None:
            return (self.failure,)
        return tuple(v.message for v in self.verdicts if not v.passed)


@dataclass(frozen=True)
class AttemptResult:
    """One conversation. ``error`` means the account failed us, not the assistant."""

    test: str
    index: int
    steps: tuple[StepResult, ...]
    total_steps: int
    duration_s: float
    thread_id: str | None = None
    error: str | None = None
    cleanup_error: str | None = None

    @property
    def outcome(self) -> str:
        if self.error is not None:
            return "error"
        complete = len(self.steps) == self.total_steps
        return "passed" if complete and all(s.passed for s in self.steps) else "failed"

    @property
    def first_problem(self) -> str:
        if self.error is not None:
            return self.error
        for step in self.steps:
            if not step.passed:
                return f"step {step.index}: {step.problems[0]}"
        return ""


@dataclass(frozen=True)
class TestResult:
    """All attempts of one SmokeTest, judged against ``repeat`` and ``pass_threshold``."""

    __test__ = False  # not a pytest class

    test: DesiredSmokeTest
    attempts: tuple[AttemptResult, ...]

    @property
    def name(self) -> str:
        return self.test.name

    @property
    def repeat(self) -> int:
        return int(self.test.spec.get("repeat", 1))

    @property
    def pass_threshold(self) -> float:
        return float(self.test.spec.get("pass_threshold", 1.0))

    @property
    def required(self) -> int:
        return expectations.required_passes(self.repeat, self.pass_threshold)

    @property
    def passes(self) -> int:
        return sum(1 for a in self.attempts if a.outcome == "passed")

    @property
    def outcome(self) -> str:
        if any(a.outcome == "error" for a in self.attempts):
            return "error"
        return "passed" if self.passes >= self.required else "failed"

    @property
    def duration_s(self) -> float:
        return sum(a.duration_s for a in self.attempts)


@dataclass(frozen=True)
class SuiteResult:
    owner: str
    tests: tuple[TestResult, ...]
    duration_s: float
    deselected: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        counts = {"passed": 0, "failed": 0, "error": 0}
        for test in self.tests:
            counts[test.outcome] += 1
        return counts

    @property
    def exit_code(self) -> int:
        counts = self.counts()
        if counts["error"]:
            return 1
        return 2 if counts["failed"] else 0
