"""/v1/threads and messages through the SDK over real HTTP."""

from __future__ import annotations

import openai
import pytest
from openai.types.beta import Thread, ThreadDeleted
from openai.types.beta.threads import Message, MessageDeleted


def test_thread_crud_with_messages_and_tool_resources(client):
    store = client.vector_stores.create(name="kb")
    file = client.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="assistants")
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hi!"}]},
        ],
        tool_resources={
            "file_search": {"vector_store_ids": [store.id]},
            "code_interpreter": {"file_ids": [file.id]},
        },
        metadata={"suite": "smoke"},
    )
    Thread.model_validate(thread.model_dump())
    assert thread.tool_resources.file_search.vector_store_ids == [store.id]
    assert thread.tool_resources.code_interpreter.file_ids == [file.id]
    messages = client.beta.threads.messages.list(thread.id, order="asc").data
    assert [(m.role, m.content[0].text.value) for m in messages] == [
        ("user", "Hello"),
        ("assistant", "Hi!"),
    ]
    for message in messages:
        Message.model_validate(message.model_dump())
    assert client.beta.threads.retrieve(thread.id) == thread
    updated = client.beta.threads.update(thread.id, metadata={"suite": "other"})
    assert updated.metadata == {"suite": "other"}
    deleted = client.beta.threads.delete(thread.id)
    ThreadDeleted.model_validate(deleted.model_dump())
    with pytest.raises(openai.NotFoundError) as raised:
        client.beta.threads.retrieve(thread.id)
    assert raised.value.body["message"] == f"No thread found with id '{thread.id}'."
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.list(thread.id)


def test_inline_vector_store_in_tool_resources(client):
    file = client.files.create(
        file=("faq.md", b"Opening hours are nine to five."), purpose="assistants"
    )
    thread = client.beta.threads.create(
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [file.id]}]}}
    )
    (store_id,) = thread.tool_resources.file_search.vector_store_ids
    assert client.vector_stores.retrieve(store_id).file_counts.completed == 1


def test_message_crud(client):
    thread = client.beta.threads.create()
    file = client.files.create(file=("faq.md", b"faq"), purpose="assistants")
    created = client.beta.threads.messages.create(
        thread.id,
        role="user",
        content=[
            {"type": "text", "text": "look at this"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        ],
        attachments=[{"file_id": file.id, "tools": [{"type": "file_search"}]}],
        metadata={"k": "v"},
    )
    Message.model_validate(created.model_dump())
    assert created.thread_id == thread.id and created.status == "completed"
    assert [part.type for part in created.content] == ["text", "image_url"]
    assert created.attachments[0].file_id == file.id
    fetched = client.beta.threads.messages.retrieve(created.id, thread_id=thread.id)
    assert fetched == created
    updated = client.beta.threads.messages.update(
        created.id, thread_id=thread.id, metadata={"k": "w"}
    )
    assert updated.metadata == {"k": "w"}
    deleted = client.beta.threads.messages.delete(created.id, thread_id=thread.id)
    MessageDeleted.model_validate(deleted.model_dump())
    with pytest.raises(openai.NotFoundError) as raised:
        client.beta.threads.messages.retrieve(created.id, thread_id=thread.id)
    assert raised.value.body["message"] == f"No message found with id '{created.id}'."
    client.beta.threads.delete(thread.id)
    for lookup in (
        client.beta.threads.messages.retrieve,
        client.beta.threads.messages.delete,
        lambda message_id, thread_id: client.beta.threads.messages.update(
            message_id, thread_id=thread_id, metadata={}
        ),
    ):
        with pytest.raises(openai.NotFoundError) as raised:
            lookup(created.id, thread_id=thread.id)
        assert raised.value.body["message"] == f"No thread found with id '{thread.id}'."


def test_message_pagination_and_run_id_filter(client, local_server):
    thread = client.beta.threads.create()
    ids = [
        client.beta.threads.messages.create(thread.id, role="user", content=f"m{i}").id
        for i in range(5)
    ]
    newest = client.beta.threads.messages.list(thread.id, limit=2)
    assert [m.id for m in newest.data] == [ids[4], ids[3]] and newest.has_more
    assert (newest.first_id, newest.last_id) == (ids[4], ids[3])
    older = client.beta.threads.messages.list(thread.id, limit=2, after=newest.last_id)
    assert [m.id for m in older.data] == [ids[2], ids[1]]
    oldest = client.beta.threads.messages.list(thread.id, limit=2, after=older.last_id)
    assert [m.id for m in oldest.data] == [ids[0]] and not oldest.has_more
    ascending = client.beta.threads.messages.list(thread.id, order="asc", after=ids[1], limit=2)
    assert [m.id for m in ascending.data] == [ids[2], ids[3]] and ascending.has_more
    before = client.beta.threads.messages.list(thread.id, order="asc", before=ids[2])
    assert [m.id for m in before.data] == [ids[0], ids[1]] and not before.has_more
    assert [m.id for m in client.beta.threads.messages.list(thread.id, order="asc")] == ids
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.messages.list(thread.id, after="msg_unknown")

    # Messages written by a run carry its id (the engine stores them through the same store).
    stored = local_server.account.store.get("thread.message", ids[3], thread.id)
    local_server.account.store.put("thread.message", {**stored, "run_id": "run_x"}, thread.id)
    by_run = client.beta.threads.messages.list(thread.id, run_id="run_x").data
    assert [m.id for m in by_run] == [ids[3]]


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"role": "system", "content": "x"}, "role"),
        ({"role": "user", "content": [{"type": "audio"}]}, "content[0].type"),
        ({"role": "user", "content": "x", "metadata": {"k" * 65: "v"}}, None),
        ({"role": "user", "content": "x", "attachments": [{"file_id": "file-nope"}]}, None),
    ],
)
def test_message_validation(client, arguments, param):
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.threads.messages.create(thread.id, **arguments)
    if param is not None:
        assert raised.value.body["param"] == param


def test_thread_validation(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.threads.create(messages=[{"role": "user"}])
    assert raised.value.body["param"] == "messages[0].content"
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.create(messages=[{"role": "user", "content": "x"}] * 33)
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.create(
            tool_resources={"file_search": {"vector_store_ids": ["vs_a", "vs_b"]}}
        )
    assert client.beta.threads.create().tool_resources.file_search is None
