"""Every request field's type and enumeration, checked as the API does and against the SDK's
own current types: what the SDK may send is accepted, what the API refuses is a 400 and is
never stored."""

from __future__ import annotations

import typing

import openai
import pytest
from openai.types.beta.threads.image_url_param import ImageURLParam
from openai.types.shared.reasoning_effort import ReasoningEffort

from tests.local.tools import indexed_store

EFFORTS = list(typing.get_args(typing.get_args(ReasoningEffort)[0]))
DETAILS = list(typing.get_args(typing.get_type_hints(ImageURLParam)["detail"]))
assert EFFORTS and DETAILS


@pytest.mark.parametrize("effort", EFFORTS)
def test_every_reasoning_effort_the_sdk_allows_is_accepted(client, effort):
    assistant = client.beta.assistants.create(model="o3", reasoning_effort=effort)
    assert client.beta.assistants.retrieve(assistant.id).reasoning_effort == effort
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, reasoning_effort=effort
    )
    assert run.reasoning_effort == effort


def test_an_unknown_reasoning_effort_is_refused(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.assistants.create(model="o3", reasoning_effort="extreme")  # type: ignore[arg-type]
    assert refused.value.body["param"] == "reasoning_effort"


@pytest.mark.parametrize("detail", DETAILS)
def test_every_image_detail_the_sdk_allows_is_accepted(client, detail):
    thread = client.beta.threads.create()
    part = {
        "type": "image_url",
        "image_url": {"url": "https://example.com/a.png", "detail": detail},
    }
    message = client.beta.threads.messages.create(thread.id, role="user", content=[part])
    assert message.content[0].image_url.detail == detail


SCHEMA = {"name": "answer", "schema": {"type": "object"}}


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        ({"type": "json_schema", "json_schema": {**SCHEMA, "strict": {}}}, "strict"),
        ({"type": "json_schema", "json_schema": {**SCHEMA, "schema": "object"}}, "schema"),
        ({"type": "json_schema", "json_schema": {**SCHEMA, "name": "has space"}}, "name"),
        ({"type": "json_schema", "json_schema": {**SCHEMA, "name": "x" * 65}}, "name"),
        ({"type": "json_schema", "json_schema": {**SCHEMA, "description": 5}}, "description"),
        ({"type": "json_schema", "json_schema": {**SCHEMA, "extra": 1}}, "extra"),
        ({"type": "json_schema"}, "json_schema"),
        ({"type": "json_object", "json_schema": SCHEMA}, "json_schema"),
    ],
)
def test_response_format_fields_are_checked(client, response_format, param):
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.assistants.create(model="gpt-4o", response_format=response_format)
    assert param in (refused.value.body["param"] or "") + refused.value.body["message"]
    assert client.beta.assistants.list().data == []


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "AAA"}},
        {"type": "image_url", "image_url": {"url": "https://x/a.png", "size": 1}},
        {"type": "text", "text": "hi", "annotations": []},
    ],
)
def test_content_part_fields_are_checked(client, part):
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.messages.create(thread.id, role="user", content=[part])
    assert client.beta.threads.messages.list(thread.id).data == []


def test_an_image_file_detail_is_checked(client, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG\r\n")
    image = client.files.create(file=path.open("rb"), purpose="vision")
    thread = client.beta.threads.create()
    part = {"type": "image_file", "image_file": {"file_id": image.id, "detail": "AAA"}}
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.threads.messages.create(thread.id, role="user", content=[part])
    assert refused.value.body["param"].endswith("image_file.detail")


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "function", "function": {"name": "f", "paramaters": {}}},
        {"type": "function", "function": {"name": "f"}, "extra": True},
        {"type": "file_search", "file_search": {"max_num_results": 2.5}},
        {"type": "file_search", "file_search": {"ranking_options": {"ranker": "auto", "x": 1}}},
    ],
)
def test_tool_fields_are_checked(client, tool):
    with pytest.raises(openai.BadRequestError):
        client.beta.assistants.create(model="gpt-4o", tools=[tool])


@pytest.mark.parametrize(
    "fields",
    [
        {"rewrite_query": "yes"},
        {"filters": {"type": "eq", "key": "k", "value": {"nested": 1}}},
        {"filters": {"type": "in", "key": "k", "value": [[1]]}},
        {"filters": {"type": "and", "filters": [], "key": "k"}},
    ],
)
def test_search_fields_are_checked(client, tmp_path, fields):
    _, store = indexed_store(client, tmp_path / "a.md", "alpha")
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.search(store.id, query="alpha", **fields)
