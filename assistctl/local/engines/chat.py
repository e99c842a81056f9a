"""The chat engine: answer runs and responses with any OpenAI-compatible chat-completions
endpoint.

A run (or response) becomes one chat conversation: the instructions as the system message, the
conversation's messages, then the tool calls already made in this turn with their outputs.
Function tools are passed as chat tools (a call the model makes becomes ``requires_action`` /
``function_call`` items; outputs go back as ``tool`` messages). ``file_search`` is offered as a
function served by the local index (``offered_search``); ``code_interpreter`` as a function
taking code, run in the account's sandbox (``offered_code``) when the account runs code, and
not offered otherwise.

The backend is called through the ``openai`` SDK (``chat.completions.create``) with
``base_url``; models are mapped by ``model_map``; the key (read from the environment by the
app) is never logged or stored, nor are credentials in the URL (``backend``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import openai
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolMessageParam,
)

from assistctl.local.engines.backend import BackendEngine, is_context_length_error, valid_text
from assistctl.local.engines.contract import (
    ActionRequired,
    Answer,
    CodeSession,
    ContextMessage,
    FunctionCall,
    Outcome,
    RunInput,
    Search,
    ServerToolCall,
    Usage,
    count_tokens,
)
from assistctl.local.engines.offered_code import OfferedCode, OfferedTools
from assistctl.local.engines.offered_code import function_definition as code_definition
from assistctl.local.engines.offered_search import (
    FUNCTION_NAME,
    MAX_SEARCH_ROUNDS,
    OfferedSearch,
    exchange_arguments,
    function_definition,
)


@dataclass(frozen=True)
class _Reply:
    """One chat completion's choice, streamed or not, reduced to what a run needs. Text is
    made valid Unicode (a backend's lone surrogate escape becomes U+FFFD), since the account
    stores nothing it could not answer back."""

    content: str
    tool_calls: tuple[FunctionCall, ...]
    finish_reason: str | None
    usage: Usage | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "content", valid_text(self.content))
        calls = tuple(
            replace(call, name=valid_text(call.name), arguments=valid_text(call.arguments))
            for call in self.tool_calls
        )
        object.__setattr__(self, "tool_calls", calls)


class ChatEngine(BackendEngine):
    """Answers runs and responses by calling a chat-completions backend; safe to share between
    threads."""

    kind = "chat"

    def _respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None,
        on_tool_call: Callable[[ServerToolCall], None] | None,
        code: CodeSession | None,
    ) -> Outcome:
        conversation = _conversation(run)
        tools = OfferedTools(run, search, code)
        searches, runs, made = tools.searches, tools.runs, tools.made
        usage = Usage()
        for _ in range(MAX_SEARCH_ROUNDS + 1):
            request = self._request(run, searches.offered, runs, resumed=bool(run.exchanges))
            if made:
                request = _unforced(request)
            try:
                reply = self._complete_fitting(run, conversation, request, on_text)
            except openai.APIError as error:
                return self.backend.failure(error, usage, tuple(made))
            usage = usage + (reply.usage or _counted_usage(conversation, reply.content))
            if not reply.tool_calls:
                return self._answer(run, reply, usage, searches, tuple(made))
            conversation.append(_assistant_tool_message(reply.tool_calls))
            functions, answered = tools.serve(reply.tool_calls, on_tool_call)
            conversation.extend(_tool_message(call.id, output) for call, output in answered)
            if functions:
                calls = tuple(
                    FunctionCall(c.id or new_id("call"), c.name, c.arguments) for c in functions
                )
                return ActionRequired(calls, usage, tuple(made))
        return tools.endless(usage)

    def _complete_fitting(
        self,
        run: RunInput,
        conversation: list[ChatCompletionMessageParam],
        request: dict[str, Any],
        on_text: Callable[[str], None] | None,
    ) -> _Reply:
        """One completion; with ``truncation: auto`` a conversation longer than the model's
        context loses its oldest messages (never the system message nor the last one) until
        it fits."""
        while True:
            try:
                return self._complete(conversation, request, on_text)
            except openai.APIError as error:
                droppable = [
                    index
                    for index, message in enumerate(conversation[:-1])
                    if message["role"] != "system"
                ]
                if run.truncation != "auto" or not droppable or not is_context_length_error(error):
                    raise
                del conversation[droppable[0]]

    def _complete(
        self,
        conversation: list[ChatCompletionMessageParam],
        request: dict[str, Any],
        on_text: Callable[[str], None] | None,
    ) -> _Reply:
        """One chat completion, streamed when someone listens for text."""
        client = self.backend.client
        if on_text is None:
            completion = client.chat.completions.create(messages=conversation, **request)
            if not completion.choices:
                return _Reply("", (), None, _reported_usage(completion.usage))
            choice = completion.choices[0]
            calls = tuple(
                FunctionCall(c.id, c.function.name, c.function.arguments or "")
                for c in choice.message.tool_calls or []
                if isinstance(c, ChatCompletionMessageFunctionToolCall)
            )
            return _Reply(
                choice.message.content or "",
                calls,
                choice.finish_reason,
                _reported_usage(completion.usage),
            )
        stream = client.chat.completions.create(
            messages=conversation,
            stream=True,
            stream_options={"include_usage": True},
            **request,
        )
        content: list[str] = []
        slots: dict[int, dict[str, str]] = {}
        finish_reason = None
        usage = None
        for chunk in stream:
            if chunk.usage is not None:
                usage = _reported_usage(chunk.usage)
            for choice in chunk.choices[:1]:
                delta = choice.delta
                if delta.content:
                    content.append(delta.content)
                    on_text(delta.content)
                for call in delta.tool_calls or []:
                    slot = slots.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    slot["id"] = call.id or slot["id"]
                    if call.function is not None:
                        slot["name"] += call.function.name or ""
                        slot["arguments"] += call.function.arguments or ""
                finish_reason = choice.finish_reason or finish_reason
        calls = tuple(FunctionCall(**slots[index]) for index in sorted(slots))
        return _Reply("".join(content), calls, finish_reason, usage)

    def _request(
        self, run: RunInput, searchable: bool, runs: OfferedCode, *, resumed: bool
    ) -> dict[str, Any]:
        """The chat request's parameters other than ``messages``."""
        request: dict[str, Any] = {"model": self.backend.model(run.model)}
        tools = [
            {"type": "function", "function": _function_definition(tool["function"])}
            for tool in run.tools
            if tool.get("type") == "function"
        ]
        if searchable:
            tools.append({"type": "function", "function": function_definition()})
        if runs.offered and runs.session is not None:
            tools.append({"type": "function", "function": code_definition(runs.session)})
        if tools:
            request["tools"] = tools
            choice = _tool_choice(run.tool_choice, searchable, runs.offered)
            if choice is not None:
                request["tool_choice"] = choice
            if resumed:
                request = _unforced(request)
            if not run.parallel_tool_calls:
                request["parallel_tool_calls"] = False
        for name in (
            "temperature",
            "top_p",
            "max_completion_tokens",
            "presence_penalty",
            "frequency_penalty",
        ):
            value = getattr(run, name)
            if value is not None:
                request[name] = value
        effort = (run.reasoning or {}).get("effort")
        if effort is not None:
            request["reasoning_effort"] = effort
        response_format = run.response_format
        if isinstance(response_format, dict) and response_format.get("type") in (
            "json_object",
            "json_schema",
        ):
            request["response_format"] = response_format
        return request

    def _answer(
        self,
        run: RunInput,
        reply: _Reply,
        usage: Usage,
        searches: OfferedSearch,
        made: tuple[ServerToolCall, ...],
    ) -> Answer:
        incomplete = None
        if reply.finish_reason == "length":
            incomplete = "max_completion_tokens"
        elif run.max_prompt_tokens is not None and usage.prompt_tokens > run.max_prompt_tokens:
            incomplete = "max_prompt_tokens"
        citations = searches.citations(reply.content)
        return Answer(reply.content, usage, citations, made, incomplete)


# --- building the chat request ------------------------------------------------------------------


def _conversation(run: RunInput) -> list[ChatCompletionMessageParam]:
    conversation: list[ChatCompletionMessageParam] = []
    if run.instructions:
        conversation.append({"role": "system", "content": run.instructions})
    for message in run.messages:
        conversation.append(_thread_message(message))
    answered = [exchange for exchange in run.exchanges if exchange.output is not None]
    if answered:
        calls = tuple(FunctionCall(e.id, e.name, exchange_arguments(e)) for e in answered)
        conversation.append(_assistant_tool_message(calls))
        conversation.extend(_tool_message(e.id, e.output or "") for e in answered)
    return conversation


def _thread_message(message: ContextMessage) -> ChatCompletionMessageParam:
    """A conversation message; a response's ``system`` and ``developer`` messages go as
    ``system``, which every chat backend knows."""
    if message.role == "assistant":
        return {"role": "assistant", "content": message.text}
    if message.role in ("system", "developer"):
        return {"role": "system", "content": message.text}
    return {"role": "user", "content": message.text}


def _assistant_tool_message(
    calls: tuple[FunctionCall, ...],
) -> ChatCompletionAssistantMessageParam:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in calls
        ],
    }


def _tool_message(call_id: str, output: str) -> ChatCompletionToolMessageParam:
    return {"role": "tool", "tool_call_id": call_id, "content": output}


def _function_definition(function: dict[str, Any]) -> dict[str, Any]:
    """The function as the chat backend takes it; ``strict`` only when on, since the account
    fills in ``strict: false`` and not every OpenAI-compatible backend knows the field."""
    definition = {"name": function["name"]}
    for key in ("description", "parameters"):
        if function.get(key) is not None:
            definition[key] = function[key]
    if function.get("strict"):
        definition["strict"] = True
    return definition


def _unforced(request: dict[str, Any]) -> dict[str, Any]:
    """The request without a forced tool: once the forced call is answered, the model must
    be free to answer, or it would call the same tool forever."""
    if request.get("tool_choice") in (None, "auto", "none"):
        return request
    return {**request, "tool_choice": "auto"}


def _tool_choice(choice: Any, searchable: bool, runs_code: bool) -> Any:
    """The run's tool choice for the chat backend: a built-in tool forces its offered
    function, or nothing when that function is not offered."""
    if isinstance(choice, str):
        return choice
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "function":
            return choice
        offered = {"file_search": searchable, "code_interpreter": runs_code}
        if kind in offered:
            if not offered[kind]:
                return "auto"
            name = FUNCTION_NAME if kind == "file_search" else "code_interpreter"
            return {"type": "function", "function": {"name": name}}
    return None


# --- results and errors -------------------------------------------------------------------------


def _reported_usage(reported: Any) -> Usage | None:
    if reported is None or reported.prompt_tokens is None:
        return None
    return Usage(reported.prompt_tokens or 0, reported.completion_tokens or 0)


def _counted_usage(conversation: list[ChatCompletionMessageParam], answer: str) -> Usage:
    """Word counts, for backends that report no usage."""
    prompt = sum(count_tokens(str(m.get("content") or "")) for m in conversation)
    return Usage(prompt, count_tokens(answer))
