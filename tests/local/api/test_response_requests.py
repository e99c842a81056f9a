"""Malformed ``/v1/responses`` and ``/v1/conversations`` bodies, field by field and nested: each
is a 400 or 404 with the API's error body and the ``param`` at fault, never a 500, and nothing
is created."""

from __future__ import annotations

import itertools

import httpx2
import pytest

from assistctl.local import LocalConfig, start_in_process

WRONG_VALUES = [None, True, 7, -1, 2.5, "text", [], [1], {}, {"x": 1}]
TOP_LEVEL = [
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
]
FUNCTION = {"type": "function", "name": "f", "parameters": {"type": "object"}}
NESTED = [
    {"tools": [{"type": "function"}]},
    {"tools": [{**FUNCTION, "name": "bad name!"}]},
    {"tools": [{**FUNCTION, "parameters": "x"}]},
    {"tools": [{**FUNCTION, "strict": "yes"}]},
    {"tools": [{**FUNCTION, "colour": 1}]},
    {"tools": [{"type": "file_search"}]},
    {"tools": [{"type": "file_search", "vector_store_ids": "vs_1"}]},
    {"tools": [{"type": "file_search", "vector_store_ids": [1]}]},
    {"tools": [{"type": "file_search", "vector_store_ids": ["a", "b", "c"]}]},
    {"tools": [{"type": 5}]},
    {"tools": [{"type": "code_interpreter"}]},
    {"tools": [{"type": "code_interpreter", "container": {"type": "fast"}}]},
    {"tools": [{"type": "code_interpreter", "container": {"type": "auto", "file_ids": "f"}}]},
    {"tools": [{"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["no"]}}]},
    {"tools": [FUNCTION], "tool_choice": {"type": "function"}},
    {"tools": [FUNCTION], "tool_choice": {"type": "allowed_tools", "mode": "auto"}},
    {"tools": [FUNCTION], "tool_choice": {"type": "allowed_tools", "mode": "x", "tools": []}},
    {"tools": [FUNCTION], "tool_choice": {"type": "mcp"}},
    {"text": {"format": {"type": "json_schema"}}},
    {"text": {"format": {"type": "json_schema", "name": "n", "schema": 5}}},
    {"text": {"format": {"type": "json_schema", "name": "n", "schema": {}, "strict": 1}}},
    {"text": {"format": {"type": "xml"}}},
    {"text": {"verbosity": "loud"}},
    {"reasoning": {"effort": "huge"}},
    {"reasoning": {"summary": 3}},
    {"conversation": {"id": 5}},
    {"conversation": {"name": "c"}},
    {"include": ["everything"]},
    {"include": "file_search_call.results"},
    {"stream_options": {"include_obfuscation": True}},
    {"metadata": {"k": 5}},
    {"metadata": {"k" * 65: "v"}},
    {"input": [5]},
    {"input": [{"type": "message"}]},
    {"input": [{"role": "user"}]},
    {"input": [{"role": "user", "content": 5}]},
    {"input": [{"role": "user", "content": [{"type": "output_text", "text": "x"}]}]},
    {"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
    {"input": [{"role": "user", "content": [{"type": "input_text", "text": 5}]}]},
    {"input": [{"role": "user", "content": [{"type": "input_image"}]}]},
    {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "no"}]}]},
    {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": 5}]}]},
    {"input": [{"role": "user", "content": [{"type": "input_file"}]}]},
    {"input": [{"role": "user", "content": [{"type": "input_file", "file_data": "%%%"}]}]},
    {"input": [{"role": "assistant", "content": [{"type": "input_image", "image_url": "x"}]}]},
    {"input": [{"role": "user", "content": "x", "status": "done"}]},
    {"input": [{"type": "function_call"}]},
    {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]},
    {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]},
    {"input": [{"type": "function_call_output", "call_id": "c"}]},
    {"input": [{"type": "function_call_output", "call_id": "c", "output": 5}]},
    {"input": [{"type": "function_call_output", "call_id": "c", "output": [{"type": "x"}]}]},
    {"input": [{"type": "reasoning", "summary": [{"type": "summary_text"}]}]},
    {"input": [{"type": "file_search_call", "queries": ["q"]}]},
    {"input": [{"type": "code_interpreter_call", "id": "ci_1", "status": "broken"}]},
    {"input": [{"type": "item_reference", "id": "msg_1"}]},
    {"input": [{"type": "computer_call_output", "call_id": "c"}]},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One account and one HTTP client for every case: a refused request writes nothing."""
    with (
        start_in_process(tmp_path_factory.mktemp("account"), config=LocalConfig()) as served,
        httpx2.Client(base_url=served.root_url, timeout=10) as http,
    ):
        yield http


def post(http, path, body):
    return http.post(path, json=body)


def assert_api_error(answer, body):
    assert answer.status_code in (400, 404), (body, answer.status_code, answer.text)
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, body
    assert error["type"] == "invalid_request_error" and error["message"], body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (field, value)
        for field, value in itertools.product(TOP_LEVEL, WRONG_VALUES)
        if value is not None
    ],
)
def test_wrong_top_level_values_are_api_errors_not_500s(server, field, value):
    body = {"model": "gpt-4o", "input": "hi", field: value}
    answer = post(server, "/v1/responses", body)
    if answer.status_code == 200:  # a value the field takes (e.g. an empty tools list)
        return
    assert_api_error(answer, body)


@pytest.mark.parametrize("fields", NESTED)
def test_wrong_nested_values_are_api_errors_with_their_param(server, fields):
    body = {"model": "gpt-4o", "input": "hi", **fields}
    answer = post(server, "/v1/responses", body)
    assert_api_error(answer, body)
    param = answer.json()["error"]["param"]
    assert param is None or param.split(".")[0].split("[")[0] in fields, (param, fields)


@pytest.mark.parametrize("items", [5, [5], [{"role": "user"}], [{"type": "nope"}], "text"])
def test_wrong_conversation_items_are_api_errors(server, items):
    assert_api_error(post(server, "/v1/conversations", {"items": items}), items)
    created = post(server, "/v1/conversations", {}).json()
    path = f"/v1/conversations/{created['id']}/items"
    assert_api_error(post(server, path, {"items": items}), items)
    assert_api_error(post(server, path, {}), {})
    assert_api_error(post(server, f"/v1/conversations/{created['id']}", {}), {})
