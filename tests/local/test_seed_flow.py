"""The Assistants API overview notebook (the project's seed), step by step, through the SDK.

Run twice: against the in-process account and against ``assistctl local serve`` in a separate
process, so that what apps already do with the deprecated API keeps working on either.
"""

from __future__ import annotations

import json
import time

import openai

from .test_serve import start, stop
from .tools import GET_ORDER

TUTOR_INSTRUCTIONS = (
    "You are a personal math tutor. Answer questions briefly, in a sentence or less."
)


def wait_on_run(client: openai.OpenAI, run, thread):
    """The notebook's own polling loop, unchanged but for a shorter sleep."""
    deadline = time.monotonic() + 20
    while run.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, f"run {run.id} stuck in {run.status}"
        run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
        time.sleep(0.02)
    return run


def submit_message(client: openai.OpenAI, assistant_id: str, thread, user_message: str):
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content=user_message)
    return client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)


def replies(client: openai.OpenAI, thread) -> list[tuple[str, str]]:
    messages = client.beta.threads.messages.list(thread_id=thread.id, order="asc")
    return [(m.role, m.content[0].text.value) for m in messages]


def seed_flow(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(
        name="Math Tutor", instructions=TUTOR_INSTRUCTIONS, model="gpt-4o-mini"
    )
    assert assistant.instructions == TUTOR_INSTRUCTIONS and assistant.tools == []

    thread = client.beta.threads.create()
    message = client.beta.threads.messages.create(
        thread_id=thread.id,
        role="user",
        content="I need to solve the equation `3x + 11 = 14`. Can you help me?",
    )
    assert message.assistant_id is None and message.run_id is None

    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "queued"
    run = wait_on_run(client, run, thread)
    assert run.status == "completed" and run.completed_at and run.usage.total_tokens > 0
    assert run.instructions == TUTOR_INSTRUCTIONS

    # Newest first by default; `after` continues from a message, `order=asc` reverses.
    listed = client.beta.threads.messages.list(thread_id=thread.id)
    assert [m.role for m in listed.data] == ["assistant", "user"]
    assert listed.data[0].run_id == run.id and listed.data[0].assistant_id == assistant.id
    after = client.beta.threads.messages.list(thread_id=thread.id, order="asc", after=message.id)
    assert [m.id for m in after.data] == [listed.data[0].id]

    run = submit_message(client, assistant.id, thread, "Could you explain this to me?")
    wait_on_run(client, run, thread)
    assert [role for role, _ in replies(client, thread)] == ["user", "assistant"] * 2

    # Several users at once: three threads, three runs in flight.
    threads_and_runs = []
    for text in (
        "I need to solve the equation `3x + 11 = 14`. Can you help me?",
        "Could you explain linear algebra to me?",
        "I don't like math. What can I do?",
    ):
        new_thread = client.beta.threads.create()
        threads_and_runs.append(
            (new_thread, submit_message(client, assistant.id, new_thread, text))
        )
    for new_thread, new_run in threads_and_runs:
        assert wait_on_run(client, new_run, new_thread).status == "completed"
        assert [role for role, _ in replies(client, new_thread)] == ["user", "assistant"]
    last_thread = threads_and_runs[-1][0]
    wait_on_run(
        client, submit_message(client, assistant.id, last_thread, "Thank you!"), last_thread
    )
    assert len(replies(client, last_thread)) == 4

    # create_thread_and_run in one request.
    both = client.beta.threads.create_and_run(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "What is a prime number?"}]},
    )
    finished = wait_on_run(client, both, client.beta.threads.retrieve(both.thread_id))
    assert finished.status == "completed"

    # Retrieval: upload a file, put it in a vector store, answer with a citation.
    upload = client.files.create(
        file=("paper.md", b"Language models are unsupervised multitask learners."),
        purpose="assistants",
    )
    store = client.vector_stores.create(name="papers", file_ids=[upload.id])
    assert client.vector_stores.retrieve(store.id).file_counts.completed == 1
    assistant = client.beta.assistants.update(
        assistant.id,
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = client.beta.threads.create()
    run = wait_on_run(
        client,
        submit_message(client, assistant.id, thread, "What are language models in this paper?"),
        thread,
    )
    assert run.status == "completed"
    answer = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data[0]
    (citation,) = answer.content[0].text.annotations
    assert citation.type == "file_citation" and citation.file_citation.file_id == upload.id
    assert "unsupervised multitask learners" in answer.content[0].text.value

    # Functions: requires_action, submit_tool_outputs, then an answer that uses the output.
    assistant = client.beta.assistants.update(assistant.id, tools=[GET_ORDER])
    thread = client.beta.threads.create()
    run = wait_on_run(
        client, submit_message(client, assistant.id, thread, "Where is order 123?"), thread
    )
    assert run.status == "requires_action"
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "get_order"
    assert json.loads(call.function.arguments) == {"order_id": "123"}
    run = client.beta.threads.runs.submit_tool_outputs(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": call.id, "output": json.dumps({"status": "shipped"})}],
    )
    run = wait_on_run(client, run, thread)
    assert run.status == "completed"
    assert "shipped" in replies(client, thread)[-1][1]
    steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc")
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]


def test_seed_flow_in_process(client):
    seed_flow(client)


def test_seed_flow_against_local_serve_in_another_process(tmp_path):
    process, url = start(tmp_path, "--indexing-delay", "0")
    try:
        seed_flow(openai.OpenAI(api_key="any", base_url=url, max_retries=0))
    finally:
        code, errors = stop(process)
    assert code == 0, errors
    assert "Traceback" not in errors
