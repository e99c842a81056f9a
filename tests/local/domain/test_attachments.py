"""Message ``attachments`` through the SDK over real HTTP: file_search attachments land in the
thread's own vector store (created on first use, as the API does), code_interpreter ones in its
``tool_resources``, and runs search them."""

from __future__ import annotations

import openai
import pytest

RETURNS = b"Returns are accepted within 30 days of delivery.\n"


def upload(client, name: str, content: bytes = RETURNS):
    return client.files.create(file=(name, content), purpose="assistants")


def file_search_attachment(file_id: str) -> dict:
    return {"file_id": file_id, "tools": [{"type": "file_search"}]}


def thread_store_id(client, thread_id: str) -> str:
    (store_id,) = client.beta.threads.retrieve(
        thread_id
    ).tool_resources.file_search.vector_store_ids
    return store_id


def store_file_ids(client, store_id: str) -> set[str]:
    return {f.id for f in client.vector_stores.files.list(store_id)}


def searcher(client):
    """An assistant with the file_search tool and no vector store of its own."""
    return client.beta.assistants.create(model="gpt-4o", tools=[{"type": "file_search"}])


def assert_cites(client, thread_id: str, file_id: str) -> None:
    answer = client.beta.threads.messages.list(thread_id, limit=1).data[0]
    text = answer.content[0].text
    assert text.value.startswith('According to returns.md: "Returns are accepted within 30 days')
    (annotation,) = text.annotations
    assert annotation.type == "file_citation" and annotation.file_citation.file_id == file_id


def test_file_search_attachment_creates_then_reuses_the_thread_store(client):
    thread = client.beta.threads.create()
    assert thread.tool_resources.file_search is None
    first, second = upload(client, "returns.md"), upload(client, "hours.md", b"Open nine to five.")
    client.beta.threads.messages.create(
        thread.id, role="user", content="see file", attachments=[file_search_attachment(first.id)]
    )
    store_id = thread_store_id(client, thread.id)
    store = client.vector_stores.retrieve(store_id)
    assert store.expires_after.anchor == "last_active_at" and store.expires_after.days == 7
    assert store.file_counts.completed == 1
    assert store_file_ids(client, store_id) == {first.id}

    client.beta.threads.messages.create(
        thread.id, role="user", content="and this", attachments=[file_search_attachment(second.id)]
    )
    assert thread_store_id(client, thread.id) == store_id
    assert store_file_ids(client, store_id) == {first.id, second.id}
    assert len(client.vector_stores.list().data) == 1


def test_attachment_joins_the_store_the_thread_already_has(client):
    store = client.vector_stores.create(name="kb")
    thread = client.beta.threads.create(
        tool_resources={"file_search": {"vector_store_ids": [store.id]}}
    )
    file = upload(client, "returns.md")
    client.beta.threads.messages.create(
        thread.id, role="user", content="see file", attachments=[file_search_attachment(file.id)]
    )
    assert thread_store_id(client, thread.id) == store.id
    assert store_file_ids(client, store.id) == {file.id}
    assert client.vector_stores.retrieve(store.id).expires_after is None


def test_run_answers_from_a_file_attached_to_a_message(client):
    file = upload(client, "returns.md")
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "How many days do I have for returns?",
                "attachments": [file_search_attachment(file.id)],
            }
        ]
    )
    assert store_file_ids(client, thread.tool_resources.file_search.vector_store_ids[0]) == {
        file.id
    }
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=searcher(client).id, poll_interval_ms=20
    )
    assert run.status == "completed"
    assert_cites(client, thread.id, file.id)


def test_create_and_run_indexes_attachments(client):
    file = upload(client, "returns.md")
    run = client.beta.threads.create_and_run_poll(
        assistant_id=searcher(client).id,
        thread={
            "messages": [
                {
                    "role": "user",
                    "content": "How many days do I have for returns?",
                    "attachments": [file_search_attachment(file.id)],
                }
            ]
        },
        poll_interval_ms=20,
    )
    assert run.status == "completed"
    assert store_file_ids(client, thread_store_id(client, run.thread_id)) == {file.id}
    assert_cites(client, run.thread_id, file.id)


def test_additional_messages_of_a_run_index_their_attachments(client):
    file = upload(client, "returns.md")
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=searcher(client).id,
        additional_messages=[
            {
                "role": "user",
                "content": "How many days do I have for returns?",
                "attachments": [file_search_attachment(file.id)],
            }
        ],
        poll_interval_ms=20,
    )
    assert run.status == "completed"
    assert_cites(client, thread.id, file.id)


def test_code_interpreter_attachments_join_the_thread_tool_resources(client):
    data, both = upload(client, "data.csv", b"a,b\n1,2\n"), upload(client, "returns.md")
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(
        thread.id,
        role="user",
        content="analyse",
        attachments=[
            {"file_id": data.id, "tools": [{"type": "code_interpreter"}]},
            {"file_id": both.id, "tools": [{"type": "code_interpreter"}, {"type": "file_search"}]},
        ],
    )
    resources = client.beta.threads.retrieve(thread.id).tool_resources
    assert resources.code_interpreter.file_ids == [data.id, both.id]
    assert store_file_ids(client, resources.file_search.vector_store_ids[0]) == {both.id}
    client.beta.threads.messages.create(
        thread.id,
        role="user",
        content="again",
        attachments=[{"file_id": data.id, "tools": [{"type": "code_interpreter"}]}],
    )
    resources = client.beta.threads.retrieve(thread.id).tool_resources
    assert resources.code_interpreter.file_ids == [data.id, both.id]


def test_unknown_attachment_is_refused_and_changes_nothing(client):
    thread = client.beta.threads.create()
    known = upload(client, "returns.md")
    with pytest.raises(openai.BadRequestError, match="no file with id 'file-missing'"):
        client.beta.threads.messages.create(
            thread.id,
            role="user",
            content="see file",
            attachments=[file_search_attachment(known.id), file_search_attachment("file-missing")],
        )
    assert client.beta.threads.retrieve(thread.id).tool_resources.file_search is None
    assert client.vector_stores.list().data == []
    assert client.beta.threads.messages.list(thread.id).data == []
