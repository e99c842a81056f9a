"""A smoke-test conversation in the Responses era: a conversation, responses, then deletion.

An attempt opens a conversation (``conversations.create``, tagged with the test's labels); a
step is one ``responses.create`` with the release and the user's message, then one more per
round of function calls, each answered with ``function_call_output`` items from the test's
canned outputs until the model stops calling. Where the account has no Conversations API (it
answers 404), the turns are chained with ``previous_response_id`` instead, and the responses
themselves are what ``close`` deletes. The request is the one the app sends
(``Release.request``), so the test exercises exactly what ships.

What the step saw becomes the same ``Reply`` the Assistants family produces: text and
``file_citation`` annotations from message items, ``function_call`` items as function calls
(with the canned output sent back), ``file_search_call`` and other ``*_call`` items as calls of
that tool, usage summed over the step's responses (as ``prompt``/``completion``/``total``
tokens), status and latency. A step that expects ``status: requires_action`` stops at the first
function calls and reports that status; the calls are answered as cancelled at the start of
the next step, as a cancelled run leaves a thread usable.

Creating a response is not blindly repeated after an unknown outcome in a conversation (the
items would be appended twice); chained responses are, since a repeat only leaves an unused
branch.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import openai

from assistctl.backends.attempts import AttemptRequests
from assistctl.backends.base import FIRST_POLL_S, MAX_POLL_S, POLL_GROWTH, Caller
from assistctl.backends.sdk_collections import dump
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
from assistctl.release import Release

MAX_ROUNDS = 16  # function-call rounds in one step before the model is deemed to loop
UNFINISHED = frozenset({"queued", "in_progress"})
REQUIRES_ACTION = "requires_action"
CANCELLED_OUTPUT = '{"error": "cancelled: the smoke test stopped at this call"}'
NO_RESPONSES_HINT = (
    "this account does not serve the Responses API (/v1/responses): deploy the stack in "
    "assistants mode (--api assistants, or spec.api: assistants)"
)


@dataclass
class Capabilities:
    """What the account serves, learnt once: ``conversations`` None until the first attempt
    asks, then whether ``/v1/conversations`` exists."""

    conversations: bool | None = None


@dataclass
class _Round:
    """What one step has gathered so far over its responses."""

    texts: list[str]
    citations: list[Citation]
    calls: list[ToolCall]
    usage: dict[str, int] | None = None


class ResponseConversation(AttemptRequests):
    """One attempt: ``open`` makes the conversation, ``step`` runs one user turn, ``close``
    deletes what was made."""

    def __init__(
        self,
        client: openai.OpenAI,
        release: Release,
        labels: Mapping[str, str],
        *,
        what: str,
        stop: threading.Event,
        call: Caller,
        capabilities: Capabilities,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(client, labels, what=what, stop=stop, call=call, clock=clock)
        self.release = release
        self.capabilities = capabilities
        self.conversation_id: str | None = None
        self.chained = False
        self.response_ids: list[str] = []
        self.unanswered: list[str] = []  # call ids a requires_action step left open

    @property
    def handle(self) -> str | None:
        if self.conversation_id is not None:
            return self.conversation_id
        return self.response_ids[0] if self.response_ids else None

    # --- open and close ---------------------------------------------------------------------

    def open(self) -> None:
        if self.capabilities.conversations is False:
            self.chained = True
            return
        conversations = self.client.conversations
        try:
            # Conversations cannot be listed, so an unknown outcome is repeated: at worst one
            # stray empty conversation, tagged with the test's labels.
            created = self._request(
                lambda: conversations.create(metadata=self.labels), "create a conversation"
            )
        except AccountError as error:
            if not error.not_found:
                raise
            self.capabilities.conversations = False
            self.chained = True
            return
        self.capabilities.conversations = True
        self.conversation_id = created.id

    def close(self) -> str | None:
        """Delete the conversation, or (chained) every response the attempt made."""
        if self.conversation_id is not None:
            conversation_id = self.conversation_id
            conversations = self.client.conversations
            return self._delete(
                lambda: conversations.delete(conversation_id),
                f"delete conversation {conversation_id}",
            )
        responses = self.client.responses
        problems = [
            self._delete(functools.partial(responses.delete, response_id), f"delete {response_id}")
            for response_id in (self.response_ids if self.chained else ())
        ]
        return "; ".join(p for p in problems if p) or None

    # --- one step ---------------------------------------------------------------------------

    def step(self, request: StepRequest) -> StepOutcome:
        if self.conversation_id is None and not self.chained:
            raise AccountError(f"{self.label}: the conversation was not opened")
        started = self.clock()
        deadline = started + request.timeout_s
        gathered = _Round([], [], [])
        user: list[dict[str, Any]] = [{"role": "user", "content": request.user}]
        response = self._create(request, [*self._cancelled(), *user])
        failure: str | None = None
        status = response.status
        for _ in range(MAX_ROUNDS):
            response, failure = self._finish(request, response, deadline)
            status = response.status
            _gather(response, gathered)
            calls = list(_calls(response.output))
            if failure is not None or not calls or status != "completed":
                break
            if request.stop_at_action:
                self.unanswered = [c.call_id for c in calls]
                status = REQUIRES_ACTION
                break
            outputs, failure = self._answers(request, calls, gathered)
            if failure is not None:
                break
            if self.clock() > deadline:
                failure = f"the step did not finish within timeout_s={request.timeout_s:g}"
                break
            response = self._create(request, outputs)
        else:
            failure = f"the model still called functions after {MAX_ROUNDS} rounds"
        reply = Reply(
            status=status,
            text="\n\n".join(gathered.texts),
            tool_calls=tuple(gathered.calls),
            citations=tuple(gathered.citations),
            latency_s=self.clock() - started,
            usage=gathered.usage,
            last_error=_last_error(response),
        )
        return StepOutcome(reply, failure, response.id)

    def _cancelled(self) -> list[dict[str, Any]]:
        """Outputs for the calls a ``requires_action`` step left open: the platform refuses
        new input while a function call has none."""
        outputs = [
            {"type": "function_call_output", "call_id": call_id, "output": CANCELLED_OUTPUT}
            for call_id in self.unanswered
        ]
        self.unanswered = []
        return outputs

    def _create(self, request: StepRequest, items: Sequence[Mapping[str, Any]]) -> Any:
        where: dict[str, Any] = {}
        if self.conversation_id is not None:
            where["conversation"] = self.conversation_id
        elif self.response_ids:
            where["previous_response_id"] = self.response_ids[-1]
        arguments = self.release.request(
            input=list(items),
            additional_instructions=request.additional_instructions,
            **where,
        )
        responses = self.client.responses
        try:
            response = self._request(
                lambda: responses.create(**arguments),
                f"step {request.number}: create a response",
                idempotent=self.chained,
            )
        except AccountError as error:
            if error.not_found and error.hint is None:
                error.hint = NO_RESPONSES_HINT
            raise
        if self.chained:
            self.response_ids.append(response.id)
        else:
            self.response_ids[:] = [response.id]
        return response

    def _finish(
        self, request: StepRequest, response: Any, deadline: float
    ) -> tuple[Any, str | None]:
        """Poll a response the account answers in the background until it ends; past the
        deadline, cancel it."""
        interval = FIRST_POLL_S
        responses = self.client.responses
        while response.status in UNFINISHED:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return self._cancel(request, response), (
                    f"the response did not finish within timeout_s={request.timeout_s:g} "
                    f"(still {response.status}); cancelled it"
                )
            if self.stop.wait(min(interval, remaining)):
                raise Interrupted()
            response = self._request(
                functools.partial(responses.retrieve, response.id),
                f"step {request.number}: poll response {response.id}",
            )
            interval = min(MAX_POLL_S, interval * POLL_GROWTH)
        return response, None

    def _cancel(self, request: StepRequest, response: Any) -> Any:
        responses = self.client.responses
        try:
            return self._request(
                lambda: responses.cancel(response.id),
                f"step {request.number}: cancel response {response.id}",
            )
        except AccountError:
            return response

    def _answers(
        self, request: StepRequest, calls: Sequence[Any], gathered: _Round
    ) -> tuple[list[dict[str, Any]], str | None]:
        outputs: list[dict[str, Any]] = []
        for call in calls:
            canned = request.answer(call.name, parse_arguments(call.arguments))
            if canned.output is None:
                shown = function_call(call.call_id, call.name, call.arguments)
                return [], f"the model called {shown}: {canned.reason}"
            outputs.append(
                {"type": "function_call_output", "call_id": call.call_id, "output": canned.output}
            )
            _answered(gathered, call.call_id, canned.output)
        return outputs, None


# --- reading responses ------------------------------------------------------------------------


def _gather(response: Any, gathered: _Round) -> None:
    for item in response.output:
        data = dump(item)
        kind = data.get("type")
        if kind == "message":
            _message(data, gathered)
        elif kind == "function_call":
            gathered.calls.append(
                function_call(data["call_id"], data["name"], data.get("arguments"))
            )
        elif isinstance(kind, str) and kind.endswith("_call"):
            tool = kind.removesuffix("_call")
            gathered.calls.append(ToolCall(tool, tool, id=str(data.get("id") or "")))
    usage = getattr(response, "usage", None)
    if usage is not None:
        gathered.usage = _added(gathered.usage, usage)


def _message(data: Mapping[str, Any], gathered: _Round) -> None:
    for part in data.get("content") or ():
        if part.get("type") == "output_text":
            gathered.texts.append(part.get("text") or "")
            gathered.citations.extend(
                Citation(file_id=annotation["file_id"], filename=annotation.get("filename"))
                for annotation in part.get("annotations") or ()
                if annotation.get("type") == "file_citation"
            )
        elif part.get("type") == "refusal":
            gathered.texts.append(part.get("refusal") or "")


def _answered(gathered: _Round, call_id: str, output: str) -> None:
    """Record the canned output on the function call it answers (transcripts show it)."""
    for index, call in enumerate(gathered.calls):
        if call.id == call_id and call.output is None:
            gathered.calls[index] = ToolCall(call.type, call.name, call.arguments, output, call.id)


def _added(total: dict[str, int] | None, usage: Any) -> dict[str, int]:
    """Responses count ``input``/``output`` tokens; expectations read the Assistants names."""
    counts = {
        "prompt_tokens": int(getattr(usage, "input_tokens", 0) or 0),
        "completion_tokens": int(getattr(usage, "output_tokens", 0) or 0),
        "total_tokens": int(getattr(usage, "total_tokens", 0) or 0),
    }
    if total is None:
        return counts
    return {key: total.get(key, 0) + value for key, value in counts.items()}


def _last_error(response: Any) -> str | None:
    error = getattr(response, "error", None)
    if error:
        return f"{error.code}: {error.message}"
    details = getattr(response, "incomplete_details", None)
    if details:
        return f"incomplete: {details.reason}"
    return None


def _calls(items: Sequence[Any]) -> Iterator[Any]:
    return (item for item in items if item.type == "function_call")
