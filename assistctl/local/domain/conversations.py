"""Conversations: a metadata-carrying object and its items in conversation order.

A response created with ``conversation`` reads the conversation's items as its context and,
once it ends ``completed`` or ``incomplete``, appends its input and output items (a failed or
cancelled response adds nothing).
"""

from __future__ import annotations

from typing import Any

from assistctl.local.domain.errors import NotFound
from assistctl.local.domain.items import item_view, stored_item
from assistctl.local.domain.pages import PageRequest, list_page
from assistctl.local.domain.records import (
    CONVERSATION,
    CONVERSATION_ITEM,
    ApiObject,
    JsonText,
    new_id,
    now,
)
from assistctl.local.storage import Store


def conversation_not_found(conversation_id: str) -> NotFound:
    return NotFound(f"Conversation with id '{conversation_id}' not found.")


class Conversations:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, conversation_id: str) -> ApiObject:
        found = self._store.get(CONVERSATION, conversation_id)
        if found is None:
            raise conversation_not_found(conversation_id)
        return found

    def get_json(self, conversation_id: str) -> JsonText:
        """The conversation as stored (exactly as the API shows it), or its 404."""
        text = self._store.get_text(CONVERSATION, conversation_id)
        if text is None:
            raise conversation_not_found(conversation_id)
        return JsonText(text.encode())

    def create(self, items: list[ApiObject], metadata: dict[str, Any]) -> ApiObject:
        """A conversation holding ``items`` (validated input items) from the start."""
        conversation: ApiObject = {
            "id": new_id("conv"),
            "object": "conversation",
            "created_at": now(),
            "metadata": metadata,
        }
        with self._store.transaction():
            self._store.insert(CONVERSATION, conversation)
            self.append(conversation["id"], [stored_item(item) for item in items])
        return conversation

    def update(self, conversation_id: str, metadata: dict[str, Any]) -> ApiObject:
        with self._store.transaction():
            conversation = self.get(conversation_id)
            conversation["metadata"] = metadata
            return self._store.put(CONVERSATION, conversation)

    def delete(self, conversation_id: str) -> None:
        """The conversation with its items."""
        with self._store.transaction():
            self.get(conversation_id)
            self._store.delete_children(CONVERSATION_ITEM, conversation_id)
            self._store.delete(CONVERSATION, conversation_id)

    # --- items ------------------------------------------------------------------------------

    def items(self, conversation_id: str) -> list[ApiObject]:
        """Every item, in conversation order (what a response reads as context)."""
        return self._store.all(CONVERSATION_ITEM, conversation_id)

    def add_items(self, conversation_id: str, items: list[ApiObject]) -> list[ApiObject]:
        """Add validated input items; the stored items come back."""
        stored = [stored_item(item) for item in items]
        with self._store.transaction():
            self.get(conversation_id)
            self.append(conversation_id, stored)
        return stored

    def append(self, conversation_id: str, items: list[ApiObject]) -> None:
        """Add stored items (a response's input and output) at the end of the conversation;
        an item already there (sent again by id) stays where it was."""
        with self._store.transaction():
            known = self._store.get_many(
                CONVERSATION_ITEM, [item["id"] for item in items], conversation_id
            )
            for item in items:
                if item["id"] not in known:
                    self._store.insert(CONVERSATION_ITEM, item, conversation_id)
                    known[item["id"]] = item

    def items_page(
        self, conversation_id: str, request: PageRequest, include: tuple[str, ...]
    ) -> ApiObject:
        self.get_json(conversation_id)  # its 404; the conversation itself is not needed
        page = list_page(self._store, CONVERSATION_ITEM, conversation_id, request)
        page["data"] = [item_view(item, include) for item in page["data"]]
        return page

    def get_item(self, conversation_id: str, item_id: str) -> ApiObject:
        found = self._store.get(CONVERSATION_ITEM, item_id, conversation_id)
        if found is None:
            self.get(conversation_id)
            raise NotFound(f"Item with id '{item_id}' not found.")
        return found

    def delete_item(self, conversation_id: str, item_id: str) -> ApiObject:
        """Remove an item; the conversation comes back, as the API answers."""
        with self._store.transaction():
            self.get_item(conversation_id, item_id)
            self._store.delete(CONVERSATION_ITEM, item_id, conversation_id)
            return self.get(conversation_id)
