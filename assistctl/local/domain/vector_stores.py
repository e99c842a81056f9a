"""Vector stores and their files (attachments): indexing, status, expiry and search.

Attaching a file indexes it at once (chunks in the store's index) and records ``_ready_at`` =
now + the live indexing delay; the attachment reads as ``in_progress`` until then and as its
outcome after, computed on every read, so no background worker is needed and the delay is
exact. What text a file has is the ``documents`` module's business (PDF, Word, PowerPoint
and HTML are extracted; types ``file_search`` does not take fail with ``unsupported_file``).
A store's ``status``, ``file_counts`` and ``usage_bytes`` are computed from its attachments
on read; ``expires_at`` from ``last_active_at``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistctl.local.domain.documents import document_text
from assistctl.local.domain.errors import NotFound
from assistctl.local.domain.files import Files
from assistctl.local.domain.pages import PageRequest, list_page
from assistctl.local.domain.records import (
    FILE,
    FILE_BATCH,
    VECTOR_STORE,
    VECTOR_STORE_FILE,
    ApiObject,
    fetch,
    new_id,
    now,
)
from assistctl.local.domain.search import (
    AUTO_MAX_TOKENS,
    AUTO_OVERLAP_TOKENS,
    SearchHit,
    chunk_text,
)
from assistctl.local.storage import AsOf, Store

DAY_S = 86_400
FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class Chunking:
    """A static chunking strategy (``auto`` is 800 tokens with 400 of overlap)."""

    max_chunk_size_tokens: int = AUTO_MAX_TOKENS
    chunk_overlap_tokens: int = AUTO_OVERLAP_TOKENS

    def body(self) -> ApiObject:
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.max_chunk_size_tokens,
                "chunk_overlap_tokens": self.chunk_overlap_tokens,
            },
        }


@dataclass(frozen=True)
class NewVectorStore:
    name: str = ""
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    expires_after: ApiObject | None = None
    file_ids: tuple[str, ...] = ()
    chunking: Chunking = Chunking()


def attachment_view(attachment: ApiObject, moment: float | None = None) -> ApiObject:
    """The API's vector-store file: private keys dropped, status as of ``moment``."""
    moment = time.time() if moment is None else moment
    view = {k: v for k, v in attachment.items() if not k.startswith("_")}
    if attachment.get("_cancelled"):
        status = "cancelled"
    elif moment < attachment["_ready_at"]:
        status = "in_progress"
    else:
        status = attachment["_outcome"]
    view["status"] = status
    view["last_error"] = attachment["_error"] if status == "failed" else None
    view["usage_bytes"] = attachment["_usage_bytes"] if status == "completed" else 0
    return view


def file_counts(views: list[ApiObject]) -> dict[str, int]:
    """The API's ``file_counts`` of some attachments' views."""
    counts = {status: 0 for status in FILE_STATUSES}
    for view in views:
        counts[view["status"]] += 1
    return {**counts, "total": len(views)}


def summary_file_counts(summary: dict[str, tuple[int, int]]) -> dict[str, int]:
    """The API's ``file_counts`` from a store's files counted by status."""
    counts = {status: summary.get(status, (0, 0))[0] for status in FILE_STATUSES}
    return {**counts, "total": sum(counts.values())}


class VectorStores:
    def __init__(self, store: Store, files: Files, indexing_delay_s: Callable[[], float]) -> None:
        self._store = store
        self._files = files
        self._indexing_delay_s = indexing_delay_s

    # --- stores ---------------------------------------------------------------------------

    def get(self, vector_store_id: str) -> ApiObject:
        return fetch(self._store, VECTOR_STORE, vector_store_id, "vector store")

    def exists(self, vector_store_id: str) -> bool:
        return self._store.get(VECTOR_STORE, vector_store_id) is not None

    def view(
        self,
        vector_store: ApiObject,
        summary: dict[str, tuple[int, int]] | None = None,
        moment: float | None = None,
    ) -> ApiObject:
        """The API's vector store with status, counts, usage and expiry computed as of
        ``moment`` (now), from its files counted by status (``summary``, read when not
        given)."""
        moment = time.time() if moment is None else moment
        if summary is None:
            summary = self._store.attachment_summaries([vector_store["id"]], moment)[
                vector_store["id"]
            ]
        view = {k: v for k, v in vector_store.items() if not k.startswith("_")}
        expires_after = vector_store.get("expires_after")
        expires_at = None
        if expires_after:
            expires_at = vector_store["last_active_at"] + expires_after["days"] * DAY_S
        counts = summary_file_counts(summary)
        if expires_at is not None and expires_at <= moment:
            status = "expired"
        elif counts["in_progress"]:
            status = "in_progress"
        else:
            status = "completed"
        view.update(
            status=status,
            file_counts=counts,
            usage_bytes=summary.get("completed", (0, 0))[1],
            expires_at=expires_at,
        )
        return view

    def create(self, spec: NewVectorStore) -> ApiObject:
        """A store with ``spec.file_ids`` attached; its view."""
        created_at = now()
        vector_store: ApiObject = {
            "id": new_id("vs"),
            "object": "vector_store",
            "created_at": created_at,
            "name": spec.name,
            "description": spec.description,
            "metadata": spec.metadata,
            "expires_after": spec.expires_after,
            "last_active_at": created_at,
        }
        if vector_store["description"] is None:
            del vector_store["description"]
        with self._store.transaction():
            self._store.insert(VECTOR_STORE, vector_store)
            for file_id in spec.file_ids:
                self.attach(vector_store["id"], file_id, {}, spec.chunking)
        return self.view(self.get(vector_store["id"]))

    def page(self, request: PageRequest) -> ApiObject:
        """A list page of stores, their files counted in one grouped query."""
        moment = time.time()
        result = list_page(self._store, VECTOR_STORE, "", request)
        summaries = self._store.attachment_summaries([v["id"] for v in result["data"]], moment)
        result["data"] = [self.view(v, summaries[v["id"]], moment) for v in result["data"]]
        return result

    def update(self, vector_store: ApiObject, changes: ApiObject) -> ApiObject:
        vector_store.update(changes)
        self._store.put(VECTOR_STORE, vector_store)
        return self.view(vector_store)

    def delete(self, vector_store_id: str) -> None:
        """The store with its attachments, chunks and file batches."""
        with self._store.transaction():
            self.get(vector_store_id)
            self._store.chunks.remove_store(vector_store_id)
            self._store.delete_children(VECTOR_STORE_FILE, vector_store_id)
            self._store.delete_children(FILE_BATCH, vector_store_id)
            self._store.delete(VECTOR_STORE, vector_store_id)

    def touch(self, vector_store_id: str) -> None:
        """Record activity: ``last_active_at`` anchors ``expires_after``."""
        vector_store = self._store.get(VECTOR_STORE, vector_store_id)
        if vector_store is not None:
            vector_store["last_active_at"] = now()
            self._store.put(VECTOR_STORE, vector_store)

    # --- search ---------------------------------------------------------------------------

    def search(
        self,
        vector_store_ids: list[str],
        query: str,
        max_results: int = 10,
        filters: ApiObject | None = None,
        score_threshold: float = 0.0,
    ) -> list[SearchHit]:
        """The best chunks of the completed files of ``vector_store_ids`` for ``query``, those
        whose attributes pass ``filters`` and scoring at least ``score_threshold`` (one query
        in the database's full-text index)."""
        chunks = self._store.chunks.search(
            list(dict.fromkeys(vector_store_ids)),
            query,
            max_results,
            filters=filters,
            score_threshold=score_threshold,
            moment=time.time(),
        )
        names: dict[str, str] = {
            file_id: file["filename"]
            for file_id, file in self._store.get_many(
                FILE, list({chunk.file_id for chunk in chunks})
            ).items()
        }
        return [
            SearchHit(
                chunk.file_id,
                names.get(chunk.file_id, chunk.file_id),
                chunk.text,
                chunk.score,
                chunk.attachment.get("attributes") or {},
            )
            for chunk in chunks
        ]

    # --- files of a store (attachments) ------------------------------------------------------

    def file_view(self, vector_store_id: str, file_id: str) -> ApiObject:
        return attachment_view(self.get_attachment(vector_store_id, file_id))

    def get_attachment(self, vector_store_id: str, file_id: str) -> ApiObject:
        """The attachment, or a 404 naming the vector store if that is what is missing."""
        attachment = self._store.get(VECTOR_STORE_FILE, file_id, vector_store_id)
        if attachment is None:
            self.get(vector_store_id)
            raise NotFound(
                f"No file found with id '{file_id}' in vector store '{vector_store_id}'."
            )
        return attachment

    def attach(
        self,
        vector_store_id: str,
        file_id: str,
        attributes: ApiObject,
        chunking: Chunking,
        *,
        replace_attributes: bool = True,
    ) -> ApiObject:
        """Attach and index one file; an existing attachment is kept (attributes updated)."""
        with self._store.transaction():
            existing = self._store.get(VECTOR_STORE_FILE, file_id, vector_store_id)
            if existing is not None:
                if attributes and replace_attributes:
                    existing["attributes"] = attributes
                    self._store.put(VECTOR_STORE_FILE, existing, vector_store_id)
                return existing
            file = self._files.get(file_id)
            text, error = document_text(self._files.bytes_of(file_id), file["filename"])
            usage = 0
            if text is not None:
                chunks = chunk_text(
                    text, chunking.max_chunk_size_tokens, chunking.chunk_overlap_tokens
                )
                self._store.chunks.index_file(vector_store_id, file_id, chunks)
                usage = sum(len(chunk.encode()) for chunk in chunks)
            attachment: ApiObject = {
                "id": file_id,
                "object": "vector_store.file",
                "created_at": now(),
                "vector_store_id": vector_store_id,
                "attributes": attributes,
                "chunking_strategy": chunking.body(),
                "_ready_at": time.time() + self._indexing_delay_s(),
                "_outcome": "completed" if text is not None else "failed",
                "_error": error,
                "_usage_bytes": usage,
            }
            self._store.insert(VECTOR_STORE_FILE, attachment, vector_store_id)
            self.touch(vector_store_id)
            return attachment

    def attach_new(
        self, vector_store_id: str, file_id: str, attributes: ApiObject, chunking: Chunking
    ) -> ApiObject:
        """``POST /files``: attach to an existing store; a file already attached is returned
        as it is."""
        with self._store.transaction():
            self.get(vector_store_id)
            attachment = self.attach(
                vector_store_id, file_id, attributes, chunking, replace_attributes=False
            )
        return attachment_view(attachment)

    def detach(self, vector_store_id: str, file_id: str) -> None:
        with self._store.transaction():
            self.get_attachment(vector_store_id, file_id)
            self._store.chunks.remove(vector_store_id, file_id)
            self._store.delete(VECTOR_STORE_FILE, file_id, vector_store_id)

    def cancel_indexing(self, attachment: ApiObject) -> None:
        """A file whose indexing is stopped: ``cancelled``, with no chunks."""
        vector_store_id = attachment["vector_store_id"]
        attachment["_cancelled"] = True
        self._store.put(VECTOR_STORE_FILE, attachment, vector_store_id)
        self._store.chunks.remove(vector_store_id, attachment["id"])

    def files_page(
        self,
        vector_store_id: str,
        request: PageRequest,
        status: str | None,
        among: set[str] | None = None,
    ) -> ApiObject:
        """A list page of a store's files, only those with ``status`` (as of now) and, given
        ``among``, only those file ids."""
        where: dict[str, object] = {}
        if among is not None:
            where["id"] = sorted(among)
        if status is not None:
            where["status"] = AsOf(status, time.time())
        result = list_page(self._store, VECTOR_STORE_FILE, vector_store_id, request, where)
        result["data"] = [attachment_view(a) for a in result["data"]]
        return result

    def set_attributes(
        self, vector_store_id: str, file_id: str, attributes: ApiObject
    ) -> ApiObject:
        with self._store.transaction():
            attachment = self.get_attachment(vector_store_id, file_id)
            attachment["attributes"] = attributes
            self._store.put(VECTOR_STORE_FILE, attachment, vector_store_id)
        return attachment_view(attachment)

    def file_content(self, vector_store_id: str, file_id: str) -> ApiObject:
        """The parsed text of an attached file, as the API's one-page list of text parts."""
        self.get_attachment(vector_store_id, file_id)
        filename = self._files.get(file_id)["filename"]
        text, _ = document_text(self._files.bytes_of(file_id), filename)
        data = [{"type": "text", "text": text}] if text is not None else []
        return {"object": "vector_store.file_content.page", "data": data, "has_more": False}
