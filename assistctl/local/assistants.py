"""``/v1/assistants``: create, list, retrieve, modify, delete, validated as the API does."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.domain.records import new_id, now
from assistctl.local.http import (
    account_of,
    bad_request,
    check_array_length,
    endpoint,
    expect_type,
    get_or_404,
    list_params,
    not_found,
    one_of,
    optional_number,
    optional_string,
    page,
    reject_unknown,
    require,
    validate_metadata,
)

TYPE = "assistant"
MAX_TOOLS = 128
MAX_NAME = 256
MAX_DESCRIPTION = 512
MAX_INSTRUCTIONS = 256_000
MAX_CODE_INTERPRETER_FILES = 20
MAX_VECTOR_STORES = 1
TOOL_TYPES = ("code_interpreter", "function", "file_search")
RANKERS = ("auto", "default_2024_08_21")
DEFAULT_RANKER = "auto"
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
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
    expect_type(value, list, param, "an array")
    check_array_length(value, param, MAX_TOOLS)
    tools = []
    for index, tool in enumerate(value):
        where = f"{param}[{index}]"
        expect_type(tool, dict, where, "an object")
        kind = one_of(tool.get("type"), f"{where}.type", TOOL_TYPES)
        if kind == "function":
            tool = {**tool, "function": _function(tool.get("function"), f"{where}.function")}
        elif kind == "file_search":
            tool = {**tool, "file_search": _file_search(tool.get("file_search"), where)}
        tools.append(tool)
    return tools


def _function(function: Any, where: str) -> dict[str, Any]:
    if function is None:
        raise bad_request(f"Missing required parameter: '{where}'.", param=where)
    expect_type(function, dict, where, "an object")
    name = function.get("name")
    if name is None:
        raise bad_request(f"Missing required parameter: '{where}.name'.", param=f"{where}.name")
    expect_type(name, str, f"{where}.name", "a string")
    if not FUNCTION_NAME.match(name):
        raise bad_request(
            f"Invalid '{where}.name': string does not match pattern. Expected a string that "
            "matches the pattern '^[a-zA-Z0-9_-]+$' (1-64 characters).",
            param=f"{where}.name",
        )
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
    optional_number(settings, "max_num_results", 1, 50, f"{where}.max_num_results")
    ranking = settings.get("ranking_options") or {}
    expect_type(ranking, dict, f"{where}.ranking_options", "an object")
    ranker = one_of(
        ranking.get("ranker", DEFAULT_RANKER), f"{where}.ranking_options.ranker", RANKERS
    )
    threshold = optional_number(
        ranking, "score_threshold", 0, 1, f"{where}.ranking_options.score_threshold"
    )
    ranking_options = {"ranker": ranker, "score_threshold": threshold or 0.0}
    return {**settings, "ranking_options": ranking_options}


def validate_tool_resources(account, value: Any, param: str = "tool_resources") -> dict[str, Any]:
    """``code_interpreter.file_ids`` (≤ 20, existing files) and ``file_search.vector_store_ids``
    (≤ 1, existing stores); ``file_search.vector_stores`` creates the store on the fly."""
    if value is None:
        return {}
    expect_type(value, dict, param, "an object")
    reject_unknown(value, ("code_interpreter", "file_search"))
    resources: dict[str, Any] = {}
    code = value.get("code_interpreter")
    if code is not None:
        expect_type(code, dict, f"{param}.code_interpreter", "an object")
        file_ids = code.get("file_ids") or []
        where = f"{param}.code_interpreter.file_ids"
        expect_type(file_ids, list, where, "an array")
        check_array_length(file_ids, where, MAX_CODE_INTERPRETER_FILES)
        for file_id in file_ids:
            if not isinstance(file_id, str) or account.store.get("file", file_id) is None:
                raise bad_request(f"Invalid '{where}': no file found with id '{file_id}'.", where)
        resources["code_interpreter"] = {"file_ids": list(file_ids)}
    search = value.get("file_search")
    if search is not None:
        expect_type(search, dict, f"{param}.file_search", "an object")
        where = f"{param}.file_search.vector_store_ids"
        store_ids = search.get("vector_store_ids") or []
        expect_type(store_ids, list, where, "an array")
        inline = search.get("vector_stores") or []
        expect_type(inline, list, f"{param}.file_search.vector_stores", "an array")
        if store_ids and inline:
            raise bad_request(
                "Only one of 'vector_store_ids' or 'vector_stores' may be provided.",
                f"{param}.file_search",
            )
        check_array_length(store_ids or inline, where, MAX_VECTOR_STORES)
        for store_id in store_ids:
            if not isinstance(store_id, str) or account.store.get("vector_store", store_id) is None:
                raise bad_request(
                    f"Invalid '{where}': no vector store found with id '{store_id}'.", where
                )
        if inline:
            from assistctl.local.vector_stores import create_vector_store

            store_ids = [
                create_vector_store(account, spec, f"{param}.file_search.vector_stores[{i}]")["id"]
                for i, spec in enumerate(inline)
            ]
        resources["file_search"] = {"vector_store_ids": list(store_ids)}
    return resources


def validate_response_format(value: Any) -> Any:
    if value is None or value == "auto":
        return "auto"
    expect_type(value, dict, "response_format", "an object or 'auto'")
    kind = one_of(value.get("type"), "response_format.type", ("text", "json_object", "json_schema"))
    if kind == "json_schema":
        schema = value.get("json_schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
            raise bad_request(
                "Missing required parameter: 'response_format.json_schema.name'.",
                "response_format.json_schema.name",
            )
    return value


def _apply_fields(account, assistant: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Validate every field present in ``body`` and write it onto ``assistant``."""
    if "model" in body:
        model = require(body, "model")
        expect_type(model, str, "model", "a string")
        assistant["model"] = model
    if "name" in body:
        assistant["name"] = optional_string(body, "name", MAX_NAME)
    if "description" in body:
        assistant["description"] = optional_string(body, "description", MAX_DESCRIPTION)
    if "instructions" in body:
        assistant["instructions"] = optional_string(body, "instructions", MAX_INSTRUCTIONS)
    if "tools" in body:
        assistant["tools"] = validate_tools(body["tools"])
    if "metadata" in body:
        assistant["metadata"] = validate_metadata(body["metadata"])
    if "temperature" in body:
        assistant["temperature"] = optional_number(body, "temperature", 0, 2)
    if "top_p" in body:
        assistant["top_p"] = optional_number(body, "top_p", 0, 1)
    if "response_format" in body:
        assistant["response_format"] = validate_response_format(body["response_format"])
    if "reasoning_effort" in body and body["reasoning_effort"] is not None:
        assistant["reasoning_effort"] = one_of(
            body["reasoning_effort"], "reasoning_effort", ("minimal", "low", "medium", "high")
        )
    if "tool_resources" in body:
        assistant["tool_resources"] = validate_tool_resources(account, body["tool_resources"])
    return assistant


def create(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, EDITABLE)
    require(body, "model")
    account = account_of(request)
    with account.store.transaction():
        assistant = _apply_fields(
            account,
            {
                "id": new_id("asst"),
                "object": "assistant",
                "created_at": now(),
                "name": None,
                "description": None,
                "model": "",
                "instructions": None,
                "tools": [],
                "tool_resources": {},
                "metadata": {},
                "top_p": 1.0,
                "temperature": 1.0,
                "response_format": "auto",
            },
            body,
        )
        return account.store.insert(TYPE, assistant)


def get_assistant(account, assistant_id: str) -> dict[str, Any]:
    """The stored assistant or the API's 404."""
    return get_or_404(account, TYPE, assistant_id, "assistant")


def list_assistants(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    return page(account_of(request).store, TYPE, "", list_params(request))


def retrieve(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    return get_assistant(account_of(request), request.path_params["assistant_id"])


def modify(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, EDITABLE)
    account = account_of(request)
    with account.store.transaction():
        assistant = get_assistant(account, request.path_params["assistant_id"])
        return account.store.put(TYPE, _apply_fields(account, assistant, body))


def delete(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    assistant_id = request.path_params["assistant_id"]
    if not account_of(request).store.delete(TYPE, assistant_id):
        raise not_found("assistant", assistant_id)
    return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}


def routes() -> list[Route]:
    return [
        Route("/v1/assistants", endpoint(create), methods=["POST"]),
        Route("/v1/assistants", endpoint(list_assistants), methods=["GET"]),
        Route("/v1/assistants/{assistant_id}", endpoint(retrieve), methods=["GET"]),
        Route("/v1/assistants/{assistant_id}", endpoint(modify), methods=["POST"]),
        Route("/v1/assistants/{assistant_id}", endpoint(delete), methods=["DELETE"]),
    ]
