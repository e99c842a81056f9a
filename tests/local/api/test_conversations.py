"""``/v1/conversations`` and its items through the SDK, each body checked by the SDK's own types
in strict mode."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types.conversations import (
    Conversation,
    ConversationDeletedResource,
    ConversationItem,
)

from ..tools import strictly


def test_conversation_crud_validates_strictly(client):
    raw = client.conversations.with_raw_response.create(
        metadata={"topic": "returns"},
        items=[
            {"role": "system", "content": "Be brief."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        ],
    )
    conversation = strictly(Conversation, json.loads(raw.text))
    assert conversation.id.startswith("conv_") and conversation.metadata == {"topic": "returns"}
    fetched = client.conversations.with_raw_response.retrieve(conversation.id)
    assert strictly(Conversation, json.loads(fetched.text)) == conversation

    updated = client.conversations.update(conversation.id, metadata={"topic": "refunds"})
    assert updated.metadata == {"topic": "refunds"}
    with pytest.raises(openai.BadRequestError, match="too many properties"):
        client.conversations.update(conversation.id, metadata={f"k{n}": "v" for n in range(17)})

    items = client.conversations.items.with_raw_response.list(conversation.id, order="asc")
    body = json.loads(items.text)
    listed = [strictly(ConversationItem, item) for item in body["data"]]
    assert [(i.role, i.content[0].text) for i in listed] == [
        ("system", "Be brief."),
        ("user", "Hi"),
    ]
    assert all(item.status == "completed" for item in listed)

    deleted = client.conversations.with_raw_response.delete(conversation.id)
    assert strictly(ConversationDeletedResource, json.loads(deleted.text)).deleted is True
    with pytest.raises(openai.NotFoundError) as missing:
        client.conversations.retrieve(conversation.id)
    assert missing.value.body["message"] == f"Conversation with id '{conversation.id}' not found."
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conversation.id)


def test_items_create_retrieve_delete_and_page(client):
    conversation = client.conversations.create()
    added = client.conversations.items.create(
        conversation.id,
        items=[{"role": "user", "content": f"line {n}"} for n in range(5)],
    )
    assert len(added.data) == 5 and added.first_id == added.data[0].id
    assert added.last_id == added.data[-1].id and added.has_more is False

    page = client.conversations.items.list(conversation.id, limit=2)
    assert len(page.data) == 2 and page.has_more
    assert [item.content[0].text for item in page] == [f"line {n}" for n in reversed(range(5))]

    one = client.conversations.items.with_raw_response.retrieve(
        added.data[2].id, conversation_id=conversation.id
    )
    assert strictly(ConversationItem, json.loads(one.text)).content[0].text == "line 2"

    after_delete = client.conversations.items.delete(
        added.data[2].id, conversation_id=conversation.id
    )
    assert after_delete.id == conversation.id and after_delete.object == "conversation"
    with pytest.raises(openai.NotFoundError, match=f"Item with id '{added.data[2].id}' not found."):
        client.conversations.items.retrieve(added.data[2].id, conversation_id=conversation.id)
    remaining = [
        i.content[0].text for i in client.conversations.items.list(conversation.id, order="asc")
    ]
    assert remaining == ["line 0", "line 1", "line 3", "line 4"]


def test_items_refused_as_the_api_refuses_them(client):
    conversation = client.conversations.create()
    with pytest.raises(openai.BadRequestError) as too_many:
        client.conversations.items.create(
            conversation.id, items=[{"role": "user", "content": "x"}] * 21
        )
    assert too_many.value.param == "items" and "array too long" in too_many.value.message
    with pytest.raises(openai.BadRequestError) as bad_type:
        client.conversations.items.create(
            conversation.id, items=[{"type": "web_search_call", "id": "ws_1"}]
        )
    assert bad_type.value.param == "items[0].type"
    with pytest.raises(openai.BadRequestError, match="Unknown parameter: 'title'."):
        client.conversations.create(extra_body={"title": "x"})
    with pytest.raises(openai.NotFoundError, match="No such File object"):
        client.conversations.create(
            items=[{"role": "user", "content": [{"type": "input_file", "file_id": "file-no"}]}]
        )
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.create("conv_missing", items=[{"role": "user", "content": "x"}])
