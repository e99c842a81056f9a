"""Which table holds each record type, and the indexed columns taken from its objects.

Every table has ``seq`` (insertion order: the API's ``created_at`` order with ties broken, the
key of every cursor), ``id``, ``project`` (the owner), ``created_at`` and ``data`` (the object as
JSON, answered back as stored); a child table has its parent's id column (``thread_id``,
``vector_store_id``, ...); some have columns the API filters on (``purpose``, ``run_id``,
``status``, the indexing state of a vector-store file) or that a run reads instead of the JSON
(a message's role and text). Those columns are written from the
object on every insert and update, so they never drift from ``data``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

StoredObject = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """An indexed column and how it is read from an object."""

    name: str
    value: Callable[[StoredObject], Any]


def key(name: str) -> Column:
    """A column that mirrors the object's key ``name`` (None where it is missing)."""
    return Column(name, lambda obj: obj.get(name))


def message_text(message: StoredObject) -> str:
    """The text parts of a message, joined by blank lines (images are skipped): what a run
    sends its engine, kept beside the message so a run reads it without decoding the JSON."""
    parts = []
    for block in message.get("content") or []:
        if block.get("type") == "text":
            parts.append(block["text"]["value"])
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Table:
    """``computed``: filters on a value derived in SQL at a moment (``?`` is the moment)."""

    name: str
    parent: str | None = None
    columns: tuple[Column, ...] = ()
    computed: tuple[tuple[str, str], ...] = ()
    keyed_by_type: bool = False


# A vector-store file's status as of the moment ``?``: indexing takes until ``ready_at``.
ATTACHMENT_STATUS = (
    "(CASE WHEN cancelled = 1 THEN 'cancelled' WHEN ready_at > ? THEN 'in_progress' "
    "ELSE outcome END)"
)

TABLES: dict[str, Table] = {
    "assistant": Table("assistants"),
    "file": Table("files", columns=(key("purpose"),)),
    "vector_store": Table("vector_stores"),
    "vector_store.file": Table(
        "vector_store_files",
        "vector_store_id",
        (
            Column("ready_at", lambda obj: obj["_ready_at"]),
            Column("outcome", lambda obj: obj["_outcome"]),
            Column("cancelled", lambda obj: 1 if obj.get("_cancelled") else 0),
            Column("usage_bytes", lambda obj: obj["_usage_bytes"]),
        ),
        (("status", ATTACHMENT_STATUS),),
    ),
    "vector_store.file_batch": Table("file_batches", "vector_store_id"),
    "thread": Table("threads"),
    "thread.message": Table(
        "messages",
        "thread_id",
        (
            key("run_id"),
            key("role"),
            Column("content_text", message_text),
        ),
    ),
    "thread.run": Table("runs", "thread_id", (key("status"),)),
    "thread.run.step": Table("run_steps", "run_id"),
    "upload": Table("uploads"),
    "upload.part": Table("upload_parts", "upload_id"),
    "response": Table("responses"),
    "response.event": Table("response_events", "response_id"),
    "conversation": Table("conversations"),
    "conversation.item": Table("conversation_items", "conversation_id"),
}


OTHER = Table("records", "parent", keyed_by_type=True)


def table_of(type: str) -> Table:
    """The table of a record type; a type without its own table yet lives in ``records``
    (keyed by type), so a new kind of object works before it earns its table."""
    return TABLES.get(type, OTHER)
