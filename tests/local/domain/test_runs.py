"""Runs and run steps of the local account, through the ``openai`` SDK over real HTTP.

Every body is validated with the SDK's own types; the engine is the deterministic one, so the
answers are exact.
"""

from __future__ import annotations

import json

import openai
import pytest
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from ..tools import GET_ORDER, indexed_store

SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def raw_run(client, thread_id: str, run_id: str) -> Run:
    """The run as sent on the wire, validated with the SDK's type (not just constructed)."""
    response = client.beta.threads.runs.with_raw_response.retrieve(run_id, thread_id=thread_id)
    assert response.headers["openai-poll-after-ms"] == "100"
    return Run.model_validate(json.loads(response.text))


def raw_steps(client, thread_id: str, run_id: str, **query) -> list[RunStep]:
    response = client.beta.threads.runs.steps.with_raw_response.list(
        run_id, thread_id=thread_id, order="asc", **query
    )
    return [RunStep.model_validate(s) for s in json.loads(response.text)["data"]]


def raw_messages(client, thread_id: str) -> list[Message]:
    response = client.beta.threads.messages.with_raw_response.list(thread_id, order="asc")
    return [Message.model_validate(m) for m in json.loads(response.text)["data"]]


def answer_of(client, thread_id: str) -> Message:
    return raw_messages(client, thread_id)[-1]


@pytest.fixture
def bot(client):
    return client.beta.assistants.create(
        model="gpt-4o",
        name="Support Bot",
        instructions="Answer order questions.",
        tools=[GET_ORDER],
    )


def ask(client, text: str):
    return client.beta.threads.create(messages=[{"role": "user", "content": text}])


def test_plain_run_completes_with_message_step_and_usage(client, bot):
    thread = ask(client, "Hello there")
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=bot.id)
    assert run.status == "queued"
    run = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    assert run.status == "completed"
    run = raw_run(client, thread.id, run.id)
    assert run.started_at and run.completed_at and run.expires_at
    assert run.model == "gpt-4o"
    assert run.instructions == "Answer order questions."
    assert [t.type for t in run.tools] == ["function"]
    assert run.usage.prompt_tokens == 3 + 2
    assert run.usage.completion_tokens == 6  # [Support Bot] You said: "Hello there"
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens
    message = answer_of(client, thread.id)
    assert message.role == "assistant"
    assert message.content[0].text.value == '[Support Bot] You said: "Hello there"'
    assert (message.run_id, message.assistant_id) == (run.id, bot.id)
    (step,) = raw_steps(client, thread.id, run.id)
    assert step.type == "message_creation" and step.status == "completed"
    assert step.step_details.message_creation.message_id == message.id
    assert step.usage.total_tokens == run.usage.total_tokens
    again = client.beta.threads.runs.steps.retrieve(step.id, thread_id=thread.id, run_id=run.id)
    assert again.id == step.id


def test_function_call_round_trip(client, bot):
    thread = ask(client, "Where is my order 123?")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=bot.id, poll_interval_ms=20
    )
    assert run.status == "requires_action"
    run = raw_run(client, thread.id, run.id)
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert call.id.startswith("call_")
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_order",
        {"order_id": "123"},
    )
    assert run.usage is None
    (pending,) = raw_steps(client, thread.id, run.id)
    assert pending.status == "in_progress"
    assert pending.step_details.tool_calls[0].function.output is None

    with pytest.raises(openai.BadRequestError, match="Expected tool outputs"):
        client.beta.threads.runs.submit_tool_outputs(run.id, thread_id=thread.id, tool_outputs=[])
    with pytest.raises(openai.BadRequestError, match="Invalid tool_call_id"):
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_x", "output": "1"}]
        )
    output = json.dumps({"status": "shipped", "eta": "2026-12-01"})
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": output}],
        poll_interval_ms=20,
    )
    assert run.status == "completed"
    assert (
        answer_of(client, thread.id).content[0].text.value
        == "Here is what get_order returned: status: shipped, eta: 2026-12-01."
    )
    tool_step, message_step = raw_steps(client, thread.id, run.id)
    assert tool_step.status == "completed"
    assert tool_step.step_details.tool_calls[0].function.output == output
    assert message_step.type == "message_creation"
    assert run.usage.total_tokens == tool_step.usage.total_tokens + message_step.usage.total_tokens
    with pytest.raises(openai.BadRequestError, match="do not accept tool outputs"):
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "x"}]
        )


def test_one_active_run_per_thread_and_cancel(client, bot):
    thread = ask(client, "order 7 please")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=bot.id, poll_interval_ms=20
    )
    assert run.status == "requires_action"
    with pytest.raises(openai.BadRequestError, match=f"already has an active run {run.id}"):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=bot.id)
    cancelled = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at
    (step,) = raw_steps(client, thread.id, run.id)
    assert step.status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="Cannot cancel run with status 'cancelled'"):
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    follow_up = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=bot.id, tool_choice="none", poll_interval_ms=20
    )
    assert follow_up.status == "completed"
    third = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=bot.id, poll_interval_ms=20
    )
    assert third.status == "requires_action"  # the newest of three runs blocks the thread
    with pytest.raises(openai.BadRequestError, match=f"while a run {third.id} is active"):
        client.beta.threads.messages.create(thread.id, role="user", content="more")


def test_file_search_answer_cites_the_file(client, tmp_path):
    uploaded, store = indexed_store(
        client,
        tmp_path / "returns.md",
        "Returns are accepted within 30 days of delivery.\n",
        name="handbook",
    )
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search", "file_search": {"max_num_results": 3}}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = ask(client, "How many days do I have for returns?")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    assert run.status == "completed"
    text = answer_of(client, thread.id).content[0].text
    assert text.value.startswith('According to returns.md: "Returns are accepted within 30 days')
    (annotation,) = text.annotations
    assert annotation.type == "file_citation"
    assert annotation.file_citation.file_id == uploaded.id
    assert text.value[annotation.start_index : annotation.end_index] == annotation.text
    search_step = raw_steps(client, thread.id, run.id)[0]
    (call,) = search_step.step_details.tool_calls
    assert call.type == "file_search"
    assert call.file_search.results[0].file_name == "returns.md"
    assert call.file_search.results[0].content is None
    with_content = raw_steps(client, thread.id, run.id, include=[SEARCH_CONTENT])[0]
    result = with_content.step_details.tool_calls[0].file_search.results[0]
    assert "30 days" in result.content[0].text


def test_file_search_step_reports_the_tool_ranking_options(client, tmp_path):
    uploaded, store = indexed_store(
        client,
        tmp_path / "returns.md",
        "Returns are accepted within 30 days of delivery.\n",
        name="handbook",
    )
    ranking = {"ranker": "default_2024_08_21", "score_threshold": 0.99}
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search", "file_search": {"ranking_options": ranking}}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = ask(client, "How many days do I have for returns?")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    (call,) = raw_steps(client, thread.id, run.id)[0].step_details.tool_calls
    assert call.file_search.ranking_options.model_dump() == ranking
    assert call.file_search.results == []  # nothing scores 0.99


def test_create_thread_and_run_with_overrides(client, bot):
    run = client.beta.threads.create_and_run_poll(
        assistant_id=bot.id,
        thread={"messages": [{"role": "user", "content": "Hi"}]},
        instructions="Be terse.",
        model="gpt-4o-mini",
        temperature=0.2,
        top_p=0.5,
        tools=[{"type": "code_interpreter"}],
        response_format={"type": "json_object"},
        truncation_strategy={"type": "last_messages", "last_messages": 1},
        metadata={"case": "overrides"},
        poll_interval_ms=20,
    )
    assert run.status == "completed"
    run = raw_run(client, run.thread_id, run.id)
    assert run.instructions == "Be terse."
    assert run.model == "gpt-4o-mini"
    assert (run.temperature, run.top_p) == (0.2, 0.5)
    assert [t.type for t in run.tools] == ["code_interpreter"]
    assert run.truncation_strategy.last_messages == 1
    assert run.metadata == {"case": "overrides"}
    assert json.loads(answer_of(client, run.thread_id).content[0].text.value) == {
        "answer": '[Support Bot] You said: "Hi"'
    }


def test_additional_messages_and_instructions(client, bot):
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=bot.id,
        additional_instructions="Mention the date.",
        additional_messages=[{"role": "user", "content": "Please compute 2+2"}],
        tools=[{"type": "code_interpreter"}],
        poll_interval_ms=20,
    )
    assert run.status == "completed"
    assert run.instructions == "Answer order questions.\n\nMention the date."
    first, answer = raw_messages(client, thread.id)
    assert first.content[0].text.value == "Please compute 2+2" and first.run_id is None
    assert answer.content[0].text.value.endswith('You said: "Please compute 2+2"')
    assert [step.type for step in raw_steps(client, thread.id, run.id)] == ["message_creation"]


def test_fail_run_and_validation_errors(client, bot):
    thread = ask(client, "FAIL_RUN")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=bot.id, poll_interval_ms=20
    )
    assert run.status == "failed" and run.failed_at
    assert run.last_error.code == "server_error"
    with pytest.raises(openai.NotFoundError, match="No assistant found"):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_missing")
    with pytest.raises(openai.NotFoundError, match="No thread found"):
        client.beta.threads.runs.create(thread_id="thread_missing", assistant_id=bot.id)
    with pytest.raises(openai.NotFoundError, match="No run found"):
        client.beta.threads.runs.retrieve("run_missing", thread_id=thread.id)
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=bot.id, temperature=3)
    with pytest.raises(openai.BadRequestError, match="max_completion_tokens"):
        client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=bot.id, max_completion_tokens=10
        )
    with pytest.raises(openai.BadRequestError, match="Unrecognized request argument"):
        client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=bot.id, extra_body={"bogus": 1}
        )


def test_list_modify_and_expire(client, bot, local_server):
    thread = ask(client, "Hello")
    first = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=bot.id, poll_interval_ms=20
    )
    client.beta.threads.messages.create(thread.id, role="user", content="order 5")
    second = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=bot.id, poll_interval_ms=20
    )
    page = client.beta.threads.runs.list(thread_id=thread.id, limit=1)
    assert [r.id for r in page.data] == [second.id] and page.has_more
    assert [r.id for r in page.get_next_page().data] == [first.id]
    modified = client.beta.threads.runs.update(
        first.id, thread_id=thread.id, metadata={"reviewed": "yes"}
    )
    assert modified.metadata == {"reviewed": "yes"}
    # A run waiting for tool outputs past its expires_at is expired on its next read.
    store = local_server.account.store
    stored = store.get("thread.run", second.id, thread.id)
    store.put("thread.run", {**stored, "expires_at": 0}, thread.id)
    expired = client.beta.threads.runs.retrieve(second.id, thread_id=thread.id)
    assert expired.status == "expired" and expired.required_action is None
    assert raw_steps(client, thread.id, second.id)[0].status == "expired"


def test_expired_run_no_longer_blocks_new_messages(client, bot, local_server):
    """A run that expired while waiting for tool outputs must not refuse the next message,
    even when nobody read the run since it expired."""
    thread = ask(client, "Where is order 5?")
    waiting = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=bot.id, poll_interval_ms=20
    )
    assert waiting.status == "requires_action"
    store = local_server.account.store
    stored = store.get("thread.run", waiting.id, thread.id)
    store.put("thread.run", {**stored, "expires_at": 0}, thread.id)
    message = client.beta.threads.messages.create(thread.id, role="user", content="Hello again")
    assert message.thread_id == thread.id
    run = client.beta.threads.runs.retrieve(waiting.id, thread_id=thread.id)
    assert run.status == "expired"


def test_auto_truncation_sends_the_newest_messages_within_the_token_budget(client):
    """Each message is 400 characters of 80 words: an estimated 104 tokens, so a budget of 256
    keeps the newest two (the deterministic engine counts their words as prompt tokens)."""
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Be brief.")
    thread = client.beta.threads.create()
    for index in range(5):
        client.beta.threads.messages.create(thread.id, role="user", content=f"w{index}xx " * 80)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_prompt_tokens=256, poll_interval_ms=20
    )
    assert run.status == "completed"
    assert run.usage.prompt_tokens == 2 + 2 * 80
    answer = answer_of(client, thread.id).content[0].text.value
    assert answer.startswith('[Assistant] You said: "w4xx')
    # the run's own answer is not sent to it again; without a budget every message is sent
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    answer_words = len(raw_messages(client, thread.id)[-2].content[0].text.value.split())
    assert run.usage.prompt_tokens == 2 + 5 * 80 + answer_words


def test_a_message_over_the_budget_alone_is_still_sent_and_last_messages_counts(client):
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread.id, role="user", content="first message")
    client.beta.threads.messages.create(thread.id, role="user", content="long " * 2000)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_prompt_tokens=256, poll_interval_ms=20
    )
    assert run.status == "incomplete" and run.usage.prompt_tokens == 2000  # sent, alone
    client.beta.threads.messages.create(thread.id, role="user", content="third")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        truncation_strategy={"type": "last_messages", "last_messages": 1},
        poll_interval_ms=20,
    )
    assert run.status == "completed" and run.usage.prompt_tokens == 1
