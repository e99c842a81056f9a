"""One ``assistctl test``: which tests run, against which deployments, graded by what.

The CLI parses flags and prints; this module turns them into runs. A run has one or two
``Side``s (two with ``--compare``): a deployment named by its environment or account, with the
manifests loaded for that environment and the tests ``-k`` selected, so each side is tested
exactly as ``apply`` deployed it. Judges (grader, embedder) are connected only when a selected
test has a graded expectation, so a suite without ``rubric`` or ``similar`` never needs a key.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistctl.backends.base import Backend
from assistctl.errors import SmokeTestError
from assistctl.grading import Embedder, Grader, GraderSettings
from assistctl.manifest import load_all
from assistctl.model import Desired, DesiredSmokeTest
from assistctl.smoketest import expectations
from assistctl.smoketest.expectations import NO_JUDGES, Judges
from assistctl.smoketest.runner import select

ConnectJudges = Callable[[GraderSettings], tuple[Grader, Embedder]]


@dataclass(frozen=True)
class Selection:
    """The manifests of one environment and the tests ``-k`` chose from them."""

    desired: Desired
    tests: tuple[DesiredSmokeTest, ...]
    deselected: tuple[str, ...]
    apply_hint: str


@dataclass(frozen=True)
class Side:
    """One deployment a suite runs against, and what to call it in reports."""

    label: str
    backend: Backend
    selection: Selection


def load(
    paths: Sequence[str], env: str | None, pattern: str | None, command: str = "assistctl"
) -> Selection:
    """Manifests and smoke tests under ``paths`` for ``env``, selected by ``pattern``;
    refuses a suite with no tests, or none selected. ``command`` starts the apply hint
    (``assistctl --account …``)."""
    targets = list(paths) or ["."]
    desired, smoke_tests = load_all(targets, env=env)
    if not smoke_tests:
        raise SmokeTestError(
            f"no smoke tests found in {' '.join(targets)}",
            hint="put SmokeTest documents in a tests/ folder next to the manifests",
        )
    selected, deselected = select(smoke_tests, pattern)
    if not selected:
        names = ", ".join(t.name for t in smoke_tests)
        raise SmokeTestError(f"-k {pattern!r} selects none of the smoke tests ({names})")
    hint = f"{command} apply " + " ".join(shlex.quote(t) for t in targets)
    if env:
        hint += f" --env {shlex.quote(env)}"
    return Selection(desired, selected, deselected, hint)


def graded_kinds(tests: Sequence[DesiredSmokeTest]) -> set[str]:
    """The graded expectation kinds (``rubric``, ``similar``) the tests use."""
    found: set[str] = set()
    for test in tests:
        for step in test.spec.get("steps") or ():
            for expectation in step.get("expect") or ():
                if expectations.problem(expectation) is not None:
                    continue
                found.update(
                    kind
                    for _, kind, _ in expectations.leaves(expectation)
                    if kind in expectations.GRADED
                )
    return found


def judges(
    tests: Sequence[DesiredSmokeTest], settings: GraderSettings, connect: ConnectJudges
) -> Judges:
    """The grader and embedder the tests need, connected once; none when no test grades.
    A graded test without a grader account is left to ``runner.check_test`` to refuse with
    its location."""
    if not graded_kinds(tests) or settings.account is None:
        return NO_JUDGES
    grader, embedder = connect(settings)
    return Judges(grader=grader, embedder=embedder)
