"""Smoke tests: run scripted conversations against the deployed assistants and judge them.

Data flows one way: the SmokeTest documents (``manifest.load_smoke_tests``) and a snapshot of
what the stack has deployed (``live.snapshot``) go in; a ``SuiteResult`` comes out, which
``reports.py`` renders. Each attempt of a test is one conversation on its own thread, so
attempts run in parallel (bounded) and never see each other's messages. The thread is deleted
when the conversation ends, however it ends.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from assistctl import expectations, live, retry
from assistctl.errors import AssistctlError, SmokeTestError
from assistctl.expectations import Citation, Reply, ToolCall, Verdict
from assistctl.model import STACK_KEY, Desired, DesiredSmokeTest, Live, recorded_paths

DEFAULT_PARALLEL = 4
DEFAULT_TIMEOUT_S = 60.0
FIRST_POLL_S = 0.05
MAX_POLL_S = 1.0
POLL_GROWTH = 1.5
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
TEST_KEY = "assistctl_smoke_test"


class Interrupted(KeyboardInterrupt):
    """Raised inside a conversation when the suite is stopped (Ctrl-C): cleanup still runs."""


# --- results ------------------------------------------------------------------------------


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


# --- what the stack has deployed ------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """The deployed side of the stack, as far as smoke tests need it: assistant ids by logical
    name, and every owned file id with its manifest path and upload name (for ``cites``)."""

    owner: str
    assistants: Mapping[str, str]
    files: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @classmethod
    def from_live(cls, deployed: Live, desired: Desired) -> Deployment:
        paths_by_sha = {f.sha256: f.path for f in desired.files}
        recorded = recorded_paths(f for store in deployed.vector_stores for f in store.files)
        files: dict[str, tuple[str | None, str | None]] = {
            file_id: (path, path.rsplit("/", 1)[-1]) for file_id, path in recorded.items()
        }
        for upload in deployed.uploads:
            path = recorded.get(upload.id) or paths_by_sha.get(upload.sha256)
            files[upload.id] = (path, upload.basename)
        return cls(
            owner=deployed.owner,
            assistants={a.name: a.id for a in deployed.assistants},
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


def _parse_arguments(raw: str | None) -> Any:
    try:
        return json.loads(raw or "{}")
    except ValueError:
        return {"_raw": raw}


# --- one conversation -----------------------------------------------------------------------


class Conversation:
    """One attempt of one test: a thread, its steps, then the thread's deletion."""

    def __init__(
        self,
        client: Any,
        test: DesiredSmokeTest,
        index: int,
        *,
        assistant_id: str,
        deployment: Deployment,
        stop: threading.Event,
        policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.test = test
        self.index = index
        self.assistant_id = assistant_id
        self.deployment = deployment
        self.stop = stop
        self.policy = policy
        self.clock = clock
        self.thread_id: str | None = None
        self.last_message_id: str | None = None
        self.last_run_id: str | None = None

    @property
    def label(self) -> str:
        return f"{self.test.name} attempt {self.index}"

    def run(self) -> AttemptResult:
        started = self.clock()
        steps_spec = list(self.test.spec.get("steps") or ())
        steps: list[StepResult] = []
        error: str | None = None
        cleanup_error: str | None = None
        try:
            # Threads cannot be listed, so a create whose outcome is unknown cannot be looked
            # up; repeating it risks one stray empty thread (tagged with TEST_KEY), which beats
            # failing the attempt and leaving that same thread behind anyway.
            thread = self._call(
                lambda: self.client.beta.threads.create(
                    metadata={
                        STACK_KEY: self.deployment.owner,
                        TEST_KEY: f"{self.test.name}#{self.index}"[:512],
                    }
                ),
                "create a thread",
            )
            self.thread_id = thread.id
            for number, step in enumerate(steps_spec, start=1):
                result = self._step(number, step)
                steps.append(result)
                if result.failure is not None:
                    break
        except AssistctlError as exc:
            error = exc.message
        finally:
            if self.thread_id is not None:
                cleanup_error = self._delete_thread()
        return AttemptResult(
            test=self.test.name,
            index=self.index,
            steps=tuple(steps),
            total_steps=len(steps_spec),
            duration_s=self.clock() - started,
            thread_id=self.thread_id,
            error=error,
            cleanup_error=cleanup_error,
        )

    def _call(self, operation, what: str, *, idempotent: bool = True, recover=None):
        if self.stop.is_set():
            raise Interrupted()
        return retry.call(
            operation,
            what=f"{self.label}: {what}",
            idempotent=idempotent,
            recover=recover,
            policy=self.policy,
        )

    def _delete_thread(self) -> str | None:
        import openai

        thread_id = self.thread_id

        def delete() -> None:
            try:
                self.client.beta.threads.delete(thread_id)
            except openai.NotFoundError:
                return

        try:
            retry.call(delete, what=f"{self.label}: delete thread {thread_id}", policy=self.policy)
        except AssistctlError as exc:
            return exc.message
        return None

    def _step(self, number: int, step: Mapping[str, Any]) -> StepResult:
        user = str(step["user"])
        message = self._call(
            lambda: self.client.beta.threads.messages.create(
                self.thread_id, role="user", content=user
            ),
            f"step {number}: add the user message",
            idempotent=False,
            recover=lambda: self._newest("messages", self.last_message_id, role="user"),
        )
        self.last_message_id = message.id
        options: dict[str, Any] = {"assistant_id": self.assistant_id}
        if step.get("additional_instructions"):
            options["additional_instructions"] = str(step["additional_instructions"])
        started = self.clock()
        run = self._call(
            lambda: self.client.beta.threads.runs.create(self.thread_id, **options),
            f"step {number}: create a run",
            idempotent=False,
            recover=lambda: self._newest("runs", self.last_run_id),
        )
        self.last_run_id = run.id
        expect = list(step.get("expect") or ())
        stop_at_action = any(expectations.split(e) == ("status", "requires_action") for e in expect)
        run, failure = self._drive(number, run, started + self.timeout, stop_at_action)
        latency = self.clock() - started
        reply = self._reply(number, run, latency)
        if failure is None and run.status == "requires_action":
            failure = self._release(number, run)
        if failure is not None:
            return StepResult(number, user, reply, (), failure, run.id)
        return StepResult(
            number, user, reply, expectations.evaluate_step(expect, reply), None, run.id
        )

    @property
    def timeout(self) -> float:
        return float(self.test.spec.get("timeout_s", DEFAULT_TIMEOUT_S))

    def _newest(self, collection: str, known_id: str | None, role: str | None = None):
        """After a create whose outcome is unknown: the thread is ours alone, so a newer item
        than the last one we made is the one that committed."""
        listing = getattr(self.client.beta.threads, collection).list(
            self.thread_id, limit=1, order="desc"
        )
        newest = listing.data[0] if listing.data else None
        if newest is None or newest.id == known_id:
            return None
        if role is not None and getattr(newest, "role", role) != role:
            return None
        return newest

    def _drive(
        self, number: int, run: Any, deadline: float, stop_at_action: bool
    ) -> tuple[Any, str | None]:
        """Poll the run to a terminal status, answering function calls on the way (or, when
        the step expects ``status: requires_action``, stopping there)."""
        functions = self.test.spec.get("functions") or {}
        interval = FIRST_POLL_S
        while run.status not in TERMINAL:
            if run.status == "requires_action":
                if stop_at_action:
                    return run, None
                outputs, failure = self._answers(run, functions)
                if failure is not None:
                    return self._cancel(number, run), failure
                run = self._submit(number, run, outputs)
                interval = FIRST_POLL_S
                continue
            polled = self._poll(number, run, deadline, interval)
            if polled is None:
                return self._cancel(number, run), (
                    f"the run did not finish within timeout_s={self.timeout:g} "
                    f"(still {run.status}); cancelled it"
                )
            run = polled
            interval = min(MAX_POLL_S, interval * POLL_GROWTH)
        return run, None

    def _poll(self, number: int, run: Any, deadline: float, interval: float) -> Any | None:
        """Wait one interval, then retrieve the run; None once the deadline has passed."""
        remaining = deadline - self.clock()
        if remaining <= 0:
            return None
        if self.stop.wait(min(interval, remaining)):
            raise Interrupted()
        return self._call(
            lambda: self.client.beta.threads.runs.retrieve(run.id, thread_id=self.thread_id),
            f"step {number}: poll run {run.id}",
        )

    def _release(self, number: int, run: Any) -> str | None:
        """Cancel a run left waiting for tool outputs on purpose and wait for it to end, so
        the next step can use the thread."""
        current = self._cancel(number, run)
        deadline = self.clock() + self.timeout
        interval = FIRST_POLL_S
        while current.status not in TERMINAL:
            polled = self._poll(number, current, deadline, interval)
            if polled is None:
                return f"the run did not end after it was cancelled (still {current.status})"
            current = polled
            interval = min(MAX_POLL_S, interval * POLL_GROWTH)
        return None

    def _answers(
        self, run: Any, functions: Mapping[str, Any]
    ) -> tuple[list[dict[str, str]], str | None]:
        outputs: list[dict[str, str]] = []
        for call in run.required_action.submit_tool_outputs.tool_calls:
            name = call.function.name
            arguments = _parse_arguments(call.function.arguments)
            shown = str(_function_call(call.id, name, call.function.arguments))
            output = canned_output(functions, name, arguments)
            if output is None:
                if name not in functions:
                    known = ", ".join(sorted(functions)) or "none"
                    reason = f"spec.functions has no entry for {name} (canned: {known})"
                else:
                    reason = f"no canned output of {name} matches these arguments"
                return [], f"the run called {shown}: {reason}; cancelled the run"
            outputs.append({"tool_call_id": call.id, "output": output})
        return outputs, None

    def _submit(self, number: int, run: Any, outputs: list[dict[str, str]]) -> Any:
        pending = {o["tool_call_id"] for o in outputs}

        def recover():
            current = self.client.beta.threads.runs.retrieve(run.id, thread_id=self.thread_id)
            if current.status != "requires_action":
                return current
            waiting = {c.id for c in current.required_action.submit_tool_outputs.tool_calls}
            return current if waiting != pending else None

        return self._call(
            lambda: self.client.beta.threads.runs.submit_tool_outputs(
                run.id, thread_id=self.thread_id, tool_outputs=outputs
            ),
            f"step {number}: submit tool outputs",
            idempotent=False,
            recover=recover,
        )

    def _cancel(self, number: int, run: Any) -> Any:
        """Cancel a run we give up on; the thread is deleted anyway, so a refusal (the run
        ended meanwhile) is fine and the run as last seen is kept."""
        try:
            return self._call(
                lambda: self.client.beta.threads.runs.cancel(run.id, thread_id=self.thread_id),
                f"step {number}: cancel run {run.id}",
            )
        except AssistctlError:
            return run

    def _reply(self, number: int, run: Any, latency: float) -> Reply:
        messages = live.items(
            lambda: self.client.beta.threads.messages.list(
                self.thread_id, run_id=run.id, order="asc", limit=live.PAGE_SIZE
            ),
            what=f"step {number}: read the reply",
            call=self._call,
        )
        texts: list[str] = []
        citations: list[Citation] = []
        for message in messages:
            if message.role != "assistant":
                continue
            for block in message.content:
                if block.type != "text":
                    continue
                texts.append(block.text.value)
                for annotation in block.text.annotations:
                    if annotation.type == "file_citation":
                        citations.append(
                            self.deployment.citation(
                                annotation.file_citation.file_id, annotation.text
                            )
                        )
        steps = live.items(
            lambda: self.client.beta.threads.runs.steps.list(
                run.id, thread_id=self.thread_id, order="asc", limit=live.PAGE_SIZE
            ),
            what=f"step {number}: read the run steps",
            call=self._call,
        )
        calls = [call for step in steps for call in _tool_calls(step)]
        if run.status == "requires_action":
            seen = {call.id for call in calls}
            calls.extend(c for c in _pending_calls(run) if c.id not in seen)
        usage = run.usage.model_dump() if getattr(run, "usage", None) else None
        return Reply(
            status=run.status,
            text="\n\n".join(texts),
            tool_calls=tuple(calls),
            citations=tuple(citations),
            latency_s=latency,
            usage=usage,
            last_error=_last_error(run),
        )


def _function_call(call_id: str, name: str, raw_arguments: str | None, output=None) -> ToolCall:
    arguments = _parse_arguments(raw_arguments)
    if not isinstance(arguments, dict):
        arguments = {"_value": arguments}
    return ToolCall("function", name, arguments, output, call_id)


def _tool_calls(step: Any) -> Iterable[ToolCall]:
    details = step.step_details
    if details.type != "tool_calls":
        return
    for call in details.tool_calls:
        if call.type == "function":
            function = call.function
            yield _function_call(call.id, function.name, function.arguments, function.output)
        else:
            yield ToolCall(call.type, call.type, id=call.id)


def _pending_calls(run: Any) -> Iterable[ToolCall]:
    for call in run.required_action.submit_tool_outputs.tool_calls:
        yield _function_call(call.id, call.function.name, call.function.arguments)


def _last_error(run: Any) -> str | None:
    if getattr(run, "last_error", None):
        return f"{run.last_error.code}: {run.last_error.message}"
    if getattr(run, "incomplete_details", None):
        return f"incomplete: {run.incomplete_details.reason}"
    return None


# --- the suite ------------------------------------------------------------------------------


def run_suite(
    client: Any,
    desired: Desired,
    tests: Sequence[DesiredSmokeTest],
    *,
    parallel: int = DEFAULT_PARALLEL,
    deselected: Sequence[str] = (),
    on_attempt: Callable[[DesiredSmokeTest, AttemptResult], None] | None = None,
    apply_hint: str = "assistctl apply",
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
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
    deployment = Deployment.from_live(live.snapshot(client, desired.owner), desired)
    assistant_ids = {t.name: deployment.assistant_id(t, apply_hint) for t in tests}
    stop = threading.Event()
    conversations = [
        Conversation(
            client,
            test,
            index,
            assistant_id=assistant_ids[test.name],
            deployment=deployment,
            stop=stop,
            policy=policy,
            clock=clock,
        )
        for test in tests
        for index in range(1, int(test.spec.get("repeat", 1)) + 1)
    ]
    results = _run_all(conversations, parallel, stop, on_attempt)
    return SuiteResult(
        owner=desired.owner,
        tests=tuple(
            TestResult(
                test,
                tuple(r for c, r in zip(conversations, results, strict=True) if c.test is test),
            )
            for test in tests
        ),
        duration_s=clock() - started,
        deselected=tuple(deselected),
    )


def _run_all(
    conversations: Sequence[Conversation],
    parallel: int,
    stop: threading.Event,
    on_attempt: Callable[[DesiredSmokeTest, AttemptResult], None] | None,
) -> list[AttemptResult]:
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="smoketest")
    futures: dict[Future, int] = {}
    try:
        futures = {pool.submit(c.run): i for i, c in enumerate(conversations)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                if on_attempt is not None:
                    on_attempt(conversations[futures[future]].test, result)
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [future.result() for future in futures]
