"""Poisoned input: every string field of every write request fuzzed with a lone UTF-16
surrogate, every number with NaN/Infinity. Each is refused (400) at parse time, and every list
still renders afterwards — also across a restart."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from assistctl.local import LocalConfig, start_in_process
from assistctl.local.storage import Store, Unrenderable
from tests.local.tools import GET_ORDER, indexed_store, stored_objects

SURROGATE = "\ud800"
NON_FINITE = (math.nan, math.inf, -math.inf)
ATTRIBUTES = {"team": "support", "rank": 2.5, "public": True}


def requests(ids: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Every write request of the API with each of its string and number fields filled."""
    thread, message, store, file = ids["thread"], ids["message"], ids["store"], ids["file"]
    message_body = {"role": "user", "content": "Where is 42?", "metadata": {"k": "v"}}
    parts = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
    ]
    function = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "a city"}},
                "required": ["city"],
            },
            "strict": False,
        },
    }
    search_tool = {
        "type": "file_search",
        "file_search": {
            "max_num_results": 5,
            "ranking_options": {"ranker": "auto", "score_threshold": 0.5},
        },
    }
    return [
        (
            "/assistants",
            {
                "model": "gpt-4o",
                "name": "n",
                "description": "d",
                "instructions": "i",
                "tools": [function, search_tool],
                "metadata": {"team": "support"},
                "temperature": 1.0,
                "top_p": 0.5,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": {"type": "object"}},
                },
                "reasoning_effort": "low",
            },
        ),
        (f"/assistants/{ids['assistant']}", {"name": "m", "metadata": {"a": "b"}, "top_p": 1}),
        (
            "/threads",
            {
                "messages": [message_body, {"role": "user", "content": parts}],
                "metadata": {"k": "v"},
            },
        ),
        (f"/threads/{thread}", {"metadata": {"k": "v"}}),
        (f"/threads/{thread}/messages", message_body),
        (f"/threads/{thread}/messages/{message}", {"metadata": {"k": "v"}}),
        (
            f"/threads/{thread}/runs",
            {
                "assistant_id": ids["assistant"],
                "instructions": "i",
                "additional_instructions": "more",
                "additional_messages": [message_body],
                "metadata": {"k": "v"},
                "temperature": 0.5,
                "top_p": 0.5,
                "max_prompt_tokens": 1000,
                "truncation_strategy": {"type": "last_messages", "last_messages": 5},
                "tools": [function],
            },
        ),
        (
            "/threads/runs",
            {
                "assistant_id": ids["assistant"],
                "thread": {"messages": [message_body], "metadata": {"k": "v"}},
                "temperature": 0.5,
            },
        ),
        (
            "/vector_stores",
            {
                "name": "n",
                "description": "d",
                "metadata": {"k": "v"},
                "expires_after": {"anchor": "last_active_at", "days": 1},
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50},
                },
            },
        ),
        (f"/vector_stores/{store}", {"name": "n", "metadata": {"k": "v"}}),
        (f"/vector_stores/{store}/files", {"file_id": file, "attributes": ATTRIBUTES}),
        (f"/vector_stores/{store}/files/{file}", {"attributes": ATTRIBUTES}),
        (f"/vector_stores/{store}/file_batches", {"file_ids": [file], "attributes": ATTRIBUTES}),
        (
            f"/vector_stores/{store}/search",
            {
                "query": "order",
                "filters": {"type": "gte", "key": "rank", "value": 1.5},
                "max_num_results": 5,
                "ranking_options": {"score_threshold": 0.1},
            },
        ),
    ]


def poisoned(value: Any) -> Iterator[tuple[str, Any]]:
    """``(where, variant)`` for each string (value and key) and number in ``value``, each
    variant being ``value`` with that one leaf poisoned."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield f".{key}!key", {**value, key + SURROGATE: child}
            for where, variant in poisoned(child):
                yield f".{key}{where}", {**value, key: variant}
    elif isinstance(value, list):
        for index, child in enumerate(value):
            for where, variant in poisoned(child):
                yield f"[{index}]{where}", [*value[:index], variant, *value[index + 1 :]]
    elif isinstance(value, str):
        yield "", value + SURROGATE
        yield "", SURROGATE
    elif isinstance(value, int | float) and not isinstance(value, bool):
        for number in NON_FINITE:
            yield "", number


def post_raw(base_url: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    """POST ``body`` as Python's json writes it (NaN, Infinity, \\ud800 escapes)."""
    request = urllib.request.Request(base_url + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def every_list(client: openai.OpenAI, ids: dict[str, str]) -> None:
    """Read every list the fuzzed requests could have written to (the SDK parses each)."""
    client.beta.assistants.list(limit=100)
    client.beta.threads.messages.list(ids["thread"], limit=100)
    client.beta.threads.runs.list(ids["thread"], limit=100)
    client.vector_stores.list(limit=100)
    client.vector_stores.files.list(ids["store"], limit=100)
    client.files.list()


@pytest.fixture
def seeded(tmp_path, database):
    data = tmp_path / "account"
    server = start_in_process(data, config=LocalConfig(database=database))
    client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
    file, store = indexed_store(client, tmp_path / "orders.md", "Order 42 shipped on Monday.")
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[GET_ORDER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    message = client.beta.threads.messages.list(thread.id).data[0]
    ids = {
        "assistant": assistant.id,
        "thread": thread.id,
        "message": message.id,
        "store": store.id,
        "file": file.id,
    }
    yield server, client, ids, data
    server.stop()


def test_every_string_and_number_field_refuses_surrogates_and_non_finite_numbers(seeded):
    server, client, ids, data = seeded
    tried = 0
    for path, body in requests(ids):
        status, answer = post_raw(server.base_url, path, body)
        assert status == 200, (path, body)  # the unpoisoned request is valid
        if answer.get("object") == "thread.run":  # settled, so only a poisoned write could
            client.beta.threads.runs.poll(answer["id"], thread_id=answer["thread_id"])
        rows_before = stored_objects(server)
        for where, variant in poisoned(body):
            status, answer = post_raw(server.base_url, path, variant)
            assert status == 400, f"POST {path} with {where} poisoned answered {status}"
            assert answer["error"]["type"] == "invalid_request_error"
            tried += 1
        assert stored_objects(server) == rows_before, path
    assert tried > 150
    every_list(client, ids)
    server.stop()
    restarted = start_in_process(data, config=LocalConfig(database=server.database))
    try:
        every_list(openai.OpenAI(api_key="k", base_url=restarted.base_url, max_retries=0), ids)
    finally:
        restarted.stop()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"model": "gpt-4o", "temperature": NaN}', "finite"),
        (b'{"model": "gpt-4o", "temperature": 1e999}', "finite"),
        (b'{"model": "gpt-4o", "name": "\\udc00"}', "surrogate"),
        (b'{"model": "gpt-4o", "metadata": {"\\ud800": "x"}}', "surrogate"),
    ],
)
def test_the_refusal_says_what_is_wrong(local_server, raw, reason):
    request = urllib.request.Request(local_server.base_url + "/assistants", data=raw)
    request.add_header("Content-Type", "application/json")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert reason in json.loads(refused.value.read())["error"]["message"]


def test_a_paired_surrogate_is_ordinary_text(client):
    """An emoji sent as its UTF-16 escape pair (as JavaScript's JSON.stringify may) is fine."""
    assistant = client.beta.assistants.create(model="gpt-4o", name="\U0001f600 bot")
    assert client.beta.assistants.retrieve(assistant.id).name == "\U0001f600 bot"


@pytest.mark.parametrize("bad", [{"temperature": math.nan}, {"name": "x" + SURROGATE}])
def test_the_store_refuses_what_it_could_not_answer_back(bad):
    store = Store(None)
    try:
        with pytest.raises(Unrenderable):
            store.insert("assistant", {"id": "asst_1", **bad})
        assert store.get("assistant", "asst_1") is None
        store.insert("assistant", {"id": "asst_2"})
        with pytest.raises(Unrenderable):
            store.put("assistant", {"id": "asst_2", **bad})
        assert store.get("assistant", "asst_2") == {"id": "asst_2"}
    finally:
        store.close()
