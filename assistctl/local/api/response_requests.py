"""``POST /v1/responses`` bodies: validated as the API does, with its messages and ``param``,
into a ``ResponseRequest`` whose settings read as the response will show them.

Parameters of the API the local account does not offer are refused with a 400 that says so,
never silently dropped; so are tools it cannot serve (web search, computer use, MCP, …).

A function tool that leaves out ``strict`` is strict when its parameters keep the strict rules
(``additionalProperties: false``, every property required) and not strict otherwise, so the
response shows what is enforced and a backend given that tool accepts it; ``strict: true`` on
parameters that break the rules is refused, as the API refuses it.
"""

from __future__ import annotations

from typing import Any

from assistctl.local.api.assistants import MAX_INSTRUCTIONS, MAX_TOOLS
from assistctl.local.api.items import existing_file, parse_include, parse_input
from assistctl.local.api.strict_schemas import check_strict_schema, is_strict_schema
from assistctl.local.api.validation import (
    REASONING_EFFORTS,
    check_array_length,
    check_name,
    expect_type,
    objects_in,
    one_of,
    optional_integer,
    optional_number,
    optional_string,
    reject_unknown,
    require,
    validate_metadata,
)
from assistctl.local.api.vector_stores import validate_filter
from assistctl.local.domain import Account, ApiObject, InvalidRequest, NotFound, ResponseRequest

FIELDS = (
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "text",
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "max_output_tokens",
    "max_tool_calls",
    "truncation",
    "reasoning",
    "metadata",
    "store",
    "background",
    "stream",
    "stream_options",
    "previous_response_id",
    "conversation",
    "include",
    "top_logprobs",
    "service_tier",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
)
NOT_OFFERED = {
    "prompt": "reusable prompt objects are retired (2026-11-30); send instructions and input",
    "context_management": "the local account does not compact context",
    "moderation": "the local account runs no moderation model",
    "access_programs": "the local account has no access programs",
    "image": "the local account has no image options",
    "background_options": "background responses have one completion window here",
    "prompt_cache_options": "the local account keeps no prompt cache",
    "verbosity": "send it as 'text.verbosity'",
}
SERVED_TOOLS = ("function", "file_search", "code_interpreter")
SAMPLING = (
    ("temperature", 0, 2),
    ("top_p", 0, 1),
    ("presence_penalty", -2, 2),
    ("frequency_penalty", -2, 2),
)
MIN_OUTPUT_TOKENS = 16
MAX_VECTOR_STORES = 2
MAX_SEARCH_RESULTS = 50
DEFAULT_SEARCH_RESULTS = 20
SEARCH_RANKERS = ("auto", "default-2024-11-15")
REASONING_SUMMARIES = ("auto", "concise", "detailed")
VERBOSITIES = ("low", "medium", "high")
SERVICE_TIERS = ("auto", "default", "flex", "scale", "priority")
CACHE_RETENTIONS = ("in_memory", "24h")
MAX_TOP_LOGPROBS = 20
MAX_USER = 256
MAX_SAFETY_IDENTIFIER = 128
MEMORY_LIMITS = ("1g", "4g", "16g", "64g")


def parse_response_request(account: Account, body: ApiObject) -> ResponseRequest:
    for name in body:
        if name in NOT_OFFERED:
            raise InvalidRequest(
                f"'{name}' is not supported by the local account: {NOT_OFFERED[name]}.",
                param=name,
            )
    reject_unknown(body, FIELDS, "")
    model = require(body, "model")
    expect_type(model, str, "model", "a string")
    instructions = optional_string(body, "instructions", MAX_INSTRUCTIONS)
    inputs = parse_input(account, body.get("input"))
    tools = parse_tools(account, body.get("tools"))
    tool_choice = parse_tool_choice(body.get("tool_choice"), tools)
    sampling = {}
    for name, low, high in SAMPLING:
        value = optional_number(body, name, low, high)
        if value is not None:
            sampling[name] = float(value)
    previous = optional_string(body, "previous_response_id")
    conversation = _conversation_id(body.get("conversation"))
    if previous is not None and conversation is not None:
        raise InvalidRequest(
            "Mutually exclusive parameters: Ensure you are only providing one of: "
            "'previous_response_id' or 'conversation'.",
            code="mutually_exclusive_parameters",
        )
    store = _flag(body, "store", True)
    background = _flag(body, "background", False)
    stream = _flag(body, "stream", False)
    if background and not store:
        raise InvalidRequest(
            "Background responses must be stored: 'background' requires 'store' to be true.",
            param="background",
        )
    _stream_options(body.get("stream_options"), stream)
    _top_logprobs(body.get("top_logprobs"))
    if body.get("service_tier") is not None:
        one_of(body["service_tier"], "service_tier", SERVICE_TIERS)
    retention = body.get("prompt_cache_retention")
    if retention is not None:
        one_of(retention, "prompt_cache_retention", CACHE_RETENTIONS)
    return ResponseRequest(
        model=model,
        instructions=instructions,
        input=tuple(inputs),
        tools=tuple(tools),
        tool_choice=tool_choice,
        parallel_tool_calls=_flag(body, "parallel_tool_calls", True),
        text=parse_text(body.get("text")),
        sampling=sampling,
        max_output_tokens=optional_integer(body, "max_output_tokens", MIN_OUTPUT_TOKENS),
        max_tool_calls=optional_integer(body, "max_tool_calls", 0),
        truncation=one_of(body.get("truncation") or "disabled", "truncation", ("auto", "disabled")),
        reasoning=_reasoning(body.get("reasoning")),
        metadata=validate_metadata(body.get("metadata")),
        store=store,
        background=background,
        stream=stream,
        previous_response_id=previous,
        conversation_id=conversation,
        include=parse_include(body.get("include")),
        user=optional_string(body, "user", MAX_USER),
        safety_identifier=optional_string(body, "safety_identifier", MAX_SAFETY_IDENTIFIER),
        prompt_cache_key=optional_string(body, "prompt_cache_key"),
        prompt_cache_retention=retention,
    )


# --- tools ------------------------------------------------------------------------------------


def parse_tools(account: Account, value: Any) -> list[ApiObject]:
    """Tools as the response shows them, with the API's defaults filled in."""
    if value is None:
        return []
    tools = []
    for where, tool in objects_in(value, "tools", MAX_TOOLS):
        kind = tool.get("type")
        expect_type(kind, str, f"{where}.type", "a string")
        if kind not in SERVED_TOOLS:
            raise InvalidRequest(
                f"Invalid value for '{where}.type': the local account does not offer the "
                f"'{kind}' tool. It serves 'function', 'file_search' and 'code_interpreter'.",
                param=f"{where}.type",
            )
        if kind == "function":
            tools.append(_function_tool(tool, where))
        elif kind == "file_search":
            tools.append(_file_search_tool(account, tool, where))
        else:
            tools.append(_code_interpreter_tool(account, tool, where))
    return tools


def _function_tool(tool: ApiObject, where: str) -> ApiObject:
    reject_unknown(tool, ("type", "name", "description", "parameters", "strict"), where)
    name = check_name(require(tool, "name", where), f"{where}.name")
    description = optional_string(tool, "description")
    parameters = tool.get("parameters")
    if parameters is not None:
        expect_type(parameters, dict, f"{where}.parameters", "an object")
    strict = tool.get("strict")
    if strict is not None:
        expect_type(strict, bool, f"{where}.strict", "a boolean")
    if strict is True:
        check_strict_schema(parameters or {}, f"function '{name}'", f"{where}.parameters")
    elif strict is None:
        strict = is_strict_schema(parameters or {})
    return {
        "type": "function",
        "name": name,
        "description": description,
        "parameters": parameters,
        "strict": strict,
    }


def _file_search_tool(account: Account, tool: ApiObject, where: str) -> ApiObject:
    reject_unknown(
        tool, ("type", "vector_store_ids", "max_num_results", "filters", "ranking_options"), where
    )
    store_ids = require(tool, "vector_store_ids", where)
    param = f"{where}.vector_store_ids"
    expect_type(store_ids, list, param, "an array")
    check_array_length(store_ids, param, MAX_VECTOR_STORES)
    for index, store_id in enumerate(store_ids):
        expect_type(store_id, str, f"{param}[{index}]", "a string")
        if not account.vector_stores.exists(store_id):
            raise NotFound(f"Vector store with id '{store_id}' not found.", param=param)
    limit = tool.get("max_num_results", DEFAULT_SEARCH_RESULTS)
    expect_type(limit, int, f"{where}.max_num_results", "an integer")
    if not 1 <= limit <= MAX_SEARCH_RESULTS:
        raise InvalidRequest(
            f"Invalid '{where}.max_num_results': expected a value between 1 and "
            f"{MAX_SEARCH_RESULTS}, but got {limit} instead.",
            param=f"{where}.max_num_results",
        )
    filters = tool.get("filters")
    if filters is not None:
        validate_filter(filters, f"{where}.filters")
    return {
        "type": "file_search",
        "vector_store_ids": list(dict.fromkeys(store_ids)),
        "filters": filters,
        "max_num_results": limit,
        "ranking_options": _ranking_options(tool.get("ranking_options"), where),
    }


def _ranking_options(value: Any, where: str) -> ApiObject:
    param = f"{where}.ranking_options"
    ranking = {} if value is None else value
    expect_type(ranking, dict, param, "an object")
    reject_unknown(ranking, ("ranker", "score_threshold", "hybrid_search"), param)
    options: ApiObject = {
        "ranker": one_of(ranking.get("ranker", "auto"), f"{param}.ranker", SEARCH_RANKERS),
        "score_threshold": float(
            optional_number(ranking, "score_threshold", 0, 1, f"{param}.score_threshold") or 0.0
        ),
    }
    hybrid = ranking.get("hybrid_search")
    if hybrid is not None:
        expect_type(hybrid, dict, f"{param}.hybrid_search", "an object")
        reject_unknown(hybrid, ("embedding_weight", "text_weight"), f"{param}.hybrid_search")
        options["hybrid_search"] = {
            name: float(optional_number(hybrid, name, 0, 1, f"{param}.hybrid_search.{name}") or 0.0)
            for name in ("embedding_weight", "text_weight")
        }
    return options


def _code_interpreter_tool(account: Account, tool: ApiObject, where: str) -> ApiObject:
    reject_unknown(tool, ("type", "container"), where)
    container = require(tool, "container", where)
    if isinstance(container, str):
        return {"type": "code_interpreter", "container": container}
    param = f"{where}.container"
    expect_type(container, dict, param, "a string or an object")
    reject_unknown(container, ("type", "file_ids", "memory_limit", "network_policy"), param)
    one_of(container.get("type"), f"{param}.type", ("auto",))
    if container.get("network_policy") is not None:
        raise InvalidRequest(
            f"Invalid '{param}.network_policy': code on the local account never reaches the "
            "network, so there is no policy to set.",
            param=f"{param}.network_policy",
        )
    file_ids = container.get("file_ids") or []
    expect_type(file_ids, list, f"{param}.file_ids", "an array")
    for index, file_id in enumerate(file_ids):
        existing_file(account, file_id, f"{param}.file_ids[{index}]")
    shown: ApiObject = {"type": "auto", "file_ids": list(file_ids)}
    if container.get("memory_limit") is not None:
        shown["memory_limit"] = one_of(
            container["memory_limit"], f"{param}.memory_limit", MEMORY_LIMITS
        )
    return {"type": "code_interpreter", "container": shown}


def parse_tool_choice(value: Any, tools: list[ApiObject]) -> Any:
    if value is None:
        return "auto"
    if isinstance(value, str):
        return one_of(value, "tool_choice", ("none", "auto", "required"))
    expect_type(value, dict, "tool_choice", "a string or an object")
    kind = one_of(
        value.get("type"),
        "tool_choice.type",
        ("function", "file_search", "code_interpreter", "allowed_tools"),
    )
    if kind == "allowed_tools":
        reject_unknown(value, ("type", "mode", "tools"), "tool_choice")
        mode = one_of(value.get("mode"), "tool_choice.mode", ("auto", "required"))
        allowed = []
        for where, entry in objects_in(
            require(value, "tools", "tool_choice"), "tool_choice.tools", MAX_TOOLS
        ):
            allowed.append(_named_tool(entry, tools, where))
        return {"type": "allowed_tools", "mode": mode, "tools": allowed}
    return _named_tool(value, tools, "tool_choice")


def _named_tool(value: ApiObject, tools: list[ApiObject], where: str) -> ApiObject:
    """A tool choice naming one of the request's tools, as the response shows it."""
    kind = one_of(value.get("type"), f"{where}.type", SERVED_TOOLS)
    if kind == "function":
        reject_unknown(value, ("type", "name"), where)
        name = require(value, "name", where)
        expect_type(name, str, f"{where}.name", "a string")
        found = any(t["type"] == "function" and t["name"] == name for t in tools)
        chosen: ApiObject = {"type": "function", "name": name}
    else:
        reject_unknown(value, ("type",), where)
        found = any(t["type"] == kind for t in tools)
        chosen = {"type": kind}
    if not found:
        raise InvalidRequest(
            f"Tool choice '{kind}' not found in 'tools' parameter.", param=f"{where}.type"
        )
    return chosen


# --- text, reasoning and the rest ------------------------------------------------------------


def parse_text(value: Any) -> ApiObject:
    """``text.format`` (text, json_object or json_schema) and ``text.verbosity``."""
    if value is None:
        return {"format": {"type": "text"}, "verbosity": "medium"}
    expect_type(value, dict, "text", "an object")
    reject_unknown(value, ("format", "verbosity"), "text")
    verbosity = one_of(value.get("verbosity") or "medium", "text.verbosity", VERBOSITIES)
    text_format = value.get("format")
    if text_format is None:
        return {"format": {"type": "text"}, "verbosity": verbosity}
    expect_type(text_format, dict, "text.format", "an object")
    kind = one_of(
        text_format.get("type"), "text.format.type", ("text", "json_object", "json_schema")
    )
    if kind != "json_schema":
        reject_unknown(text_format, ("type",), "text.format")
        return {"format": {"type": kind}, "verbosity": verbosity}
    reject_unknown(text_format, ("type", "name", "schema", "description", "strict"), "text.format")
    name = check_name(require(text_format, "name", "text.format"), "text.format.name")
    schema = require(text_format, "schema", "text.format")
    expect_type(schema, dict, "text.format.schema", "an object")
    strict = text_format.get("strict")
    if strict is not None:
        expect_type(strict, bool, "text.format.strict", "a boolean")
    if strict:
        check_strict_schema(schema, f"response_format '{name}'", "text.format.schema")
    shown = {
        "type": "json_schema",
        "name": name,
        "schema": schema,
        "description": optional_string(text_format, "description"),
        "strict": bool(strict),
    }
    return {"format": shown, "verbosity": verbosity}


def _reasoning(value: Any) -> ApiObject:
    if value is None:
        return {"effort": None, "summary": None}
    expect_type(value, dict, "reasoning", "an object")
    reject_unknown(value, ("effort", "summary", "generate_summary"), "reasoning")
    effort = value.get("effort")
    if effort is not None:
        one_of(effort, "reasoning.effort", REASONING_EFFORTS)
    summary = value.get("summary", value.get("generate_summary"))
    if summary is not None:
        one_of(summary, "reasoning.summary", REASONING_SUMMARIES)
    return {"effort": effort, "summary": summary}


def _conversation_id(value: Any) -> str | None:
    """``conversation``: an id, or ``{"id": …}``."""
    if value is None:
        return None
    if isinstance(value, dict):
        reject_unknown(value, ("id",), "conversation")
        value = require(value, "id", "conversation")
        expect_type(value, str, "conversation.id", "a string")
        return str(value)
    expect_type(value, str, "conversation", "a string or an object")
    return str(value)


def _flag(body: ApiObject, name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    expect_type(value, bool, name, "a boolean")
    return bool(value)


def _stream_options(value: Any, stream: bool) -> None:
    if value is None:
        return
    if not stream:
        raise InvalidRequest(
            "Invalid 'stream_options': only allowed when 'stream' is true.",
            param="stream_options",
        )
    expect_type(value, dict, "stream_options", "an object")
    reject_unknown(value, ("include_obfuscation",), "stream_options")
    if value.get("include_obfuscation") is not None:
        expect_type(
            value["include_obfuscation"], bool, "stream_options.include_obfuscation", "a boolean"
        )


def _top_logprobs(value: Any) -> None:
    if value is None:
        return
    expect_type(value, int, "top_logprobs", "an integer")
    if not 0 <= value <= MAX_TOP_LOGPROBS:
        raise InvalidRequest(
            f"Invalid 'top_logprobs': expected a value between 0 and {MAX_TOP_LOGPROBS}, but "
            f"got {value} instead.",
            param="top_logprobs",
        )
    if value > 0:
        raise InvalidRequest(
            "Invalid 'top_logprobs': the local account's engines give no log probabilities, "
            "so only 0 is supported.",
            param="top_logprobs",
        )
