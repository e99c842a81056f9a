"""Smoke tests: run scripted conversations against the deployed assistants and judge them.

Data flows one way: the SmokeTest documents (``manifest.load_smoke_tests``) and a snapshot of
what the stack has deployed (``live.snapshot``) go in; a ``SuiteResult`` comes out, which
``reports`` renders. Each attempt of a test is one conversation (a backend ``Conversation``:
a thread and its runs, or a conversation and its responses), so attempts run in parallel
(bounded) and never see each other's messages. The conversation is deleted when it ends,
however it ends.

A test's attempts are launched one by one as parallel slots free up, never beyond its
``repeat`` maximum; finished attempts are fed to the test's rule in attempt order (a failing
attempt that times out would otherwise arrive last and bias a sequential verdict towards
PASS). Once the rule stops, the test's attempts still in flight are cancelled (their
conversations deleted) and count for nothing.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from assistctl import live
from assistctl.backends.base import Backend, Conversation
from assistctl.conversation import CannedOutput, Citation, Interrupted, StepRequest
from assistctl.errors import AssistctlError, SmokeTestError
from assistctl.kinds import KINDS, Registry
from assistctl.kinds.file import LiveUpload
from assistctl.model import STACK_KEY, Desired, DesiredSmokeTest, Live
from assistctl.smoketest import expectations
from assistctl.smoketest.expectations import NO_JUDGES, Judges
from assistctl.smoketest.repeats import Repeat
from assistctl.smoketest.results import (
    AttemptResult,
    StepResult,
    SuiteResult,
    TestResult,
    counted_prefix,
)
from assistctl.smoketest.verdicts import DEFAULT_CONFIDENCE, Rule

DEFAULT_PARALLEL = 4
DEFAULT_TIMEOUT_S = 60.0
TEST_KEY = "assistctl_smoke_test"
TARGET_KIND = "assistant"


# --- what the stack has deployed ------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """The deployed side of the stack, as far as smoke tests need it: assistant ids by logical
    name, and every owned file id with its manifest path and upload name (for ``cites``)."""

    owner: str
    assistants: Mapping[str, str]
    files: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @classmethod
    def from_live(cls, deployed: Live, desired: Desired, kinds: Registry = KINDS) -> Deployment:
        paths_by_sha = {f.sha256: f.path for f in desired.files}
        recorded: dict[str, str] = {}
        for kind in kinds:
            for resource in deployed.of_kind(kind.name):
                for file_id, path in kind.file_paths(resource).items():
                    recorded.setdefault(file_id, path)
        files: dict[str, tuple[str | None, str | None]] = {
            file_id: (path, path.rsplit("/", 1)[-1]) for file_id, path in recorded.items()
        }
        for resource in deployed.of_kind("file"):
            upload = LiveUpload.of(resource)
            found = recorded.get(upload.id) or paths_by_sha.get(upload.sha256)
            files[upload.id] = (found, upload.basename)
        return cls(
            owner=deployed.owner,
            assistants={r.name: r.id for r in deployed.of_kind(TARGET_KIND)},
            files=files,
        )

    def assistant_id(self, test: DesiredSmokeTest, apply_hint: str) -> str:
        found = self.assistants.get(test.assistant)
        if found is None:
            raise SmokeTestError(
                f"{test.location}: smoke test {test.name!r} uses assistant {test.assistant!r}, "
                f"which is not deployed for stack {self.owner!r} on this account",
                hint=f"deploy it first: {apply_hint}",
            )
        return found

    def citation(self, file_id: str, quote: str) -> Citation:
        path, filename = self.files.get(file_id, (None, None))
        return Citation(file_id=file_id, path=path, filename=filename, quote=quote)


# --- selection and checks -------------------------------------------------------------------


def select(
    tests: Sequence[DesiredSmokeTest], pattern: str | None
) -> tuple[tuple[DesiredSmokeTest, ...], tuple[str, ...]]:
    """``-k``: the exact name of a test (a matrix case such as ``order[id=1]`` included), a
    glob (``*``, ``?``, ``[``) matched against the whole test name, otherwise a substring.
    Returns (selected, names of the deselected)."""
    if not pattern:
        return tuple(tests), ()
    is_glob = any(ch in pattern for ch in "*?[")

    def chosen(name: str) -> bool:
        if name == pattern:
            return True
        return fnmatch.fnmatchcase(name, pattern) if is_glob else pattern in name

    selected = tuple(t for t in tests if chosen(t.name))
    return selected, tuple(t.name for t in tests if not chosen(t.name))


def check_test(
    test: DesiredSmokeTest,
    confidence: float = DEFAULT_CONFIDENCE,
    judges: Judges | None = None,
) -> None:
    """Refuse what can never be evaluated before any conversation starts: no steps, a
    threshold outside [0, 1], a sequential ``repeat`` whose ``max`` cannot reach PASS at this
    confidence, an invalid expectation, or (with ``judges``) a graded one nothing can grade."""
    spec = test.spec
    steps = spec.get("steps") or ()
    if not steps:
        raise SmokeTestError(f"{test.location}: spec.steps: a smoke test needs at least one step")
    if not _valid_repeat(spec.get("repeat", 1)):
        raise SmokeTestError(
            f"{test.location}: spec.repeat: takes a whole number ≥ 1 or {{min, max}}"
        )
    threshold = spec.get("pass_threshold", 1.0)
    number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
    if not number or not 0 <= threshold <= 1:
        raise SmokeTestError(f"{test.location}: spec.pass_threshold: takes a number in [0, 1]")
    found = Repeat.of(spec).problem(confidence)
    if found is not None:
        path, phrase = found
        raise SmokeTestError(
            f"{test.location}: spec.{expectations.dotted(path)}: {phrase}",
            hint="raise repeat.max or lower pass_threshold (or --confidence)"
            if path[-1] == "max"
            else None,
        )
    for step_index, step in enumerate(steps):
        for index, expectation in enumerate(step.get("expect") or ()):
            where = f"{test.location}: spec.steps[{step_index}].expect[{index}]"
            expectations.check(expectation, where, judges)


def _valid_repeat(repeat: Any) -> bool:
    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    if isinstance(repeat, Mapping):
        return set(repeat) == {"min", "max"} and whole(repeat["min"]) and whole(repeat["max"])
    return whole(repeat)


# --- function calls -------------------------------------------------------------------------


def canned_output(functions: Mapping[str, Any], name: str, arguments: Any) -> str | None:
    """The canned output for a function call: the first entry for ``name`` whose ``when`` is a
    subset of the arguments (an entry without ``when`` matches any call). Strings are sent as
    they are, anything else JSON-encoded. None when nothing matches."""
    for entry in functions.get(name) or ():
        when = entry.get("when")
        if when is None or expectations.is_subset(when, arguments):
            output = entry.get("output", "")
            return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    return None


def _answerer(functions: Mapping[str, Any]) -> Callable[[str, Any], CannedOutput]:
    def answer(name: str, arguments: Any) -> CannedOutput:
        output = canned_output(functions, name, arguments)
        if output is not None:
            return CannedOutput(output)
        if name not in functions:
            known = ", ".join(sorted(functions)) or "none"
            return CannedOutput(None, f"spec.functions has no entry for {name} (canned: {known})")
        return CannedOutput(None, f"no canned output of {name} matches these arguments")

    return answer


# --- one conversation -----------------------------------------------------------------------


class Attempt:
    """One attempt of one test: open a conversation, run its steps, close it.

    ``stop`` is the test's: set when its verdict is reached (the attempt is then cancelled)
    or when the suite is ``interrupted`` (then the interruption propagates).
    """

    def __init__(
        self,
        backend: Backend,
        test: DesiredSmokeTest,
        index: int,
        *,
        target_id: str,
        deployment: Deployment,
        stop: threading.Event,
        interrupted: threading.Event | None = None,
        judges: Judges = NO_JUDGES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.test = test
        self.index = index
        self.target_id = target_id
        self.deployment = deployment
        self.stop = stop
        self.interrupted = interrupted if interrupted is not None else stop
        self.judges = judges
        self.clock = clock

    @property
    def label(self) -> str:
        return f"{self.test.name} attempt {self.index}"

    def run(self) -> AttemptResult:
        started = self.clock()
        spec = self.test.spec
        steps_spec = list(spec.get("steps") or ())
        labels = {
            STACK_KEY: self.deployment.owner,
            TEST_KEY: f"{self.test.name}#{self.index}"[:512],
        }
        conversation = self.backend.conversation(self.target_id, labels, self.label, self.stop)
        answer = _answerer(spec.get("functions") or {})
        timeout = float(spec.get("timeout_s", DEFAULT_TIMEOUT_S))
        steps: list[StepResult] = []
        error: str | None = None
        cleanup_error: str | None = None
        cancelled = False
        try:
            conversation.open()
            for number, step in enumerate(steps_spec, start=1):
                result = self._step(conversation, number, step, answer, timeout)
                steps.append(result)
                if result.failure is not None:
                    break
        except Interrupted:
            if self.interrupted.is_set():
                raise
            cancelled = True
        except AssistctlError as exc:
            error = exc.message
        finally:
            cleanup_error = conversation.close()
        return AttemptResult(
            test=self.test.name,
            index=self.index,
            steps=tuple(steps),
            total_steps=len(steps_spec),
            duration_s=self.clock() - started,
            thread_id=conversation.handle,
            error=error,
            cleanup_error=cleanup_error,
            cancelled=cancelled,
        )

    def _step(
        self,
        conversation: Conversation,
        number: int,
        step: Mapping[str, Any],
        answer: Callable[[str, Any], CannedOutput],
        timeout: float,
    ) -> StepResult:
        expect = list(step.get("expect") or ())
        stop_at_action = any(expectations.split(e) == ("status", "requires_action") for e in expect)
        request = StepRequest(
            number=number,
            user=str(step["user"]),
            answer=answer,
            timeout_s=timeout,
            additional_instructions=str(step["additional_instructions"])
            if step.get("additional_instructions")
            else None,
            stop_at_action=stop_at_action,
        )
        outcome = conversation.step(request)
        reply = outcome.reply
        if reply is not None:
            cited = tuple(self.deployment.citation(c.file_id, c.quote) for c in reply.citations)
            reply = dataclasses.replace(reply, citations=cited)
        if outcome.failure is not None or reply is None:
            return StepResult(number, request.user, reply, (), outcome.failure, outcome.run_id)
        checks = expectations.evaluate_step(expect, reply, user=request.user, judges=self.judges)
        return StepResult(number, request.user, reply, checks, None, outcome.run_id)


# --- the suite ------------------------------------------------------------------------------


class _TestRun:
    """The scheduler's view of one test while the suite runs: what was launched, what came
    back, and whether its rule has stopped (then ``stop`` cancels what is still in flight)."""

    def __init__(self, test: DesiredSmokeTest, rule: Rule, target_id: str) -> None:
        self.test = test
        self.rule = rule
        self.target_id = target_id
        self.stop = threading.Event()
        self.launched = 0
        self.in_flight = 0
        self.results: dict[int, AttemptResult] = {}
        self.reported = 0

    @property
    def launchable(self) -> bool:
        """Whether another attempt may start: not decided, not at the rule's maximum."""
        return not self.stop.is_set() and self.launched < self.rule.max_attempts

    @property
    def finished(self) -> bool:
        return not self.launchable and self.in_flight == 0

    def reportable(self) -> tuple[AttemptResult, ...]:
        """The attempts a report shows, so far: those the rule counts, then the error that
        ended the test, if one did."""
        counted = counted_prefix(tuple(self.results.values()), self.rule)
        after = self.results.get(len(counted) + 1)
        if after is not None and after.outcome == "error":
            return (*counted, after)
        return counted

    def launch(self) -> int:
        self.launched += 1
        self.in_flight += 1
        return self.launched

    def record(self, result: AttemptResult) -> None:
        """Take one finished attempt and stop the test once the rule, fed the attempts in
        order (``counted_prefix``, as the report will), has stopped, or an attempt hit an
        error, which decides the test as an error."""
        self.in_flight -= 1
        self.results[result.index] = result
        counted = counted_prefix(tuple(self.results.values()), self.rule)
        passes = sum(1 for a in counted if a.outcome == "passed")
        if result.outcome == "error" or (counted and self.rule.stops(passes, len(counted))):
            self.stop.set()


def run_suite(
    backend: Backend,
    desired: Desired,
    tests: Sequence[DesiredSmokeTest],
    *,
    parallel: int = DEFAULT_PARALLEL,
    deselected: Sequence[str] = (),
    on_attempt: Callable[[DesiredSmokeTest, AttemptResult], None] | None = None,
    on_result: Callable[[DesiredSmokeTest, AttemptResult], None] | None = None,
    apply_hint: str = "assistctl apply",
    confidence: float = DEFAULT_CONFIDENCE,
    judges: Judges = NO_JUDGES,
    allow_inconclusive: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> SuiteResult:
    """Run every test's attempts, ``parallel`` conversations at once, until each test's rule
    stops.

    Results keep the tests' order and each test's attempts in order, whatever order they
    finished in, so a parallel run reports exactly what a serial one does. ``on_attempt`` hears
    of every conversation as it finishes (a progress bar); ``on_result`` of the attempts the
    report shows, in the report's order (progress lines that do not depend on ``parallel``).
    Ctrl-C stops new conversations, lets the running ones delete their threads, then re-raises.
    """
    if parallel < 1:
        raise SmokeTestError("--parallel takes a whole number ≥ 1")
    for test in tests:
        check_test(test, confidence, judges)
    started = clock()
    deployment = Deployment.from_live(live.snapshot(backend, desired.owner), desired)
    runs = [
        _TestRun(
            test, Repeat.of(test.spec).rule(confidence), deployment.assistant_id(test, apply_hint)
        )
        for test in tests
    ]
    interrupted = threading.Event()

    def attempt(run: _TestRun, index: int) -> Attempt:
        return Attempt(
            backend,
            run.test,
            index,
            target_id=run.target_id,
            deployment=deployment,
            stop=run.stop,
            interrupted=interrupted,
            judges=judges,
            clock=clock,
        )

    _schedule(runs, attempt, parallel, interrupted, on_attempt, _InOrder(runs, on_result))
    return SuiteResult(
        owner=desired.owner,
        tests=tuple(
            TestResult(
                run.test,
                tuple(run.results[index] for index in sorted(run.results)),
                confidence,
            )
            for run in runs
        ),
        duration_s=clock() - started,
        deselected=tuple(deselected),
        allow_inconclusive=allow_inconclusive,
    )


class _InOrder:
    """Hands on the attempts a report shows as soon as everything before them is known: the
    tests in the suite's order, each test's attempts in attempt order."""

    def __init__(
        self,
        runs: Sequence[_TestRun],
        on_result: Callable[[DesiredSmokeTest, AttemptResult], None] | None,
    ) -> None:
        self.runs = runs
        self.on_result = on_result
        self.current = 0

    def flush(self) -> None:
        while self.current < len(self.runs):
            run = self.runs[self.current]
            for result in run.reportable()[run.reported :]:
                if self.on_result is not None:
                    self.on_result(run.test, result)
                run.reported += 1
            if not run.finished:
                return
            self.current += 1


def _next_run(runs: list[_TestRun]) -> _TestRun | None:
    """The test to give a free slot to: among those with attempts left to launch, the one
    with the fewest in flight (then the earliest), so slots spread over the tests instead of
    running far ahead of one sequential test's verdict. Tests that can launch no more are
    dropped from ``runs`` for good."""
    best: _TestRun | None = None
    index = 0
    while index < len(runs):
        run = runs[index]
        if not run.launchable:
            del runs[index]
            continue
        if run.in_flight == 0:
            return run
        if best is None or run.in_flight < best.in_flight:
            best = run
        index += 1
    return best


def _schedule(
    runs: Sequence[_TestRun],
    attempt: Callable[[_TestRun, int], Attempt],
    parallel: int,
    interrupted: threading.Event,
    on_attempt: Callable[[DesiredSmokeTest, AttemptResult], None] | None,
    in_order: _InOrder,
) -> None:
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="smoketest")
    in_flight: dict[Future[AttemptResult], _TestRun] = {}
    launchable = list(runs)
    try:
        while True:
            while len(in_flight) < parallel:
                run = _next_run(launchable)
                if run is None:
                    break
                in_flight[pool.submit(attempt(run, run.launch()).run)] = run
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                run = in_flight.pop(future)
                result = future.result()
                run.record(result)
                if on_attempt is not None:
                    on_attempt(run.test, result)
            in_order.flush()
    except BaseException:
        interrupted.set()
        for run in runs:
            run.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
