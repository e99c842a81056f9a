"""``/v1/uploads`` through the SDK's ``client.uploads``: parts, completion into a file of the
same storage, cancel, and the API's refusals."""

from __future__ import annotations

import hashlib

import openai
import pytest
from openai.types import FileObject, Upload


def test_the_sdk_helper_uploads_a_file_in_parts(client, tmp_path):
    content = b"".join(f"line {n}\n".encode() for n in range(5000))
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    upload = client.uploads.upload_file_chunked(
        file=path, mime_type="text/plain", purpose="user_data", part_size=10_000
    )
    assert isinstance(upload, Upload) and upload.status == "completed"
    assert isinstance(upload.file, FileObject)
    assert upload.file.bytes == len(content) and upload.file.filename == "notes.txt"
    assert client.files.content(upload.file.id).read() == content
    assert upload.file.id in [f.id for f in client.files.list()]


def test_parts_are_joined_in_the_order_given_and_md5_is_checked(client):
    upload = client.uploads.create(
        bytes=6, filename="ab.md", mime_type="text/markdown", purpose="assistants"
    )
    assert upload.status == "pending" and upload.expires_at > upload.created_at
    first = client.uploads.parts.create(upload.id, data=b"abc")
    second = client.uploads.parts.create(upload.id, data=b"def")
    with pytest.raises(openai.BadRequestError) as refused:
        client.uploads.complete(upload.id, part_ids=[second.id, first.id], md5="0" * 32)
    assert refused.value.body["param"] == "md5"
    with pytest.raises(openai.BadRequestError):
        client.uploads.complete(upload.id, part_ids=[first.id])  # 3 of 6 bytes
    done = client.uploads.complete(
        upload.id,
        part_ids=[second.id, first.id],
        md5=hashlib.md5(b"defabc", usedforsecurity=False).hexdigest(),
    )
    assert done.status == "completed"
    store = client.vector_stores.create(file_ids=[done.file.id])
    assert client.vector_stores.files.retrieve(done.file.id, vector_store_id=store.id)
    with pytest.raises(openai.BadRequestError):
        client.uploads.parts.create(upload.id, data=b"more")


def test_a_cancelled_upload_takes_no_more_parts(client):
    upload = client.uploads.create(
        bytes=3, filename="x.txt", mime_type="text/plain", purpose="assistants"
    )
    part = client.uploads.parts.create(upload.id, data=b"abc")
    assert client.uploads.cancel(upload.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.uploads.complete(upload.id, part_ids=[part.id])
    with pytest.raises(openai.NotFoundError):
        client.uploads.cancel("upload_missing")


@pytest.mark.parametrize(
    "fields",
    [
        {"bytes": 0},
        {"bytes": 513 * 1024 * 1024},
        {"purpose": "everything"},
        {"expires_after": {"anchor": "created_at", "seconds": 10}},
    ],
)
def test_bad_uploads_are_refused(client, fields):
    body = {"bytes": 3, "filename": "x.txt", "mime_type": "text/plain", "purpose": "assistants"}
    with pytest.raises(openai.BadRequestError):
        client.uploads.create(**{**body, **fields})
