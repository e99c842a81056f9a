"""/v1/files through the SDK: upload, list with purpose, retrieve, content, delete."""

from __future__ import annotations

import openai
import pytest
from openai.types import FileDeleted, FileObject


def upload(client, name="notes.md", content=b"hello world", purpose="assistants"):
    return client.files.create(file=(name, content), purpose=purpose)


def test_upload_retrieve_delete(client):
    created = upload(client)
    FileObject.model_validate(created.model_dump())
    assert created.id.startswith("file-")
    assert (created.filename, created.bytes, created.purpose) == ("notes.md", 11, "assistants")
    assert created.status == "processed"
    assert client.files.retrieve(created.id) == created
    deleted = client.files.delete(created.id)
    FileDeleted.model_validate(deleted.model_dump())
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(created.id)


def test_content_refused_for_assistants_purpose(client):
    assistants_file = upload(client, content=b"secret")
    with pytest.raises(openai.BadRequestError, match="purpose: assistants"):
        client.files.content(assistants_file.id)
    batch_file = upload(client, "in.jsonl", b'{"a": 1}\n', purpose="batch")
    assert client.files.content(batch_file.id).content == b'{"a": 1}\n'


def test_binary_upload_round_trips_bytes(client):
    payload = bytes(range(256)) * 40
    created = upload(client, "blob.bin", payload, purpose="user_data")
    assert created.bytes == len(payload)
    assert client.files.content(created.id).content == payload


def test_list_filters_by_purpose_and_pages(client):
    ids = [upload(client, f"f{i}.md", b"x").id for i in range(3)]
    other = upload(client, "b.jsonl", b"{}", purpose="batch")
    assert [f.id for f in client.files.list(purpose="assistants").data] == ids[::-1]
    assert [f.id for f in client.files.list(purpose="batch").data] == [other.id]
    first = client.files.list(limit=2, order="asc")
    assert [f.id for f in first.data] == ids[:2] and first.has_more
    rest = client.files.list(limit=2, order="asc", after=ids[1])
    assert [f.id for f in rest.data] == [ids[2], other.id] and not rest.has_more
    for page in (first, rest):
        for item in page.data:
            FileObject.model_validate(item.model_dump())


@pytest.mark.parametrize(
    ("fields", "param"),
    [({"purpose": "bogus"}, "purpose"), ({}, "purpose")],
)
def test_upload_validation(local_server, client, fields, param):
    with pytest.raises(openai.BadRequestError) as raised:
        client.post(
            "/files",
            body=fields,
            files=[("file", ("a.txt", b"x"))],
            cast_to=FileObject,
            options={"headers": {"Content-Type": "multipart/form-data"}},
        )
    assert raised.value.body["param"] == param


def test_upload_without_file_part_is_400(client):
    with pytest.raises(openai.BadRequestError, match="'file'"):
        client.post(
            "/files",
            body={"purpose": "assistants"},
            files=[("other", ("a.txt", b"x"))],
            cast_to=FileObject,
            options={"headers": {"Content-Type": "multipart/form-data"}},
        )


def test_deleting_a_file_detaches_it_from_vector_stores(client):
    created = upload(client, content=b"refunds take five days")
    kept = upload(client, content=b"refunds are kept")
    stores = [
        client.vector_stores.create(name=f"kb{i}", file_ids=[created.id, kept.id]) for i in range(2)
    ]
    assert client.vector_stores.search(stores[0].id, query="five").data
    client.files.delete(created.id)
    for store in stores:
        assert [f.id for f in client.vector_stores.files.list(store.id).data] == [kept.id]
        assert client.vector_stores.search(store.id, query="five").data == []
        assert client.vector_stores.retrieve(store.id).file_counts.total == 1


def test_a_file_over_the_size_limit_is_refused_and_not_stored(client, monkeypatch):
    from assistctl.local.api import files

    monkeypatch.setattr(files, "MAX_UPLOAD_BYTES", 10)  # the API's 512 MB, scaled down
    with pytest.raises(openai.BadRequestError) as raised:
        upload(client, content=b"eleven byte")
    assert raised.value.body["param"] == "file"
    assert "10 bytes" in raised.value.body["message"]
    assert upload(client, content=b"ten bytes!").bytes == 10
    assert [f.bytes for f in client.files.list()] == [10]
