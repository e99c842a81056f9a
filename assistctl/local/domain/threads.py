"""Threads and their messages.

Messages are children of their thread in creation order (so list order is conversation order);
runs and their steps live under the thread too, and deleting a thread deletes all of them.

Attachments are applied to the thread as the API does: ``file_search`` files join the thread's
vector store (created on first use, expiring after 7 idle days) and are indexed there, so runs
search them with the assistant's stores; ``code_interpreter`` files join its
``tool_resources.code_interpreter.file_ids``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistctl.local.domain.pages import PageRequest, list_page_json
from assistctl.local.domain.records import (
    MESSAGE,
    RUN,
    RUN_STEP,
    THREAD,
    ApiObject,
    JsonText,
    fetch,
    fetch_json,
    new_id,
    now,
)
from assistctl.local.domain.tool_resources import ToolResources
from assistctl.local.domain.vector_stores import Chunking, NewVectorStore, VectorStores
from assistctl.local.storage import Store

THREAD_STORE_EXPIRY = {"anchor": "last_active_at", "days": 7}  # the API's thread-created stores


@dataclass(frozen=True)
class NewMessage:
    """A validated message: ``content`` parts and ``attachments`` as the API stores them."""

    role: str
    content: tuple[ApiObject, ...]
    attachments: tuple[ApiObject, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewThread:
    metadata: dict[str, Any] = field(default_factory=dict)
    tool_resources: ToolResources = ToolResources()
    messages: tuple[NewMessage, ...] = ()


def text_part(value: str) -> ApiObject:
    """A text content part, as messages store it."""
    return {"type": "text", "text": {"value": value, "annotations": []}}


class Threads:
    """``on_delete(thread_id)`` runs after a thread is deleted (its code session ends)."""

    def __init__(
        self,
        store: Store,
        vector_stores: VectorStores,
        on_delete: Callable[[str], None] = lambda thread_id: None,
    ) -> None:
        self._store = store
        self._vector_stores = vector_stores
        self._on_delete = on_delete

    def get(self, thread_id: str) -> ApiObject:
        return fetch(self._store, THREAD, thread_id, "thread")

    def get_json(self, thread_id: str) -> JsonText:
        """The thread as stored (exactly as the API shows it), or its 404."""
        return fetch_json(self._store, THREAD, thread_id, "thread")

    def create(self, spec: NewThread) -> ApiObject:
        """A thread with its first messages, in one transaction."""
        with self._store.transaction():
            thread: ApiObject = {
                "id": new_id("thread"),
                "object": "thread",
                "created_at": now(),
                "metadata": spec.metadata,
                "tool_resources": spec.tool_resources.stored(self._vector_stores),
            }
            self._store.insert(THREAD, thread)
            for message in spec.messages:
                self.add_message(thread["id"], message)
            return self.get(thread["id"])  # as its messages' attachments left it

    def update(
        self,
        thread: ApiObject,
        metadata: dict[str, Any] | None,
        tool_resources: ToolResources | None,
    ) -> ApiObject:
        """Change what is given (None keeps it)."""
        with self._store.transaction():
            if metadata is not None:
                thread["metadata"] = metadata
            if tool_resources is not None:
                thread["tool_resources"] = tool_resources.stored(self._vector_stores)
            return self._store.put(THREAD, thread)

    def delete(self, thread_id: str) -> None:
        """A thread with its messages, runs and run steps."""
        with self._store.transaction():
            self.get(thread_id)
            for run in self._store.all(RUN, thread_id):
                self._store.delete_children(RUN_STEP, run["id"])
            self._store.delete_children(RUN, thread_id)
            self._store.delete_children(MESSAGE, thread_id)
            self._store.delete(THREAD, thread_id)
        self._on_delete(thread_id)

    # --- messages ---------------------------------------------------------------------------

    def get_message(self, thread_id: str, message_id: str) -> ApiObject:
        return fetch(
            self._store,
            MESSAGE,
            message_id,
            "message",
            thread_id,
            check_parent=lambda: self.get(thread_id),
        )

    def get_message_json(self, thread_id: str, message_id: str) -> JsonText:
        """The message as stored (exactly as the API shows it), or the 404 ``get_message``
        answers."""
        return fetch_json(
            self._store,
            MESSAGE,
            message_id,
            "message",
            thread_id,
            check_parent=lambda: self.get_json(thread_id),
        )

    def add_message(
        self,
        thread_id: str,
        spec: NewMessage,
        *,
        assistant_id: str | None = None,
        run_id: str | None = None,
    ) -> ApiObject:
        created_at = now()
        message: ApiObject = {
            "id": new_id("msg"),
            "object": "thread.message",
            "created_at": created_at,
            "thread_id": thread_id,
            "status": "completed",
            "incomplete_details": None,
            "completed_at": created_at,
            "incomplete_at": None,
            "role": spec.role,
            "content": list(spec.content),
            "assistant_id": assistant_id,
            "run_id": run_id,
            "attachments": list(spec.attachments),
            "metadata": spec.metadata,
        }
        with self._store.transaction():
            self._store.insert(MESSAGE, message, thread_id)
            self._apply_attachments(thread_id, message["attachments"])
        return message

    def messages(self, thread_id: str) -> list[ApiObject]:
        """Every message of a thread, in conversation order."""
        return self._store.all(MESSAGE, thread_id)

    def messages_page(self, thread_id: str, request: PageRequest, run_id: str | None) -> JsonText:
        where = {"run_id": run_id} if run_id else None
        return list_page_json(self._store, MESSAGE, thread_id, request, where)

    def update_message(self, message: ApiObject, metadata: dict[str, Any] | None) -> ApiObject:
        if metadata is not None:
            message["metadata"] = metadata
        return self._store.put(MESSAGE, message, message["thread_id"])

    def delete_message(self, thread_id: str, message_id: str) -> None:
        with self._store.transaction():
            self.get_message(thread_id, message_id)
            self._store.delete(MESSAGE, message_id, thread_id)

    def _apply_attachments(self, thread_id: str, attachments: list[ApiObject]) -> None:
        """Make attached files usable by the thread's runs, as the API does (see the module
        doc). A store id the thread names that no longer exists is replaced by a new store."""
        search_files = _files_for(attachments, "file_search")
        code_files = _files_for(attachments, "code_interpreter")
        if not search_files and not code_files:
            return
        with self._store.transaction():
            thread = self.get(thread_id)
            resources = thread.get("tool_resources") or {}
            if code_files:
                known = (resources.get("code_interpreter") or {}).get("file_ids") or []
                resources["code_interpreter"] = {
                    "file_ids": list(dict.fromkeys(known + code_files))
                }
            if search_files:
                store_ids = (resources.get("file_search") or {}).get("vector_store_ids") or []
                existing = [i for i in store_ids if self._vector_stores.exists(i)]
                if existing:
                    for file_id in search_files:
                        self._vector_stores.attach(existing[0], file_id, {}, Chunking())
                else:
                    created = self._vector_stores.create(
                        NewVectorStore(
                            file_ids=tuple(search_files), expires_after=dict(THREAD_STORE_EXPIRY)
                        )
                    )
                    resources["file_search"] = {"vector_store_ids": [created["id"]]}
            thread["tool_resources"] = resources
            self._store.put(THREAD, thread)


def _files_for(attachments: list[ApiObject], tool: str) -> list[str]:
    return list(
        dict.fromkeys(
            a["file_id"] for a in attachments if any(t["type"] == tool for t in a["tools"])
        )
    )
