"""``/v1/assistants``: create, list, retrieve, modify, delete, validated as the API does."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, account_of, endpoint, page_request
from assistctl.local.api.tool_resources import parse_tool_resources
from assistctl.local.api.validation import (
    REASONING_EFFORTS,
    check_name,
    expect_type,
    objects_in,
    one_of,
    optional_number,
    optional_string,
    reject_unknown,
    require,
    validate_json_schema_format,
    validate_metadata,
)
from assistctl.local.domain import Account, InvalidRequest, JsonText, ToolResources

MAX_TOOLS = 128
MAX_NAME = 256
MAX_DESCRIPTION = 512
MAX_INSTRUCTIONS = 256_000
TOOL_TYPES = ("code_interpreter", "function", "file_search")
RANKERS = ("auto", "default_2024_08_21")
DEFAULT_RANKER = "auto"
EDITABLE = (
    "model",
    "name",
    "description",
    "instructions",
    "tools",
    "tool_resources",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
    "reasoning_effort",
)


def validate_tools(value: Any, param: str = "tools") -> list[dict[str, Any]]:
    """Tools as the API accepts them (known types, named functions, ≤ 128 entries) and answers
    them: ``function.strict`` and ``file_search.ranking_options`` filled with their defaults."""
    if value is None:
        return []
    tools = []
    for where, tool in objects_in(value, param, MAX_TOOLS):
        kind = one_of(tool.get("type"), f"{where}.type", TOOL_TYPES)
        reject_unknown(tool, ("type", kind))
        if kind == "function":
            tool = {**tool, "function": _function(tool.get("function"), f"{where}.function")}
        elif kind == "file_search":
            tool = {**tool, "file_search": _file_search(tool.get("file_search"), where)}
        tools.append(tool)
    return tools


def _function(function: Any, where: str) -> dict[str, Any]:
    if function is None:
        raise InvalidRequest(f"Missing required parameter: '{where}'.", param=where)
    expect_type(function, dict, where, "an object")
    reject_unknown(function, ("name", "description", "parameters", "strict"))
    name = function.get("name")
    if name is None:
        raise InvalidRequest(f"Missing required parameter: '{where}.name'.", param=f"{where}.name")
    check_name(name, f"{where}.name")
    for key, kind, expected in (
        ("parameters", dict, "an object"),
        ("description", str, "a string"),
        ("strict", bool, "a boolean"),
    ):
        if function.get(key) is not None:
            expect_type(function[key], kind, f"{where}.{key}", expected)
    return {**function, "strict": function.get("strict") or False}


def _file_search(settings: Any, tool: str) -> dict[str, Any]:
    where = f"{tool}.file_search"
    settings = {} if settings is None else settings
    expect_type(settings, dict, where, "an object")
    reject_unknown(settings, ("max_num_results", "ranking_options"))
    if settings.get("max_num_results") is not None:
        expect_type(settings["max_num_results"], int, f"{where}.max_num_results", "an integer")
    optional_number(settings, "max_num_results", 1, 50, f"{where}.max_num_results")
    ranking = settings.get("ranking_options") or {}
    expect_type(ranking, dict, f"{where}.ranking_options", "an object")
    reject_unknown(ranking, ("ranker", "score_threshold"))
    ranker = one_of(
        ranking.get("ranker", DEFAULT_RANKER), f"{where}.ranking_options.ranker", RANKERS
    )
    threshold = optional_number(
        ranking, "score_threshold", 0, 1, f"{where}.ranking_options.score_threshold"
    )
    ranking_options = {"ranker": ranker, "score_threshold": threshold or 0.0}
    return {**settings, "ranking_options": ranking_options}


def validate_response_format(value: Any) -> Any:
    if value is None or value == "auto":
        return "auto"
    expect_type(value, dict, "response_format", "an object or 'auto'")
    kind = one_of(value.get("type"), "response_format.type", ("text", "json_object", "json_schema"))
    if kind != "json_schema":
        reject_unknown(value, ("type",))
        return value
    reject_unknown(value, ("type", "json_schema"))
    if value.get("json_schema") is None:
        raise InvalidRequest(
            "Missing required parameter: 'response_format.json_schema'.",
            "response_format.json_schema",
        )
    validate_json_schema_format(value["json_schema"], "response_format.json_schema")
    return value


def assistant_fields(body: Body) -> Body:
    """The fields present in ``body``, validated, in the order the API checks them
    (``tool_resources`` aside: see ``parse_tool_resources``)."""
    fields: Body = {}
    if "model" in body:
        model = require(body, "model")
        expect_type(model, str, "model", "a string")
        fields["model"] = model
    if "name" in body:
        fields["name"] = optional_string(body, "name", MAX_NAME)
    if "description" in body:
        fields["description"] = optional_string(body, "description", MAX_DESCRIPTION)
    if "instructions" in body:
        fields["instructions"] = optional_string(body, "instructions", MAX_INSTRUCTIONS)
    if "tools" in body:
        fields["tools"] = validate_tools(body["tools"])
    if "metadata" in body:
        fields["metadata"] = validate_metadata(body["metadata"])
    if "temperature" in body:
        fields["temperature"] = optional_number(body, "temperature", 0, 2)
    if "top_p" in body:
        fields["top_p"] = optional_number(body, "top_p", 0, 1)
    if "response_format" in body:
        fields["response_format"] = validate_response_format(body["response_format"])
    if "reasoning_effort" in body and body["reasoning_effort"] is not None:
        fields["reasoning_effort"] = one_of(
            body["reasoning_effort"], "reasoning_effort", REASONING_EFFORTS
        )
    return fields


def _tool_resources(account: Account, body: Body) -> ToolResources | None:
    if "tool_resources" not in body:
        return None
    return parse_tool_resources(account, body["tool_resources"])


def create(request: Request, body: Body) -> Body:
    reject_unknown(body, EDITABLE)
    require(body, "model")
    account = account_of(request)
    fields = assistant_fields(body)
    return account.assistants.create(fields, _tool_resources(account, body))


def list_assistants(request: Request, body: Body) -> JsonText:
    return account_of(request).assistants.page(page_request(request))


def retrieve(request: Request, body: Body) -> JsonText:
    return account_of(request).assistants.get_json(request.path_params["assistant_id"])


def modify(request: Request, body: Body) -> Body:
    reject_unknown(body, EDITABLE)
    account = account_of(request)
    with account.transaction():
        assistant = account.assistants.get(request.path_params["assistant_id"])
        fields = assistant_fields(body)
        return account.assistants.update(assistant, fields, _tool_resources(account, body))


def delete(request: Request, body: Body) -> Body:
    assistant_id = request.path_params["assistant_id"]
    account_of(request).assistants.delete(assistant_id)
    return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}


def routes() -> list[Route]:
    return [
        Route("/v1/assistants", endpoint(create), methods=["POST"]),
        Route("/v1/assistants", endpoint(list_assistants, inline=True), methods=["GET"]),
        Route("/v1/assistants/{assistant_id}", endpoint(retrieve, inline=True), methods=["GET"]),
        Route("/v1/assistants/{assistant_id}", endpoint(modify), methods=["POST"]),
        Route("/v1/assistants/{assistant_id}", endpoint(delete), methods=["DELETE"]),
    ]
