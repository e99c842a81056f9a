"""A smoke-test conversation over the Assistants API: a thread, one run per step, then deletion.

Runs are polled (0.05 s growing to 1 s) to a terminal status; a run that asks for tool outputs
is answered from the test's canned function outputs. Creating messages or runs and submitting
tool outputs are never blindly repeated after an unknown outcome: the thread is ours alone, so
the newest item tells whether the first try committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import openai

from assistctl.backends.attempts import AttemptRequests
from assistctl.backends.base import FIRST_POLL_S, MAX_POLL_S, POLL_GROWTH, Caller
from assistctl.conversation import (
    Citation,
    Interrupted,
    Reply,
    StepOutcome,
    StepRequest,
    ToolCall,
    function_call,
    parse_arguments,
)
from assistctl.errors import AccountError

PAGE_SIZE = 100
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})


_Items = Callable[[Callable[[], Any], str], Iterator[dict[str, Any]]]


class ThreadConversation(AttemptRequests):
    """One attempt: ``open`` makes the thread, ``step`` runs one user turn, ``close`` deletes."""

    def __init__(
        self,
        client: openai.OpenAI,
        assistant_id: str,
        labels: Mapping[str, str],
        *,
        what: str,
        stop: threading.Event,
        call: Caller,
        items: _Items,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(client, labels, what=what, stop=stop, call=call, clock=clock)
        self.assistant_id = assistant_id
        self.items = items
        self.thread_id: str | None = None
        self.last_message_id: str | None = None
        self.last_run_id: str | None = None

    @property
    def handle(self) -> str | None:
        return self.thread_id

    def open(self) -> None:
        # Threads cannot be listed, so a create whose outcome is unknown cannot be looked up;
        # repeating it risks one stray empty thread (tagged with the test's labels), which
        # beats failing the attempt and leaving that same thread behind anyway.
        thread = self._request(
            lambda: self.client.beta.threads.create(metadata=self.labels), "create a thread"
        )
        self.thread_id = thread.id

    def close(self) -> str | None:
        thread_id = self.thread_id
        if thread_id is None:
            return None
        threads = self.client.beta.threads
        return self._delete(lambda: threads.delete(thread_id), f"delete thread {thread_id}")

    # --- one step -------------------------------------------------------------------------

    def step(self, request: StepRequest) -> StepOutcome:
        thread_id = self._thread()
        number = request.number
        messages = self.client.beta.threads.messages
        message = self._request(
            lambda: messages.create(thread_id, role="user", content=request.user),
            f"step {number}: add the user message",
            idempotent=False,
            recover=lambda: self._newest("messages", self.last_message_id, role="user"),
        )
        self.last_message_id = message.id
        options: dict[str, Any] = {"assistant_id": self.assistant_id}
        if request.additional_instructions:
            options["additional_instructions"] = request.additional_instructions
        started = self.clock()
        runs = self.client.beta.threads.runs
        run = self._request(
            lambda: runs.create(thread_id, **options),
            f"step {number}: create a run",
            idempotent=False,
            recover=lambda: self._newest("runs", self.last_run_id),
        )
        self.last_run_id = run.id
        run, failure = self._drive(request, run, started + request.timeout_s)
        latency = self.clock() - started
        reply = self._reply(number, run, latency)
        if failure is None and run.status == "requires_action":
            failure = self._release(request, run)
        return StepOutcome(reply, failure, run.id)

    def _thread(self) -> str:
        if self.thread_id is None:
            raise AccountError(f"{self.label}: the conversation was not opened")
        return self.thread_id

    def _newest(self, collection: str, known_id: str | None, role: str | None = None) -> Any:
        """After a create whose outcome is unknown: the thread is ours alone, so a newer item
        than the last one we made is the one that committed."""
        listing = getattr(self.client.beta.threads, collection).list(
            self._thread(), limit=1, order="desc"
        )
        newest = listing.data[0] if listing.data else None
        if newest is None or newest.id == known_id:
            return None
        if role is not None and getattr(newest, "role", role) != role:
            return None
        return newest

    def _drive(self, request: StepRequest, run: Any, deadline: float) -> tuple[Any, str | None]:
        """Poll the run to a terminal status, answering function calls on the way (or, when
        the step expects ``status: requires_action``, stopping there)."""
        interval = FIRST_POLL_S
        while run.status not in TERMINAL:
            if run.status == "requires_action":
                if request.stop_at_action:
                    return run, None
                outputs, failure = self._answers(run, request)
                if failure is not None:
                    return self._cancel(request.number, run), failure
                run = self._submit(request.number, run, outputs)
                interval = FIRST_POLL_S
                continue
            polled = self._poll(request, run, deadline, interval)
            if polled is None:
                return self._cancel(request.number, run), (
                    f"the run did not finish within timeout_s={request.timeout_s:g} "
                    f"(still {run.status}); cancelled it"
                )
            run = polled
            interval = min(MAX_POLL_S, interval * POLL_GROWTH)
        return run, None

    def _poll(self, request: StepRequest, run: Any, deadline: float, interval: float) -> Any | None:
        """Wait one interval, then retrieve the run; None once the deadline has passed."""
        remaining = deadline - self.clock()
        if remaining <= 0:
            return None
        if self.stop.wait(min(interval, remaining)):
            raise Interrupted()
        thread_id = self._thread()
        runs = self.client.beta.threads.runs
        return self._request(
            lambda: runs.retrieve(run.id, thread_id=thread_id),
            f"step {request.number}: poll run {run.id}",
        )

    def _release(self, request: StepRequest, run: Any) -> str | None:
        """Cancel a run left waiting for tool outputs on purpose and wait for it to end, so
        the next step can use the thread."""
        current = self._cancel(request.number, run)
        deadline = self.clock() + request.timeout_s
        interval = FIRST_POLL_S
        while current.status not in TERMINAL:
            polled = self._poll(request, current, deadline, interval)
            if polled is None:
                return f"the run did not end after it was cancelled (still {current.status})"
            current = polled
            interval = min(MAX_POLL_S, interval * POLL_GROWTH)
        return None

    def _answers(self, run: Any, request: StepRequest) -> tuple[list[dict[str, str]], str | None]:
        assert run.required_action is not None, "requires_action comes with its action"
        outputs: list[dict[str, str]] = []
        for call in run.required_action.submit_tool_outputs.tool_calls:
            name = call.function.name
            canned = request.answer(name, parse_arguments(call.function.arguments))
            if canned.output is None:
                shown = function_call(call.id, name, call.function.arguments)
                return [], f"the run called {shown}: {canned.reason}; cancelled the run"
            outputs.append({"tool_call_id": call.id, "output": canned.output})
        return outputs, None

    def _submit(self, number: int, run: Any, outputs: list[dict[str, str]]) -> Any:
        pending = {o["tool_call_id"] for o in outputs}
        thread_id = self._thread()
        runs = self.client.beta.threads.runs

        def recover() -> Any:
            current = runs.retrieve(run.id, thread_id=thread_id)
            if current.status != "requires_action" or current.required_action is None:
                return current
            waiting = {c.id for c in current.required_action.submit_tool_outputs.tool_calls}
            return current if waiting != pending else None

        return self._request(
            lambda: runs.submit_tool_outputs(
                run.id,
                thread_id=thread_id,
                tool_outputs=outputs,  # type: ignore[arg-type]
            ),
            f"step {number}: submit tool outputs",
            idempotent=False,
            recover=recover,
        )

    def _cancel(self, number: int, run: Any) -> Any:
        """Cancel a run we give up on; the thread is deleted anyway, so a refusal (the run
        ended meanwhile) is fine and the run as last seen is kept."""
        thread_id = self._thread()
        runs = self.client.beta.threads.runs
        try:
            return self._request(
                lambda: runs.cancel(run.id, thread_id=thread_id),
                f"step {number}: cancel run {run.id}",
            )
        except AccountError:
            return run

    def _reply(self, number: int, run: Any, latency: float) -> Reply:
        thread_id = self._thread()
        threads = self.client.beta.threads
        texts: list[str] = []
        citations: list[Citation] = []
        for message in self.items(
            lambda: threads.messages.list(thread_id, run_id=run.id, order="asc", limit=PAGE_SIZE),
            f"{self.label}: step {number}: read the reply",
        ):
            if message["role"] != "assistant":
                continue
            for block in message["content"]:
                if block["type"] != "text":
                    continue
                texts.append(block["text"]["value"])
                citations.extend(
                    Citation(
                        file_id=annotation["file_citation"]["file_id"], quote=annotation["text"]
                    )
                    for annotation in block["text"]["annotations"]
                    if annotation["type"] == "file_citation"
                )
        steps = self.items(
            lambda: threads.runs.steps.list(
                run.id, thread_id=thread_id, order="asc", limit=PAGE_SIZE
            ),
            f"{self.label}: step {number}: read the run steps",
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


def _tool_calls(step: Mapping[str, Any]) -> Iterator[ToolCall]:
    details = step["step_details"]
    if details["type"] != "tool_calls":
        return
    for call in details["tool_calls"]:
        if call["type"] == "function":
            function = call["function"]
            yield function_call(
                call["id"], function["name"], function.get("arguments"), function.get("output")
            )
        else:
            yield ToolCall(call["type"], call["type"], id=call["id"])


def _pending_calls(run: Any) -> Iterator[ToolCall]:
    for call in run.required_action.submit_tool_outputs.tool_calls:
        yield function_call(call.id, call.function.name, call.function.arguments)


def _last_error(run: Any) -> str | None:
    if getattr(run, "last_error", None):
        return f"{run.last_error.code}: {run.last_error.message}"
    if getattr(run, "incomplete_details", None):
        return f"incomplete: {run.incomplete_details.reason}"
    return None
