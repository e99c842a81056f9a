"""How the local account answers responses: the deterministic engine's documented rules (the
same as for runs), function-call round trips with ``previous_response_id`` and with
``conversation``, file search with citations, background responses and cancel, limits and
failures, through the SDK over real HTTP."""

from __future__ import annotations

import base64
import json
import time

import openai
import pytest

from assistctl.local import LocalConfig, start_in_process

from ...conftest import Admin
from ..tools import GET_ORDER, indexed_store, sse_events, strict_event, strict_response
from .test_documents import pdf_with

ORDER_TOOL = {"type": "function", **GET_ORDER["function"]}


def raw(client, **body):
    return strict_response(json.loads(client.responses.with_raw_response.create(**body).text))


def streamed(client, **body):
    """The events of a streamed response as sent, each checked strictly by the SDK's types;
    the SDK's own stream helper must accept the same stream."""
    raw = client.responses.with_raw_response.create(**body, stream=True)
    raw.http_response.read()
    events = [strict_event(event) for event in sse_events(raw.http_response)]
    with client.responses.stream(**body) as stream:
        assert [event.type for event in stream] == [event.type for event in events]
    return events


def test_function_call_round_trip_with_previous_response_id(client):
    first = raw(client, model="gpt-4o", input="Where is my order 123?", tools=[ORDER_TOOL])
    (call,) = first.output
    assert call.type == "function_call" and call.name == "get_order"
    assert json.loads(call.arguments) == {"order_id": "123"}
    assert call.status == "completed" and call.id.startswith("fc_") and call.call_id
    assert first.status == "completed" and first.output_text == ""
    with pytest.raises(
        openai.BadRequestError, match=f"No tool output found for function call {call.call_id}"
    ):
        client.responses.create(model="gpt-4o", previous_response_id=first.id, input="hm?")

    events = streamed(
        client,
        model="gpt-4o",
        previous_response_id=first.id,
        tools=[ORDER_TOOL],
        input=[
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": json.dumps({"status": "shipped", "eta": "2026-12-01"}),
            }
        ],
    )
    final = events[-1].response
    assert final.output_text == "Here is what get_order returned: status: shipped, eta: 2026-12-01."
    assert final.previous_response_id == first.id and final.instructions is None
    # The chain continues: a third turn sees both earlier turns but answers the new message.
    third = client.responses.create(model="gpt-4o", previous_response_id=final.id, input="thanks")
    assert third.output_text == '[Assistant] You said: "thanks"'
    assert third.usage.input_tokens > final.usage.input_tokens


def test_streamed_function_call_sends_argument_events(client):
    events = streamed(client, model="gpt-4o", input="Where is order 77?", tools=[ORDER_TOOL])
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[3].delta == '{"order_id":"77"}' == events[4].arguments
    assert events[2].item.arguments == "" and events[5].item.arguments == events[4].arguments


def test_function_call_round_trip_with_a_conversation(client):
    conversation = client.conversations.create(metadata={"user": "ada"})
    first = client.responses.create(
        model="gpt-4o", conversation=conversation.id, input="Where is order 9?", tools=[ORDER_TOOL]
    )
    assert first.conversation.id == conversation.id
    (call,) = first.output
    second = client.responses.create(
        model="gpt-4o",
        conversation={"id": conversation.id},
        tools=[ORDER_TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "lost"}],
    )
    assert second.output_text == "Here is what get_order returned: lost."
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [item.type for item in items] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert items[1].id == call.id and items[3].id == second.output[0].id
    assert items[3].content[0].text == second.output_text
    # A failed response adds nothing to the conversation.
    failed = client.responses.create(model="gpt-4o", conversation=conversation.id, input="FAIL_RUN")
    assert failed.status == "failed" and failed.error.code == "server_error"
    assert len(list(client.conversations.items.list(conversation.id))) == 4


def test_file_search_cites_the_file_and_includes_results_when_asked(client, tmp_path):
    uploaded, store = indexed_store(
        client, tmp_path / "returns.md", "Returns are accepted within 30 days of delivery.\n"
    )
    client.files.create(file=("other.md", b"Shipping takes a week."), purpose="assistants")
    tool = {"type": "file_search", "vector_store_ids": [store.id], "max_num_results": 3}
    response = raw(client, model="gpt-4o", input="How many days for returns?", tools=[tool])
    search, message = response.output
    assert search.type == "file_search_call" and search.status == "completed"
    assert search.queries == ["How many days for returns?"] and search.results is None
    text = message.content[0].text
    assert text.startswith('According to returns.md: "Returns are accepted within 30 days')
    (citation,) = message.content[0].annotations
    assert citation.type == "file_citation" and citation.file_id == uploaded.id
    assert citation.filename == "returns.md" and text[citation.index :] == "【0:0†source】"
    assert response.tools[0].ranking_options.ranker == "auto"
    assert response.tools[0].filters is None

    included = client.responses.retrieve(response.id, include=["file_search_call.results"])
    (result,) = included.output[0].results
    assert (result.file_id, result.filename) == (uploaded.id, "returns.md")
    assert 0 < result.score <= 1 and "30 days" in result.text

    events = streamed(
        client,
        model="gpt-4o",
        input="returns days?",
        tools=[tool],
        include=["file_search_call.results"],
    )
    kinds = [e.type for e in events]
    assert kinds[2:7] == [
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
    ]
    assert events[6].item.results[0].file_id == uploaded.id
    annotation = next(e for e in events if e.type == "response.output_text.annotation.added")
    assert annotation.annotation.file_id == uploaded.id and annotation.annotation_index == 0


def test_file_search_filters_and_max_tool_calls(client, tmp_path):
    _, store = indexed_store(client, tmp_path / "returns.md", "Returns take 30 days.\n")
    file_id = client.vector_stores.files.list(store.id).data[0].id
    client.vector_stores.files.update(file_id, vector_store_id=store.id, attributes={"lang": "en"})
    tool = {
        "type": "file_search",
        "vector_store_ids": [store.id],
        "filters": {"type": "eq", "key": "lang", "value": "fr"},
    }
    filtered = client.responses.create(model="gpt-4o", input="returns?", tools=[tool])
    assert filtered.output[0].type == "file_search_call"
    assert "found nothing" in filtered.output_text
    bounded = client.responses.create(
        model="gpt-4o", input="returns?", tools=[{**tool, "filters": None}], max_tool_calls=0
    )
    assert [item.type for item in bounded.output] == ["message"]


def test_background_response_is_queued_then_completes(client):
    response = client.responses.create(model="gpt-4o", input="in the back", background=True)
    assert response.status == "queued" and response.background is True
    deadline = time.monotonic() + 5
    while response.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
        response = client.responses.retrieve(response.id)
    assert response.status == "completed" and response.output_text.endswith('"in the back"')
    assert client.responses.cancel(response.id).status == "completed"  # ended: returned as is
    foreground = client.responses.create(model="gpt-4o", input="now")
    with pytest.raises(openai.BadRequestError, match="background=true"):
        client.responses.cancel(foreground.id)


def test_background_stream_starts_queued(client):
    events = streamed(client, model="gpt-4o", input="bg stream", background=True)
    assert [e.type for e in events[:3]] == [
        "response.created",
        "response.queued",
        "response.in_progress",
    ]
    assert events[0].response.status == "queued" and events[-1].type == "response.completed"


def test_cancel_stops_a_background_response_that_is_still_running(tmp_path):
    """The responses engine against a second local account made slow by its fault injector:
    the background response is still running when it is cancelled, and stays cancelled."""
    with start_in_process(tmp_path / "backend", config=LocalConfig(admin=True)) as backend:
        Admin(backend.root_url).set_faults(latency_ms=800)
        config = LocalConfig(engine="responses", backend_base_url=backend.base_url)
        with start_in_process(tmp_path / "front", config=config) as front:
            client = openai.OpenAI(api_key="x", base_url=front.base_url, max_retries=0)
            response = client.responses.create(model="gpt-4o", input="slow", background=True)
            cancelled = client.responses.cancel(response.id)
            assert cancelled.status == "cancelled"
            time.sleep(1.2)  # the backend answers meanwhile; the answer is dropped
            kept = client.responses.retrieve(response.id)
            assert kept.status == "cancelled" and kept.output == []


def test_a_background_response_is_streamed_again_while_it_runs_and_after(tmp_path):
    with start_in_process(tmp_path / "backend", config=LocalConfig(admin=True)) as backend:
        Admin(backend.root_url).set_faults(latency_ms=400)
        config = LocalConfig(engine="responses", backend_base_url=backend.base_url)
        with start_in_process(tmp_path / "front", config=config) as front:
            client = openai.OpenAI(api_key="x", base_url=front.base_url, max_retries=0)
            response = client.responses.create(
                model="gpt-4o", input="tell me later", background=True
            )
            with client.responses.stream(response_id=response.id) as stream:  # still running
                kinds = [event.type for event in stream]
                final = stream.get_final_response()
            assert final.output_text == '[Assistant] You said: "tell me later"'
            assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]
            assert kinds[-1] == "response.completed"
            resumed = [
                strict_event(event.model_dump(mode="json", exclude_unset=True))
                for event in client.responses.retrieve(response.id, stream=True, starting_after=2)
            ]
            numbers = [event.sequence_number for event in resumed]
            assert numbers == list(range(3, len(kinds)))
            assert [event.type for event in resumed] == kinds[3:]


def test_limits_and_failures(client):
    cut = raw(
        client, model="gpt-4o", input="one two three four five six seven " * 4, max_output_tokens=16
    )
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"
    assert cut.output[0].status == "incomplete" and len(cut.output_text.split()) == 16
    assert cut.completed_at is None
    events = streamed(client, model="gpt-4o", input="FAIL_RUN please")
    assert events[-1].type == "response.failed"
    failed = events[-1].response
    assert failed.status == "failed" and failed.error.code == "server_error"
    assert "FAIL_RUN" in failed.error.message and failed.output == []
    assert client.responses.retrieve(failed.id).status == "failed"


def test_code_interpreter_runs_only_fenced_code(client):
    tool = {"type": "code_interpreter", "container": {"type": "auto"}}
    response = raw(client, model="gpt-4o", input="Please calculate 6 * 7", tools=[tool])
    (message,) = response.output
    assert message.content[0].text.endswith('You said: "Please calculate 6 * 7"')


def test_instructions_system_messages_and_allowed_tools(client):
    weather = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    narrowed = client.responses.create(
        model="gpt-4o",
        input="Where is order 5 and the weather?",
        tools=[ORDER_TOOL, weather],
        tool_choice={
            "type": "allowed_tools",
            "mode": "auto",
            "tools": [{"type": "function", "name": "get_weather"}],
        },
    )
    (call,) = narrowed.output  # get_order matches too, but only get_weather is allowed
    assert (call.type, call.name) == ("function_call", "get_weather")
    assert narrowed.tool_choice.type == "allowed_tools"
    forced = client.responses.create(
        model="gpt-4o",
        input=[
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Hi"},
        ],
        tools=[weather],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    assert forced.output[0].type == "function_call" and forced.output[0].name == "get_weather"
    assert forced.tool_choice.name == "get_weather"


def test_input_files_are_read_as_text(client):
    uploaded = client.files.create(file=("note.txt", b"order 555"), purpose="user_data")
    response = client.responses.create(
        model="gpt-4o",
        tools=[ORDER_TOOL],
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Where is the order in this file?"},
                    {"type": "input_file", "file_id": uploaded.id},
                ],
            }
        ],
    )
    assert json.loads(response.output[0].arguments) == {"order_id": "555"}
    paper = client.files.create(file=("order.pdf", pdf_with("order 808")), purpose="user_data")
    inline = base64.b64encode(pdf_with("order 909")).decode()
    for part, order in (
        ({"type": "input_file", "file_id": paper.id}, "808"),
        (
            {
                "type": "input_file",
                "filename": "inline.pdf",
                "file_data": f"data:application/pdf;base64,{inline}",
            },
            "909",
        ),
    ):
        response = client.responses.create(
            model="gpt-4o",
            tools=[ORDER_TOOL],
            input=[{"role": "user", "content": [{"type": "input_text", "text": "Where?"}, part]}],
        )
        assert json.loads(response.output[0].arguments) == {"order_id": order}
    binary = client.files.create(file=("x.bin", b"\x00\x01"), purpose="user_data")
    with pytest.raises(openai.BadRequestError, match="Invalid input file: x.bin") as refused:
        client.responses.create(
            model="gpt-4o",
            input=[{"role": "user", "content": [{"type": "input_file", "file_id": binary.id}]}],
        )
    assert refused.value.param == "input[0].content[0]"


def test_a_response_left_unfinished_by_a_stopped_server_is_taken_over_by_the_next(tmp_path):
    """A server stopped while its engine works lets its leases go: the next server on the
    database executes the response again at once, and its events start over."""
    data = tmp_path / "account"
    slow = start_in_process(data, config=LocalConfig(engine_delay_s=30))
    client = openai.OpenAI(api_key="k", base_url=slow.base_url, max_retries=0)
    response = client.responses.create(model="gpt-4o", input="resume me", background=True)
    assert client.responses.retrieve(response.id).status in ("queued", "in_progress")
    slow.stop()  # the engine has not answered
    with start_in_process(data, config=LocalConfig()) as server:
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        deadline = time.monotonic() + 5
        while (again := client.responses.retrieve(response.id)).status != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert again.output_text == '[Assistant] You said: "resume me"'
        events = list(client.responses.retrieve(response.id, stream=True))
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert [event.type for event in events].count("response.completed") == 1
