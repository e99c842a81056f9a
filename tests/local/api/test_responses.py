"""``/v1/responses`` through the SDK over real HTTP: every body checked by the SDK's own types in
strict mode (and against the Open Responses specification's required fields), the typed event
stream, ``parse``, ``store: false``, input items, and the API's errors for bad requests."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from openai.types.responses import ResponseItem
from pydantic import BaseModel, ConfigDict

from ..tools import GET_ORDER, sse_events, strict_event, strict_response, strictly

ORDER_TOOL = {"type": "function", **GET_ORDER["function"]}
STREAM_SEQUENCE = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def create_raw(client, **body):
    raw = client.responses.with_raw_response.create(**body)
    return strict_response(json.loads(raw.text))


def post_stream(local_server, body):
    with httpx2.Client(base_url=local_server.root_url, timeout=10) as http:
        answer = http.post("/v1/responses", json={**body, "stream": True})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in answer.text  # the Responses API just ends after the final event
    return [strict_event(event) for event in sse_events(answer)]


def test_plain_answer_carries_every_field_and_validates_strictly(client):
    response = create_raw(client, model="gpt-4o-mini", input="Hello there", instructions="Hi.")
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.status == "completed" and response.completed_at >= response.created_at
    assert response.output_text == '[Assistant] You said: "Hello there"'
    (message,) = response.output
    assert message.type == "message" and message.role == "assistant"
    assert message.status == "completed" and message.id.startswith("msg_")
    assert message.content[0].annotations == []
    assert response.usage.input_tokens == 3 and response.usage.output_tokens == 5
    assert response.usage.total_tokens == 8
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert (response.model, response.instructions) == ("gpt-4o-mini", "Hi.")
    assert response.tools == [] and response.tool_choice == "auto"
    assert response.parallel_tool_calls is True and response.background is False
    assert (response.temperature, response.top_p, response.top_logprobs) == (1.0, 1.0, 0)
    assert response.truncation == "disabled" and response.service_tier == "default"
    assert response.text.format.type == "text" and response.text.verbosity == "medium"
    assert response.reasoning.effort is None and response.error is None
    assert response.model_extra == {
        "store": True,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
    }
    again = strict_response(
        json.loads(client.responses.with_raw_response.retrieve(response.id).text)
    )
    assert again == response


def test_settings_are_shown_as_given(client):
    response = create_raw(
        client,
        model="gpt-4o",
        input="Hi",
        metadata={"team": "support"},
        temperature=0.2,
        top_p=0.5,
        max_output_tokens=100,
        max_tool_calls=3,
        truncation="auto",
        reasoning={"effort": "low", "summary": "auto"},
        text={"verbosity": "low"},
        user="user-1",
        safety_identifier="hash-1",
        prompt_cache_key="cache-1",
        prompt_cache_retention="24h",
        parallel_tool_calls=False,
        service_tier="auto",
        tools=[ORDER_TOOL],
        tool_choice="none",
        extra_body={"presence_penalty": 0.5, "frequency_penalty": -0.5},
    )
    assert response.metadata == {"team": "support"}
    assert (response.temperature, response.top_p) == (0.2, 0.5)
    assert (response.max_output_tokens, response.max_tool_calls) == (100, 3)
    assert response.truncation == "auto" and response.parallel_tool_calls is False
    assert (response.reasoning.effort, response.reasoning.summary) == ("low", "auto")
    assert response.text.verbosity == "low" and response.service_tier == "default"
    assert (response.user, response.safety_identifier) == ("user-1", "hash-1")
    assert (response.prompt_cache_key, response.prompt_cache_retention) == ("cache-1", "24h")
    assert response.model_extra["presence_penalty"] == 0.5
    assert response.model_extra["frequency_penalty"] == -0.5
    (tool,) = response.tools  # its parameters break the strict rules, so it is not strict
    assert (tool.type, tool.name, tool.strict) == ("function", "get_order", False)
    assert response.tool_choice == "none" and response.output[0].type == "message"


def test_functions_are_strict_when_their_parameters_allow_it(client):
    closed = {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
        "additionalProperties": False,
    }
    tools = [
        {"type": "function", "name": "closed", "parameters": closed},
        {"type": "function", "name": "loose", "parameters": GET_ORDER["function"]["parameters"]},
        {"type": "function", "name": "asked", "parameters": closed, "strict": False},
    ]
    response = client.responses.create(model="gpt-4o", input="hi", tools=tools)
    assert [tool.strict for tool in response.tools] == [True, False, False]


def test_stream_sends_the_typed_events_in_order(client, local_server):
    with client.responses.stream(model="gpt-4o", input="Stream a long enough answer please") as s:
        events = list(s)
        final = s.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:4] == STREAM_SEQUENCE[:4] and kinds[-4:] == STREAM_SEQUENCE[-4:]
    assert kinds[4:-4] == ["response.output_text.delta"] * 2  # a few words per delta
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert (
        deltas == final.output_text == '[Assistant] You said: "Stream a long enough answer please"'
    )
    stored = client.responses.retrieve(final.id)
    assert stored.status == "completed" and stored.output_text == final.output_text

    raw = post_stream(local_server, {"model": "gpt-4o", "input": "raw"})
    assert [event.type for event in raw] == STREAM_SEQUENCE
    item_ids = {event.item_id for event in raw if hasattr(event, "item_id")}
    assert item_ids == {raw[-1].response.output[0].id}


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str
    confidence: int


def test_parse_with_a_pydantic_model_uses_a_strict_json_schema(client):
    parsed = client.responses.parse(model="gpt-4o", input="Is the sky blue?", text_format=Answer)
    assert parsed.output_parsed == Answer(
        answer='[Assistant] You said: "Is the sky blue?"', confidence=0
    )
    assert parsed.text.format.type == "json_schema" and parsed.text.format.strict is True
    assert parsed.text.format.name == "Answer"
    with client.responses.stream(model="gpt-4o", input="stream it", text_format=Answer) as s:
        assert s.get_final_response().output_parsed.answer == '[Assistant] You said: "stream it"'
    raw = json.loads(
        client.responses.with_raw_response.create(
            model="gpt-4o", input="json please", text={"format": {"type": "json_object"}}
        ).text
    )
    assert json.loads(strict_response(raw).output_text) == {
        "answer": '[Assistant] You said: "json please"'
    }


def test_store_false_is_not_kept_nor_continued_but_works_statelessly(client):
    first = client.responses.create(
        model="gpt-4o", input="Where is order 123?", tools=[ORDER_TOOL], store=False
    )
    assert first.model_extra["store"] is False
    (call,) = first.output
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve(first.id)
    assert missing.value.body["message"] == f"Response with id '{first.id}' not found."
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="gpt-4o", input="more", previous_response_id=first.id)
    assert refused.value.code == "previous_response_not_found"
    assert refused.value.param == "previous_response_id"
    # Stateless: the client sends the whole context back itself.
    second = client.responses.create(
        model="gpt-4o",
        store=False,
        tools=[ORDER_TOOL],
        input=[
            {"role": "user", "content": "Where is order 123?"},
            call.model_dump(exclude_none=True),
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": '{"status": "late"}',
            },
        ],
    )
    assert second.output_text == "Here is what get_order returned: status: late."


def test_input_items_are_paged_like_every_list(client):
    inputs = [{"role": "user", "content": f"message {n}"} for n in range(5)]
    response = client.responses.create(model="gpt-4o", input=inputs)
    page = client.responses.input_items.list(response.id, limit=2)
    assert len(page.data) == 2 and page.has_more
    newest_first = [item.content[0].text for item in page]  # the SDK follows `after`
    assert newest_first == [f"message {n}" for n in reversed(range(5))]
    raw = client.responses.input_items.with_raw_response.list(response.id, order="asc", limit=5)
    body = json.loads(raw.text)
    items = [strictly(ResponseItem, item) for item in body["data"]]
    assert [item.content[0].text for item in items] == [f"message {n}" for n in range(5)]
    assert body["first_id"] == items[0].id and body["has_more"] is False
    assert all(item.status == "completed" and item.role == "user" for item in items)
    with pytest.raises(openai.BadRequestError, match="no object with id 'msg_nope'"):
        client.responses.input_items.list(response.id, after="msg_nope")


def test_delete_and_missing_responses(client):
    response = client.responses.create(model="gpt-4o", input="bye")
    client.responses.delete(response.id)
    for call in (client.responses.retrieve, client.responses.delete):
        with pytest.raises(openai.NotFoundError) as missing:
            call(response.id)
        assert missing.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(response.id)


@pytest.mark.parametrize(
    ("body", "status", "param", "message"),
    [
        ({"input": "x"}, 400, "model", "Missing required parameter: 'model'."),
        ({"model": "m", "input": "x", "colour": 1}, 400, "colour", "Unknown parameter: 'colour'."),
        ({"model": "m", "input": 5}, 400, "input", "Invalid type for 'input'"),
        ({"model": "m", "input": "x", "temperature": "hot"}, 400, "temperature", "a decimal"),
        ({"model": "m", "input": "x", "temperature": 3}, 400, "temperature", "above maximum"),
        ({"model": "m", "input": "x", "max_output_tokens": 8}, 400, "max_output_tokens", ">= 16"),
        ({"model": "m", "input": "x", "store": "yes"}, 400, "store", "a boolean"),
        (
            {
                "model": "m",
                "input": "x",
                "previous_response_id": "resp_a",
                "conversation": "conv_b",
            },
            400,
            None,
            "Mutually exclusive parameters",
        ),
        (
            {"model": "m", "input": "x", "previous_response_id": "resp_missing"},
            400,
            "previous_response_id",
            "Previous response with id 'resp_missing' not found.",
        ),
        (
            {"model": "m", "input": "x", "conversation": "conv_missing"},
            404,
            None,
            "Conversation with id 'conv_missing' not found.",
        ),
        (
            {
                "model": "m",
                "input": [{"type": "function_call_output", "call_id": "c1", "output": "x"}],
            },
            400,
            "input",
            "No tool call found for function call output with call_id c1.",
        ),
        (
            {
                "model": "m",
                "input": "x",
                "tools": [{"type": "file_search", "vector_store_ids": ["vs_no"]}],
            },
            404,
            "tools[0].vector_store_ids",
            "Vector store with id 'vs_no' not found.",
        ),
        (
            {"model": "m", "input": "x", "tools": [{"type": "web_search"}]},
            400,
            "tools[0].type",
            "does not offer the 'web_search' tool",
        ),
        (
            {"model": "m", "input": "x", "include": ["message.output_text.logprobs"]},
            400,
            "include[0]",
            "no log probabilities",
        ),
        ({"model": "m", "input": "x", "top_logprobs": 3}, 400, "top_logprobs", "only 0"),
        (
            {"model": "m", "input": "x", "background": True, "store": False},
            400,
            "background",
            "requires 'store' to be true",
        ),
        (
            {"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "nope"}},
            400,
            "tool_choice.type",
            "Tool choice 'function' not found in 'tools' parameter.",
        ),
        ({"model": "m", "input": "x", "prompt": {"id": "pmpt_1"}}, 400, "prompt", "retired"),
        (
            {
                "model": "m",
                "input": [
                    {"role": "user", "content": [{"type": "input_file", "file_url": "https://x"}]}
                ],
            },
            400,
            "input[0].content[0].file_url",
            "offline",
        ),
        (
            {
                "model": "m",
                "input": "x",
                "tools": [{**ORDER_TOOL, "strict": True}],
            },
            400,
            "tools[0].parameters",
            "'additionalProperties' is required to be supplied and to be false.",
        ),
        (
            {"model": "m", "input": [{"role": "robot", "content": "x"}]},
            400,
            "input[0].role",
            "Invalid value: 'robot'.",
        ),
    ],
)
def test_bad_requests_get_the_api_errors(client, body, status, param, message):
    with pytest.raises(openai.APIStatusError) as raised:
        client.post("/responses", body=body, cast_to=object)
    error = raised.value
    assert error.status_code == status
    assert set(error.body) == {"message", "type", "param", "code"}
    assert error.body["type"] == "invalid_request_error"
    assert error.body["param"] == param
    assert message in error.body["message"]


def test_only_background_responses_are_streamed_again(client, local_server):
    response = client.responses.create(model="gpt-4o", input="x")
    with pytest.raises(openai.BadRequestError, match="not created with background=true") as raised:
        client.responses.retrieve(response.id, stream=True)
    assert raised.value.param == "stream"
    with httpx2.Client(base_url=local_server.root_url, timeout=10) as http:
        answer = http.get(f"/v1/responses/{response.id}?stream=true&starting_after=-1")
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "starting_after"
