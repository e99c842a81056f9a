"""The chat engine: answer runs with any OpenAI-compatible chat-completions endpoint.

A run becomes one chat conversation: the run's instructions as the system message, the
thread's messages, then the tool calls already made in this run with their outputs. Function
tools are passed as chat tools (a call the model makes becomes ``requires_action``; submitted
outputs go back as ``tool`` messages). ``file_search`` is offered as a ``file_search(query)``
function served by the local index: its excerpts are numbered, and the answer's ``[n]`` /
``【n】`` markers become ``file_citation`` annotations. ``code_interpreter`` is refused: no safe
code executor ships with assistctl, so such runs fail with a clear ``last_error``.

The backend is called through the ``openai`` SDK (``chat.completions.create``) with
``base_url``; models are mapped by ``model_map``; the key (read from the environment by the
app) is never logged or stored. Neither are credentials riding in the URL (``user:password@``,
``?api-key=``): every failure message is redacted of them and shows the URL without them, since
``last_error`` is stored and shown to every client — also when the backend echoes the key.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

import openai
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolMessageParam,
)

from assistctl.local.engines.contract import (
    ActionRequired,
    Answer,
    Citation,
    ContextMessage,
    Failure,
    FileSearchCall,
    FunctionCall,
    Outcome,
    RunInput,
    Search,
    ServerToolCall,
    ToolExchange,
    Usage,
    count_tokens,
)
from assistctl.local.engines.file_search import display_filename, search_files

FILE_SEARCH_FUNCTION = "file_search"
MAX_SEARCH_ROUNDS = 5
EXCERPT_CHARACTERS = 2000
REQUEST_TIMEOUT_S = 120.0
MAX_RETRIES = 2
NO_KEY = "no-key"
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4
_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, any surrogate is unpaired
_MARKER = re.compile(r"【(\d+)(?:[:†][^】]*)?】|\[(\d+)\]")


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


def valid_text(text: str) -> str:
    """``text`` with each unpaired UTF-16 surrogate replaced by U+FFFD."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


@dataclass(frozen=True)
class _Excerpt:
    number: int
    file_id: str
    filename: str


class EngineFailure(Exception):
    """An unexpected error of the chat engine, its message already redacted."""


class Redactor:
    """Removes a backend's credentials from text: the key, and the user, password and query
    values of its URL (as written and percent-decoded)."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        parts = urlsplit(base_url)
        found = {api_key or ""}
        for value in (parts.username, parts.password, *(v for _, v in parse_qsl(parts.query))):
            if value:
                found.update({value, unquote(value), quote(unquote(value), safe="")})
        if parts.password is not None:  # sent as HTTP Basic auth, which a backend may echo
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password)}"
            found.add(base64.b64encode(pair.encode()).decode())
        # Shorter values (a user "me") would garble every message and protect nothing.
        long_enough = (s for s in found if len(s) >= MIN_SECRET_LENGTH)
        self.secrets = tuple(sorted(long_enough, key=len, reverse=True))
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        self.shown_url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


class ChatEngine:
    """Answers runs by calling a chat-completions backend; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        model_map: dict[str, str] | None = None,
        api_key: str | None = None,
        *,
        timeout: float = REQUEST_TIMEOUT_S,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self._redact = Redactor(base_url, api_key)
        self.base_url = self._redact.shown_url
        self.model_map = dict(model_map or {})
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or NO_KEY,
            timeout=timeout,
            max_retries=max_retries,
        )

    def backend_model(self, model: str) -> str:
        """``model`` as the backend names it: mapped, else the ``*`` mapping, else unchanged."""
        return self.model_map.get(model) or self.model_map.get("*") or model

    def respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None = None,
    ) -> Outcome:
        """Answer ``run``; with ``on_text`` the backend streams and each text piece is passed
        on as it arrives (the outcome still carries the whole answer). Failures never carry the
        backend's credentials."""
        try:
            outcome = self._respond(run, search, new_id, on_text)
        except Exception as exc:
            raise EngineFailure(self._redact(f"{type(exc).__name__}: {exc}")) from None
        if isinstance(outcome, Failure):
            return replace(outcome, message=self._redact(outcome.message))
        return outcome

    def _respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None,
    ) -> Outcome:
        if run.tool("code_interpreter") is not None:
            return Failure(
                "invalid_prompt",
                "code_interpreter is not available on the local account's chat engine: no safe "
                "code executor is configured. Remove the code_interpreter tool from the "
                "assistant (or override the run's tools).",
            )
        conversation = _conversation(run)
        excerpts: dict[int, _Excerpt] = {}
        server_calls: list[ServerToolCall] = []
        usage = Usage()
        searchable = run.tool("file_search") is not None and bool(run.vector_store_ids)
        request = self._request(run, searchable)
        for _ in range(MAX_SEARCH_ROUNDS + 1):
            try:
                reply = self._complete(conversation, request, on_text)
            except openai.APIError as error:
                return _failure(error, self.base_url, usage, tuple(server_calls))
            usage = usage + (reply.usage or _counted_usage(conversation, reply.content))
            if not reply.tool_calls:
                return self._answer(run, reply, usage, excerpts, server_calls)
            conversation.append(_assistant_tool_message(reply.tool_calls))
            functions = []
            for call in reply.tool_calls:
                if call.name == FILE_SEARCH_FUNCTION and searchable:
                    found = _file_search(run, call, search, excerpts)
                    server_calls.append(found)
                    conversation.append(_tool_message(call.id, found.output))
                else:
                    functions.append(
                        FunctionCall(call.id or new_id("call"), call.name, call.arguments)
                    )
            if functions:
                return ActionRequired(tuple(functions), usage, tuple(server_calls))
            request = _unforced(request)
        return Failure(
            "server_error",
            f"The model kept calling file_search ({MAX_SEARCH_ROUNDS} rounds) without answering.",
            usage,
            tuple(server_calls),
        )

    def _complete(
        self,
        conversation: list[ChatCompletionMessageParam],
        request: dict[str, Any],
        on_text: Callable[[str], None] | None,
    ) -> _Reply:
        """One chat completion, streamed when someone listens for text."""
        if on_text is None:
            completion = self._client.chat.completions.create(messages=conversation, **request)
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
        stream = self._client.chat.completions.create(
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

    def _request(self, run: RunInput, searchable: bool) -> dict[str, Any]:
        """The chat request's parameters other than ``messages``."""
        request: dict[str, Any] = {"model": self.backend_model(run.model)}
        resumed = bool(run.exchanges)
        tools = [
            {"type": "function", "function": _function_definition(tool["function"])}
            for tool in run.tools
            if tool.get("type") == "function"
        ]
        if searchable:
            tools.append({"type": "function", "function": _file_search_definition()})
        if tools:
            request["tools"] = tools
            choice = _tool_choice(run.tool_choice)
            if choice is not None:
                request["tool_choice"] = choice
            if resumed:
                request = _unforced(request)
            if not run.parallel_tool_calls:
                request["parallel_tool_calls"] = False
        for name in ("temperature", "top_p", "max_completion_tokens"):
            value = getattr(run, name)
            if value is not None:
                request[name] = value
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
        excerpts: dict[int, _Excerpt],
        server_calls: list[ServerToolCall],
    ) -> Answer:
        incomplete = None
        if reply.finish_reason == "length":
            incomplete = "max_completion_tokens"
        elif run.max_prompt_tokens is not None and usage.prompt_tokens > run.max_prompt_tokens:
            incomplete = "max_prompt_tokens"
        citations = _citations(reply.content, excerpts)
        return Answer(reply.content, usage, citations, tuple(server_calls), incomplete)


# --- building the chat request ------------------------------------------------------------------


def _conversation(run: RunInput) -> list[ChatCompletionMessageParam]:
    conversation: list[ChatCompletionMessageParam] = []
    if run.instructions:
        conversation.append({"role": "system", "content": run.instructions})
    for message in run.messages:
        conversation.append(_thread_message(message))
    answered = [exchange for exchange in run.exchanges if exchange.output is not None]
    if answered:
        calls = tuple(FunctionCall(e.id, e.name, _arguments_of(e)) for e in answered)
        conversation.append(_assistant_tool_message(calls))
        conversation.extend(_tool_message(e.id, e.output or "") for e in answered)
    return conversation


def _thread_message(message: ContextMessage) -> ChatCompletionMessageParam:
    """A thread message (the API's roles are ``user`` and ``assistant``)."""
    if message.role == "assistant":
        return {"role": "assistant", "content": message.text}
    return {"role": "user", "content": message.text}


def _arguments_of(exchange: ToolExchange) -> str:
    if exchange.type == "file_search":
        return json.dumps({"query": exchange.arguments})
    return exchange.arguments


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


def _file_search_definition() -> dict[str, Any]:
    return {
        "name": FILE_SEARCH_FUNCTION,
        "description": (
            "Search the files attached to this assistant. Returns numbered excerpts; cite an "
            "excerpt you use by writing its number in square brackets, e.g. [1]."
        ),
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "What to look for."}},
            "required": ["query"],
        },
    }


def _unforced(request: dict[str, Any]) -> dict[str, Any]:
    """The request without a forced tool: once the forced call is answered, the model must
    be free to answer, or it would call the same tool forever."""
    if request.get("tool_choice") in (None, "auto", "none"):
        return request
    return {**request, "tool_choice": "auto"}


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            return choice
        if choice.get("type") == "file_search":
            return {"type": "function", "function": {"name": FILE_SEARCH_FUNCTION}}
    return None


# --- file search --------------------------------------------------------------------------------


def _file_search(
    run: RunInput, call: FunctionCall, search: Search, excerpts: dict[int, _Excerpt]
) -> FileSearchCall:
    """Run the model's ``file_search`` call on the local index; number the excerpts."""
    try:
        query = str(json.loads(call.arguments or "{}").get("query") or "")
    except (json.JSONDecodeError, AttributeError):
        query = call.arguments or ""
    found = search_files(run, call.id, query, search)
    lines = []
    for result in found.results:
        number = len(excerpts) + 1
        excerpts[number] = _Excerpt(number, result.file_id, result.file_name)
        excerpt = result.text[:EXCERPT_CHARACTERS]
        lines.append(f"[{number}] {display_filename(result.file_name)}:\n{excerpt}")
    output = "\n\n".join(lines) if lines else "No matching excerpts were found."
    return replace(found, output=output)


def _citations(text: str, excerpts: dict[int, _Excerpt]) -> tuple[Citation, ...]:
    citations = []
    for match in _MARKER.finditer(text):
        number = int(match.group(1) or match.group(2))
        excerpt = excerpts.get(number)
        if excerpt is not None:
            citations.append(Citation(match.group(0), match.start(), match.end(), excerpt.file_id))
    return tuple(citations)


# --- results and errors -------------------------------------------------------------------------


def _reported_usage(reported: Any) -> Usage | None:
    if reported is None or reported.prompt_tokens is None:
        return None
    return Usage(reported.prompt_tokens or 0, reported.completion_tokens or 0)


def _counted_usage(conversation: list[ChatCompletionMessageParam], answer: str) -> Usage:
    """Word counts, for backends that report no usage."""
    prompt = sum(count_tokens(str(m.get("content") or "")) for m in conversation)
    return Usage(prompt, count_tokens(answer))


def _failure(
    error: openai.APIError, base_url: str, usage: Usage, calls: tuple[ServerToolCall, ...]
) -> Failure:
    """A backend error as the API's run ``last_error`` (never echoing credentials)."""
    if isinstance(error, openai.RateLimitError):
        return Failure(
            "rate_limit_exceeded",
            f"The chat backend rate-limited the request (429): {_detail(error)}",
            usage,
            calls,
        )
    if isinstance(error, openai.APIStatusError):
        detail = _detail(error)
        code = str(getattr(error, "code", "") or "")
        if code == "context_length_exceeded" or "context length" in detail.lower():
            return Failure(
                "invalid_prompt",
                f"The thread is too long for the model's context window: {detail}",
                usage,
                calls,
            )
        return Failure(
            "server_error",
            f"The chat backend answered {error.status_code}: {detail}",
            usage,
            calls,
        )
    if isinstance(error, openai.APITimeoutError):
        return Failure("server_error", f"The chat backend at {base_url} timed out.", usage, calls)
    if isinstance(error, openai.APIConnectionError):
        return Failure(
            "server_error", f"Cannot reach the chat backend at {base_url}.", usage, calls
        )
    return Failure("server_error", f"The chat backend failed: {_detail(error)}", usage, calls)


def _detail(error: openai.APIError) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(error, "message", "") or error)
