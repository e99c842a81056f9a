"""File batches: many files attached to a vector store in one request, followed as one.

A batch keeps the ids it attached (``_file_ids``); its status and counts are computed from
those attachments on read. Cancelling stops the files still being indexed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from assistctl.local.domain.pages import PageRequest
from assistctl.local.domain.records import (
    FILE_BATCH,
    VECTOR_STORE_FILE,
    ApiObject,
    fetch,
    new_id,
    now,
)
from assistctl.local.domain.vector_stores import (
    Chunking,
    VectorStores,
    attachment_view,
    file_counts,
)
from assistctl.local.storage import Store


@dataclass(frozen=True)
class BatchFile:
    """One file of a batch, with the attributes and chunking it is attached with."""

    file_id: str
    attributes: ApiObject
    chunking: Chunking


class FileBatches:
    def __init__(self, store: Store, vector_stores: VectorStores) -> None:
        self._store = store
        self._vector_stores = vector_stores

    def create(self, vector_store_id: str, files: list[BatchFile]) -> ApiObject:
        batch: ApiObject = {
            "id": new_id("vsfb"),
            "object": "vector_store.files_batch",
            "created_at": now(),
            "vector_store_id": vector_store_id,
            "_file_ids": list(dict.fromkeys(file.file_id for file in files)),
        }
        with self._store.transaction():
            self._vector_stores.get(vector_store_id)
            for file in files:
                self._vector_stores.attach(
                    vector_store_id, file.file_id, file.attributes, file.chunking
                )
            self._store.insert(FILE_BATCH, batch, vector_store_id)
        return self.view(batch)

    def get(self, vector_store_id: str, batch_id: str) -> ApiObject:
        return fetch(
            self._store,
            FILE_BATCH,
            batch_id,
            "file batch",
            vector_store_id,
            check_parent=lambda: self._vector_stores.get(vector_store_id),
        )

    def view(self, batch: ApiObject) -> ApiObject:
        moment = time.time()
        views = [attachment_view(a, moment) for a in self._attachments(batch)]
        counts = file_counts(views)
        if batch.get("_cancelled"):
            status = "cancelled"
        elif counts["in_progress"]:
            status = "in_progress"
        elif views and counts["failed"] == len(views):
            status = "failed"
        else:
            status = "completed"
        view = {k: v for k, v in batch.items() if not k.startswith("_")}
        view.update(status=status, file_counts=counts)
        return view

    def cancel(self, vector_store_id: str, batch_id: str) -> ApiObject:
        """Stop indexing what has not finished: those files become ``cancelled`` (no chunks)."""
        moment = time.time()
        stopped = False
        with self._store.transaction():
            batch = self.get(vector_store_id, batch_id)
            for attachment in self._attachments(batch):
                if attachment_view(attachment, moment)["status"] != "in_progress":
                    continue
                self._vector_stores.cancel_indexing(attachment)
                stopped = True
            if stopped:
                batch["_cancelled"] = True
                self._store.put(FILE_BATCH, batch, vector_store_id)
        return self.view(batch)

    def files_page(self, batch: ApiObject, request: PageRequest, status: str | None) -> ApiObject:
        """The batch's files still attached to its store, as a list page."""
        return self._vector_stores.files_page(
            batch["vector_store_id"], request, status, among=set(batch["_file_ids"])
        )

    def _attachments(self, batch: ApiObject) -> list[ApiObject]:
        """The batch's files still attached to its store, in batch order (one query)."""
        found = self._store.get_many(
            VECTOR_STORE_FILE, batch["_file_ids"], batch["vector_store_id"]
        )
        return [found[file_id] for file_id in batch["_file_ids"] if file_id in found]
