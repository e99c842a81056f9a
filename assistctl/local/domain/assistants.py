"""Assistants: created with the API's defaults, changed field by field."""

from __future__ import annotations

from assistctl.local.domain.errors import not_found
from assistctl.local.domain.pages import PageRequest, list_page_json
from assistctl.local.domain.records import (
    ASSISTANT,
    ApiObject,
    JsonText,
    fetch,
    fetch_json,
    new_id,
    now,
)
from assistctl.local.domain.tool_resources import ToolResources
from assistctl.local.domain.vector_stores import VectorStores
from assistctl.local.storage import Store


class Assistants:
    def __init__(self, store: Store, vector_stores: VectorStores) -> None:
        self._store = store
        self._vector_stores = vector_stores

    def get(self, assistant_id: str) -> ApiObject:
        return fetch(self._store, ASSISTANT, assistant_id, "assistant")

    def create(self, fields: ApiObject, tool_resources: ToolResources | None) -> ApiObject:
        """A new assistant: the API's defaults, then ``fields`` (validated request fields)."""
        assistant: ApiObject = {
            "id": new_id("asst"),
            "object": "assistant",
            "created_at": now(),
            "name": None,
            "description": None,
            "model": "",
            "instructions": None,
            "tools": [],
            "tool_resources": {},
            "metadata": {},
            "top_p": 1.0,
            "temperature": 1.0,
            "response_format": "auto",
        }
        with self._store.transaction():
            return self._store.insert(ASSISTANT, self._changed(assistant, fields, tool_resources))

    def update(
        self, assistant: ApiObject, fields: ApiObject, tool_resources: ToolResources | None
    ) -> ApiObject:
        with self._store.transaction():
            return self._store.put(ASSISTANT, self._changed(assistant, fields, tool_resources))

    def page(self, request: PageRequest) -> JsonText:
        return list_page_json(self._store, ASSISTANT, "", request)

    def get_json(self, assistant_id: str) -> JsonText:
        return fetch_json(self._store, ASSISTANT, assistant_id, "assistant")

    def delete(self, assistant_id: str) -> None:
        if not self._store.delete(ASSISTANT, assistant_id):
            raise not_found("assistant", assistant_id)

    def _changed(
        self, assistant: ApiObject, fields: ApiObject, tool_resources: ToolResources | None
    ) -> ApiObject:
        assistant.update(fields)
        if tool_resources is not None:
            assistant["tool_resources"] = tool_resources.stored(self._vector_stores)
        return assistant
