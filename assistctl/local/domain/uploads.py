"""Uploads: a large file sent in parts (``client.uploads``), then completed into a ``file``.

An upload announces its ``bytes``, ``filename`` and ``purpose``; each part's bytes are kept as
a blob of their own; completing it with the parts in order streams them into the new file's
blob (checked against ``bytes`` and an optional ``md5``) in one transaction, then drops the
parts. A pending upload expires an hour after creation (or ``expires_after``); expiry is
computed on read, like the API's ``status``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator

from assistctl.local.domain.errors import InvalidRequest
from assistctl.local.domain.files import Files
from assistctl.local.domain.records import UPLOAD, UPLOAD_PART, ApiObject, fetch, new_id, now
from assistctl.local.storage import Store

DEFAULT_EXPIRY_S = 3600


def upload_view(upload: ApiObject, moment: int | None = None) -> ApiObject:
    """The API's upload, ``expired`` once a pending upload is past ``expires_at``."""
    view = {k: v for k, v in upload.items() if not k.startswith("_")}
    if view["status"] == "pending" and (now() if moment is None else moment) >= view["expires_at"]:
        view["status"] = "expired"
    return view


class Uploads:
    def __init__(self, store: Store, files: Files) -> None:
        self._store = store
        self._files = files

    def create(
        self, filename: str, purpose: str, size: int, mime_type: str, expires_at: int | None
    ) -> ApiObject:
        created_at = now()
        upload: ApiObject = {
            "id": new_id("upload"),
            "object": "upload",
            "bytes": size,
            "created_at": created_at,
            "expires_at": expires_at or created_at + DEFAULT_EXPIRY_S,
            "filename": filename,
            "purpose": purpose,
            "status": "pending",
            "file": None,
            "_mime_type": mime_type,
        }
        self._store.insert(UPLOAD, upload)
        return upload_view(upload)

    def _pending(self, upload_id: str) -> ApiObject:
        upload = fetch(self._store, UPLOAD, upload_id, "upload")
        status = upload_view(upload)["status"]
        if status != "pending":
            raise InvalidRequest(f"Upload {upload_id} is {status}: it no longer accepts changes.")
        return upload

    def add_part(self, upload_id: str, chunks: Iterable[bytes], size: int) -> ApiObject:
        """A part of a pending upload, its bytes written as ``chunks`` yields them."""
        part: ApiObject = {
            "id": new_id("part"),
            "object": "upload.part",
            "created_at": now(),
            "upload_id": upload_id,
            "_bytes": size,
        }
        with self._store.transaction():
            self._pending(upload_id)
            self._store.put_blob_from(part["id"], size, chunks)
            self._store.insert(UPLOAD_PART, part, upload_id)
        return {k: v for k, v in part.items() if not k.startswith("_")}

    def complete(self, upload_id: str, part_ids: list[str], md5: str | None) -> ApiObject:
        """The upload's file, made of ``part_ids`` in this order; the upload, completed."""
        with self._store.transaction():
            upload = self._pending(upload_id)
            parts = self._store.get_many(UPLOAD_PART, part_ids, upload_id)
            for index, part_id in enumerate(part_ids):
                if part_id not in parts:
                    raise InvalidRequest(
                        f"Invalid 'part_ids[{index}]': no part {part_id} in upload {upload_id}.",
                        f"part_ids[{index}]",
                    )
            total = sum(parts[part_id]["_bytes"] for part_id in part_ids)
            if total != upload["bytes"]:
                raise InvalidRequest(
                    f"The parts hold {total} bytes, but the upload was created with "
                    f"{upload['bytes']} bytes.",
                    "part_ids",
                )
            digest = hashlib.md5(usedforsecurity=False)
            chunks = itertools.chain.from_iterable(
                self._store.blob_chunks(part_id) for part_id in part_ids
            )
            file = self._files.upload(
                upload["filename"], upload["purpose"], _hashed(chunks, digest), total, None
            )
            if md5 is not None and md5.lower() != digest.hexdigest():
                raise InvalidRequest(
                    f"The md5 checksum {md5} does not match the uploaded bytes.", "md5"
                )
            for part_id in parts:
                self._store.delete_blob(part_id)
            self._store.delete_children(UPLOAD_PART, upload_id)
            upload.update(status="completed", file=file)
            self._store.put(UPLOAD, upload)
        return upload_view(upload)

    def cancel(self, upload_id: str) -> ApiObject:
        """A pending upload, cancelled; its parts are dropped."""
        with self._store.transaction():
            upload = self._pending(upload_id)
            for part in self._store.all(UPLOAD_PART, upload_id):
                self._store.delete_blob(part["id"])
            self._store.delete_children(UPLOAD_PART, upload_id)
            upload["status"] = "cancelled"
            self._store.put(UPLOAD, upload)
        return upload_view(upload)


def _hashed(chunks: Iterable[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
