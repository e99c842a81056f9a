"""Streamed runs (``stream=true``) consumed by the SDK's own stream helpers and event handler."""

from __future__ import annotations

import json

import pytest
from openai import AssistantEventHandler
from openai.types.beta import AssistantStreamEvent

from ..tools import indexed_store

GET_ORDER = {
    "type": "function",
    "function": {
        "name": "get_order",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}


class Recorder(AssistantEventHandler):
    """Keeps every event name and the text the SDK accumulated from the deltas."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.text = ""
        self.tool_calls: list = []

    def on_event(self, event: AssistantStreamEvent) -> None:
        self.names.append(event.event)

    def on_text_delta(self, delta, snapshot) -> None:
        self.text += delta.value or ""

    def on_tool_call_done(self, tool_call) -> None:
        self.tool_calls.append(tool_call)


@pytest.fixture
def bot(client):
    return client.beta.assistants.create(model="gpt-4o", name="Streamer", tools=[GET_ORDER])


def test_plain_run_streams_the_api_event_sequence(client, bot):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Good morning"}])
    handler = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=bot.id, event_handler=handler
    ) as stream:
        stream.until_done()
        final_run = stream.get_final_run()
        (final_message,) = stream.get_final_messages()
    assert handler.names[:3] == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
    ]
    assert handler.names[3:7] == [
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
    ]
    assert handler.names[-3:] == [
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    assert "thread.message.delta" in handler.names
    expected = '[Streamer] You said: "Good morning"'
    assert handler.text == expected
    assert final_message.content[0].text.value == expected
    assert final_run.status == "completed" and final_run.usage.total_tokens > 0
    stored = client.beta.threads.messages.list(thread.id).data[0]
    assert stored.id == final_message.id and stored.content[0].text.value == expected


def test_function_call_then_streamed_tool_outputs(client, bot):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "order 42 status"}])
    handler = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=bot.id, event_handler=handler
    ) as stream:
        stream.until_done()
        run = stream.current_run
    assert handler.names[-1] == "thread.run.requires_action"
    assert run.status == "requires_action"
    (call,) = handler.tool_calls
    assert call.function.name == "get_order"
    assert json.loads(call.function.arguments) == {"order_id": "42"}

    after = Recorder()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": '{"status": "delivered"}'}],
        event_handler=after,
    ) as stream:
        stream.until_done()
    assert after.names[:3] == [
        "thread.run.step.completed",
        "thread.run.queued",
        "thread.run.in_progress",
    ]
    assert after.names[-1] == "thread.run.completed"
    assert after.text == "Here is what get_order returned: status: delivered."


def test_create_thread_and_run_stream_with_citation(client, tmp_path):
    uploaded, store = indexed_store(
        client,
        tmp_path / "warranty.md",
        "The warranty covers parts and labour for two years.",
        name="docs",
    )
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    handler = Recorder()
    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "How long is the warranty?"}]},
        event_handler=handler,
    ) as stream:
        stream.until_done()
        (message,) = stream.get_final_messages()
    assert handler.names[0] == "thread.created"
    assert handler.names.count("thread.run.step.completed") == 2
    text = message.content[0].text
    (annotation,) = text.annotations
    assert annotation.file_citation.file_id == uploaded.id
    assert text.value[annotation.start_index : annotation.end_index] == annotation.text
    assert handler.text == text.value


def test_raw_stream_ends_with_done(client, bot):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "FAIL_RUN"}])
    events = list(
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=bot.id, stream=True)
    )
    assert events[-1].event == "thread.run.failed"
    assert events[-1].data.last_error.code == "server_error"
