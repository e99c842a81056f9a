"""Files: uploaded bytes and their ``file`` objects.

Bytes live in the store's blobs under the file id. Deleting a file also removes it from every
vector store (attachments and chunks), so search never cites a file that is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from assistctl.local.domain.errors import InvalidRequest, NotFound
from assistctl.local.domain.pages import PageRequest, list_page_json
from assistctl.local.domain.records import (
    FILE,
    VECTOR_STORE_FILE,
    ApiObject,
    JsonText,
    new_id,
    now,
)
from assistctl.local.storage import Store

NOT_DOWNLOADABLE = ("assistants",)
CHUNK_BYTES = 1024 * 1024


def chunks_of(source: BinaryIO) -> Iterator[bytes]:
    """A file's bytes from where it stands, a megabyte at a time."""
    return iter(lambda: source.read(CHUNK_BYTES), b"")


class Files:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, file_id: str) -> ApiObject:
        file = self._store.get(FILE, file_id)
        if file is None:
            raise NotFound(f"No such File object: {file_id}", param="id")
        return file

    def exists(self, file_id: str) -> bool:
        return self._store.get(FILE, file_id) is not None

    def bytes_of(self, file_id: str) -> bytes:
        return self._store.get_blob(file_id) or b""

    def upload(
        self,
        filename: str,
        purpose: str,
        chunks: Iterable[bytes],
        size: int,
        expires_at: int | None,
    ) -> ApiObject:
        """Record an uploaded file (object and bytes) in one transaction; its ``size`` bytes
        are written as ``chunks`` yields them, so memory stays bounded."""
        file: ApiObject = {
            "id": new_id("file", "-"),
            "object": "file",
            "bytes": size,
            "created_at": now(),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": expires_at,
        }
        with self._store.transaction():
            self._store.put_blob_from(file["id"], size, chunks)
            self._store.insert(FILE, file)
        return file

    def get_json(self, file_id: str) -> JsonText:
        text = self._store.get_text(FILE, file_id)
        if text is None:
            raise NotFound(f"No such File object: {file_id}", param="id")
        return JsonText(text.encode())

    def page(self, request: PageRequest, purpose: str | None) -> JsonText:
        where = {"purpose": purpose} if purpose else None
        return list_page_json(self._store, FILE, "", request, where)

    def content(self, file_id: str) -> bytes:
        """The bytes of a downloadable file (the API keeps ``assistants`` files to itself)."""
        file = self.get(file_id)
        if file["purpose"] in NOT_DOWNLOADABLE:
            raise InvalidRequest(f"Not allowed to download files of purpose: {file['purpose']}")
        return self.bytes_of(file_id)

    def delete(self, file_id: str) -> None:
        """The file, its bytes, and its attachments and chunks in every vector store."""
        with self._store.transaction():
            self.get(file_id)
            self._store.delete_everywhere(VECTOR_STORE_FILE, file_id)
            self._store.chunks.remove_file_everywhere(file_id)
            self._store.delete(FILE, file_id)
            self._store.delete_blob(file_id)
