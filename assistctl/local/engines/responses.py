"""The responses engine: answer runs and responses with any Responses-API backend (OpenAI,
vLLM, Ollama, LiteLLM, another local account).

A run (or response) becomes one stateless backend request (``store: false``): the instructions,
the conversation's messages as input items, then the function calls of this turn with their
outputs as ``function_call`` / ``function_call_output`` items. Function tools are passed as
function tools; a call the model makes becomes ``requires_action`` / ``function_call`` items.
``file_search`` is offered as a function served by the local index (``offered_search``), since
the backend cannot see the account's vector stores; its excerpts become ``file_citation``s.
``code_interpreter`` is offered as a function taking code, run in the account's sandbox
(``offered_code``), since the backend cannot see the account's files; it is not offered when
the account runs no code. Reasoning items the backend returns are kept (and not sent
back, so no backend needs to recognise them); ``reasoning``, ``truncation``, ``text.format``,
sampling and ``max_output_tokens`` are passed on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.responses import (
    EasyInputMessageParam,
    Response,
    ResponseCompletedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFunctionToolCallParam,
    ResponseIncompleteEvent,
    ResponseInputItemParam,
    ResponseTextDeltaEvent,
)
from openai.types.responses.response_input_item_param import FunctionCallOutput

from assistctl.local.engines.backend import BackendEngine, valid_text
from assistctl.local.engines.contract import (
    ActionRequired,
    Answer,
    CodeSession,
    ContextMessage,
    Failure,
    FunctionCall,
    Outcome,
    ReasoningNote,
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
    exchange_arguments,
    function_definition,
)

FAILURE_CODES = ("server_error", "rate_limit_exceeded", "invalid_prompt")


@dataclass(frozen=True)
class _Reply:
    """One backend response reduced to what a turn needs."""

    text: str
    calls: tuple[FunctionCall, ...]
    reasoning: tuple[ReasoningNote, ...]
    usage: Usage
    incomplete: bool
    failure: Failure | None


class ResponsesEngine(BackendEngine):
    """Answers runs and responses by calling a Responses-API backend; safe to share between
    threads."""

    kind = "responses"

    def _respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None,
        on_tool_call: Callable[[ServerToolCall], None] | None,
        code: CodeSession | None,
    ) -> Outcome:
        items = _input_items(run)
        tools = OfferedTools(run, search, code)
        searches, runs, made = tools.searches, tools.runs, tools.made
        usage = Usage()
        reasoning: list[ReasoningNote] = []
        for _ in range(MAX_SEARCH_ROUNDS + 1):
            forced = not run.exchanges and not made
            request = self._request(run, searches.offered, runs, forced)
            try:
                reply = self._create(items, request, on_text)
            except openai.APIError as error:
                return self.backend.failure(error, usage, tuple(made))
            usage = usage + reply.usage
            reasoning.extend(reply.reasoning)
            if reply.failure is not None:
                return Failure(reply.failure.code, reply.failure.message, usage, tuple(made))
            if not reply.calls:
                return Answer(
                    reply.text,
                    usage,
                    searches.citations(reply.text),
                    tuple(made),
                    "max_completion_tokens" if reply.incomplete else None,
                    tuple(reasoning),
                )
            functions, answered = tools.serve(reply.calls, on_tool_call)
            for call, output in answered:
                items.append(_call_item(call.id, call.name, call.arguments))
                items.append(_output_item(call.id, output))
            if functions:
                return ActionRequired(tuple(functions), usage, tuple(made), tuple(reasoning))
        return tools.endless(usage)

    def _request(
        self, run: RunInput, searchable: bool, runs: OfferedCode, forced: bool
    ) -> dict[str, Any]:
        """The backend request's parameters other than ``input``."""
        request: dict[str, Any] = {"model": self.backend.model(run.model), "store": False}
        if run.instructions:
            request["instructions"] = run.instructions
        tools = [
            _function_tool(tool["function"]) for tool in run.tools if tool["type"] == "function"
        ]
        if searchable:
            tools.append({"type": "function", **function_definition(), "strict": False})
        if runs.offered and runs.session is not None:
            tools.append({"type": "function", **code_definition(runs.session), "strict": False})
        if tools:
            request["tools"] = tools
            choice = _tool_choice(run.tool_choice, searchable, runs.offered) if forced else "auto"
            if choice is not None:
                request["tool_choice"] = choice
            if not run.parallel_tool_calls:
                request["parallel_tool_calls"] = False
        for name, value in (
            ("temperature", run.temperature),
            ("top_p", run.top_p),
            ("max_output_tokens", run.max_completion_tokens),
            ("reasoning", run.reasoning),
        ):
            if value is not None:
                request[name] = value
        if run.truncation == "auto":
            request["truncation"] = "auto"
        text_format = _text_format(run.response_format)
        if text_format is not None:
            request["text"] = {"format": text_format}
        return request

    def _create(
        self,
        items: list[ResponseInputItemParam],
        request: dict[str, Any],
        on_text: Callable[[str], None] | None,
    ) -> _Reply:
        """One backend response, streamed when someone listens for text."""
        client = self.backend.client
        if on_text is None:
            response = client.responses.create(input=items, stream=False, **request)
            if not isinstance(response, Response):
                return _failed("The responses backend answered with a stream, not a response.")
            return _reply(response, items)
        final: Response | None = None
        for event in client.responses.create(input=items, stream=True, **request):
            if isinstance(event, ResponseTextDeltaEvent):
                on_text(event.delta)
            elif isinstance(
                event, ResponseCompletedEvent | ResponseIncompleteEvent | ResponseFailedEvent
            ):
                final = event.response
            elif isinstance(event, ResponseErrorEvent):
                return _failed(f"The responses backend sent an error: {event.message}")
        if final is None:
            return _failed("The responses backend's stream ended without a final response.")
        return _reply(final, items)


def _input_items(run: RunInput) -> list[ResponseInputItemParam]:
    """The conversation as backend input: messages, then this turn's answered tool calls."""
    items: list[ResponseInputItemParam] = [_message_item(m) for m in run.messages]
    for exchange in run.exchanges:
        if exchange.output is not None:
            items.append(_call_item(exchange.id, exchange.name, exchange_arguments(exchange)))
            items.append(_output_item(exchange.id, exchange.output))
    return items


def _message_item(message: ContextMessage) -> EasyInputMessageParam:
    if message.role == "assistant":
        return {"role": "assistant", "content": message.text}
    if message.role == "system":
        return {"role": "system", "content": message.text}
    if message.role == "developer":
        return {"role": "developer", "content": message.text}
    return {"role": "user", "content": message.text}


def _call_item(call_id: str, name: str, arguments: str) -> ResponseFunctionToolCallParam:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def _output_item(call_id: str, output: str) -> FunctionCallOutput:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def _function_tool(function: dict[str, Any]) -> dict[str, Any]:
    tool: dict[str, Any] = {"type": "function", "name": function["name"]}
    for key in ("description", "parameters"):
        if function.get(key) is not None:
            tool[key] = function[key]
    tool["strict"] = bool(function.get("strict"))
    return tool


def _tool_choice(choice: Any, searchable: bool, runs_code: bool) -> Any:
    """The run's (or response's) tool choice as a Responses backend takes it."""
    if isinstance(choice, str):
        return choice
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            return {"type": "function", "name": choice["function"]["name"]}
        if choice.get("type") == "file_search" and searchable:
            return {"type": "function", "name": FUNCTION_NAME}
        if choice.get("type") == "code_interpreter" and runs_code:
            return {"type": "function", "name": "code_interpreter"}
    return "auto"


def _text_format(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = response_format.get("json_schema") or {}
        shown = {"type": "json_schema", "name": schema.get("name"), "schema": schema.get("schema")}
        if schema.get("strict") is not None:
            shown["strict"] = schema["strict"]
        return shown
    return None


def _reply(response: Response, items: list[ResponseInputItemParam]) -> _Reply:
    """A backend response reduced to a turn's needs; its text made valid Unicode (a lone
    surrogate escape becomes U+FFFD), since the account stores nothing it could not answer
    back."""
    calls = []
    reasoning = []
    for item in response.output:
        if item.type == "function_call":
            calls.append(
                FunctionCall(item.call_id, valid_text(item.name), valid_text(item.arguments))
            )
        elif item.type == "reasoning":
            reasoning.append(
                ReasoningNote(
                    tuple(valid_text(part.text) for part in item.summary),
                    tuple(valid_text(part.text) for part in item.content or []),
                    item.encrypted_content,
                )
            )
    text = valid_text(response.output_text)
    if response.usage is not None:
        usage = Usage(response.usage.input_tokens, response.usage.output_tokens)
    else:
        prompt = sum(
            count_tokens(str(item.get("content") or item.get("output") or "")) for item in items
        )
        usage = Usage(prompt, count_tokens(text))
    failure = None
    if response.status == "failed":
        error = response.error
        code = error.code if error is not None and error.code in FAILURE_CODES else "server_error"
        message = error.message if error is not None else "The responses backend failed."
        failure = Failure(code, f"The responses backend failed: {message}")
    incomplete = response.status == "incomplete" and (
        response.incomplete_details is None
        or response.incomplete_details.reason == "max_output_tokens"
    )
    return _Reply(text, tuple(calls), tuple(reasoning), usage, incomplete, failure)


def _failed(message: str) -> _Reply:
    return _Reply("", (), (), Usage(), False, Failure("server_error", message))
