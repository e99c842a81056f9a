"""Smoke tests: run scripted conversations against the deployed assistants and judge them.

Data flows one way: the SmokeTest documents (``manifest.load_smoke_tests``) and a snapshot of
what the stack has deployed (``live.snapshot``) go in; a ``SuiteResult`` comes out, which
``reports`` renders. Each attempt of a test is one conversation (a backend ``Conversation``:
a thread and its runs, or a conversation and its responses), so attempts run in parallel
(bounded) and never see each other's messages. The conversation is deleted when it ends,
however it ends.
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
from assistctl.backends.base import Backend
from assistctl.conversation import CannedOutput, Citation, StepRequest
from assistctl.errors import AssistctlError, SmokeTestError
from assistctl.kinds import KINDS, Registry
from assistctl.kinds.file import LiveUpload
from assistctl.model import STACK_KEY, Desired, DesiredSmokeTest, Live
from assistctl.smoketest import expectations
from assistctl.smoketest.results import AttemptResult, StepResult, SuiteResult, TestResult

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
    """``-k``: a glob (``*``, ``?``, ``[``) matched against the whole test name, otherwise a
    substring. Returns (selected, names of the deselected)."""
    if not pattern:
        return tuple(tests), ()
    is_glob = any(ch in pattern for ch in "*?[")

    def chosen(name: str) -> bool:
        return fnmatch.fnmatchcase(name, pattern) if is_glob else pattern in name

    selected = tuple(t for t in tests if chosen(t.name))
    return selected, tuple(t.name for t in tests if not chosen(t.name))


def check_test(test: DesiredSmokeTest) -> None:
    """Refuse what can never be evaluated before any conversation starts."""
    spec = test.spec
    steps = spec.get("steps") or ()
    if not steps:
        raise SmokeTestError(f"{test.location}: spec.steps: a smoke test needs at least one step")
    repeat = spec.get("repeat", 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise SmokeTestError(f"{test.location}: spec.repeat: takes a whole number ≥ 1")
    threshold = spec.get("pass_threshold", 1.0)
    number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
    if not number or not 0 <= threshold <= 1:
        raise SmokeTestError(f"{test.location}: spec.pass_threshold: takes a number in [0, 1]")
    for step_index, step in enumerate(steps):
        for index, expectation in enumerate(step.get("expect") or ()):
            where = f"{test.location}: spec.steps[{step_index}].expect[{index}]"
            expectations.check(expectation, where)


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
    """One attempt of one test: open a conversation, run its steps, close it."""

    def __init__(
        self,
        backend: Backend,
        test: DesiredSmokeTest,
        index: int,
        *,
        target_id: str,
        deployment: Deployment,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.test = test
        self.index = index
        self.target_id = target_id
        self.deployment = deployment
        self.stop = stop
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
        try:
            conversation.open()
            for number, step in enumerate(steps_spec, start=1):
                expect = list(step.get("expect") or ())
                stop_at_action = any(
                    expectations.split(e) == ("status", "requires_action") for e in expect
                )
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
                    cited = tuple(
                        self.deployment.citation(c.file_id, c.quote) for c in reply.citations
                    )
                    reply = dataclasses.replace(reply, citations=cited)
                if outcome.failure is not None or reply is None:
                    result = StepResult(
                        number, request.user, reply, (), outcome.failure, outcome.run_id
                    )
                else:
                    verdicts = expectations.evaluate_step(expect, reply)
                    result = StepResult(number, request.user, reply, verdicts, None, outcome.run_id)
                steps.append(result)
                if result.failure is not None:
                    break
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
        )


# --- the suite ------------------------------------------------------------------------------


def run_suite(
    backend: Backend,
    desired: Desired,
    tests: Sequence[DesiredSmokeTest],
    *,
    parallel: int = DEFAULT_PARALLEL,
    deselected: Sequence[str] = (),
    on_attempt: Callable[[DesiredSmokeTest, AttemptResult], None] | None = None,
    apply_hint: str = "assistctl apply",
    clock: Callable[[], float] = time.monotonic,
) -> SuiteResult:
    """Run every attempt of every test, ``parallel`` conversations at once.

    Results keep the tests' order and each test's attempts in order, whatever order they
    finished in, so a parallel run reports exactly what a serial one does. Ctrl-C stops new
    conversations, lets the running ones delete their threads, then re-raises.
    """
    if parallel < 1:
        raise SmokeTestError("--parallel takes a whole number ≥ 1")
    for test in tests:
        check_test(test)
    started = clock()
    deployment = Deployment.from_live(live.snapshot(backend, desired.owner), desired)
    target_ids = {t.name: deployment.assistant_id(t, apply_hint) for t in tests}
    stop = threading.Event()
    attempts = [
        Attempt(
            backend,
            test,
            index,
            target_id=target_ids[test.name],
            deployment=deployment,
            stop=stop,
            clock=clock,
        )
        for test in tests
        for index in range(1, int(test.spec.get("repeat", 1)) + 1)
    ]
    results = _run_all(attempts, parallel, stop, on_attempt)
    return SuiteResult(
        owner=desired.owner,
        tests=tuple(
            TestResult(
                test,
                tuple(r for a, r in zip(attempts, results, strict=True) if a.test is test),
            )
            for test in tests
        ),
        duration_s=clock() - started,
        deselected=tuple(deselected),
    )


def _run_all(
    attempts: Sequence[Attempt],
    parallel: int,
    stop: threading.Event,
    on_attempt: Callable[[DesiredSmokeTest, AttemptResult], None] | None,
) -> list[AttemptResult]:
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="smoketest")
    futures: dict[Future[AttemptResult], int] = {}
    try:
        futures = {pool.submit(a.run): i for i, a in enumerate(attempts)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                if on_attempt is not None:
                    on_attempt(attempts[futures[future]].test, result)
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [future.result() for future in futures]
