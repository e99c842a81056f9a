"""/v1/vector_stores (+ files, file batches, search) through the SDK over real HTTP."""

from __future__ import annotations

import time

import openai
import pytest
from openai.types import VectorStore, VectorStoreDeleted
from openai.types.vector_stores import VectorStoreFile, VectorStoreFileBatch

from ..tools import database_rows

RETURNS = b"Returns are accepted within 30 days of delivery. Refunds go to the original card."
SHIPPING = b"Shipping is free for orders over 50 euros. Express delivery costs 9 euros."


def upload(client, name, content):
    return client.files.create(file=(name, content), purpose="assistants")


def wait_until(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_create_with_files_counts_status_and_usage(client):
    good = upload(client, "returns.md", RETURNS)
    binary = upload(client, "logo.png", b"\x89PNG\x00\x01")
    empty = upload(client, "empty.md", b"  \n")
    store = client.vector_stores.create(
        name="handbook",
        file_ids=[good.id, binary.id, empty.id],
        metadata={"assistctl_stack": "demo"},
        expires_after={"anchor": "last_active_at", "days": 7},
    )
    VectorStore.model_validate(store.model_dump())
    assert store.status == "completed"
    assert store.file_counts.model_dump() == {
        "cancelled": 0,
        "completed": 1,
        "failed": 2,
        "in_progress": 0,
        "total": 3,
    }
    assert store.usage_bytes == len(RETURNS)
    assert store.expires_at == store.last_active_at + 7 * 86_400
    failed = {f.id: f for f in client.vector_stores.files.list(store.id, filter="failed")}
    assert failed[binary.id].last_error.code == "unsupported_file"
    assert failed[empty.id].last_error.code == "invalid_file"
    for item in failed.values():
        VectorStoreFile.model_validate(item.model_dump())
    completed = client.vector_stores.files.list(store.id, filter="completed").data
    assert [f.id for f in completed] == [good.id]
    assert completed[0].chunking_strategy.static.max_chunk_size_tokens == 800
    other = client.vector_stores.create(name="small", file_ids=[good.id])
    listed = client.vector_stores.list().data  # every store's counts, read in one go
    assert listed == [client.vector_stores.retrieve(i) for i in (other.id, store.id)]


def test_update_list_and_delete_stores(client):
    ids = [client.vector_stores.create(name=f"s{i}").id for i in range(3)]
    updated = client.vector_stores.update(
        ids[0], name="renamed", metadata={"k": "v"}, expires_after=None
    )
    assert (updated.name, updated.metadata, updated.expires_at) == ("renamed", {"k": "v"}, None)
    page = client.vector_stores.list(limit=2)
    assert [s.id for s in page.data] == [ids[2], ids[1]] and page.has_more
    assert [s.id for s in client.vector_stores.list(after=ids[1]).data] == [ids[0]]
    deleted = client.vector_stores.delete(ids[0])
    VectorStoreDeleted.model_validate(deleted.model_dump())
    with pytest.raises(openai.NotFoundError) as raised:
        client.vector_stores.retrieve(ids[0])
    assert raised.value.body["message"] == f"No vector store found with id '{ids[0]}'."


def test_indexing_delay_moves_files_from_in_progress_to_completed(client, admin):
    admin.set_faults(indexing_delay_s=0.4)
    store = client.vector_stores.create(name="slow")
    file = upload(client, "returns.md", RETURNS)
    attached = client.vector_stores.files.create(store.id, file_id=file.id)
    assert attached.status == "in_progress"
    assert client.vector_stores.retrieve(store.id).status == "in_progress"
    assert client.vector_stores.search(store.id, query="refunds").data == []
    wait_until(
        lambda: (
            client.vector_stores.files.retrieve(file.id, vector_store_id=store.id).status
            == "completed"
        )
    )
    assert client.vector_stores.retrieve(store.id).status == "completed"
    assert client.vector_stores.search(store.id, query="refunds").data


def test_file_attributes_create_update_retrieve_delete(client):
    store = client.vector_stores.create(name="kb")
    file = upload(client, "returns.md", RETURNS)
    attached = client.vector_stores.files.create(
        store.id,
        file_id=file.id,
        attributes={"assistctl_sha256": "abc", "rank": 2, "draft": False},
        chunking_strategy={
            "type": "static",
            "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50},
        },
    )
    VectorStoreFile.model_validate(attached.model_dump())
    assert attached.attributes == {"assistctl_sha256": "abc", "rank": 2, "draft": False}
    assert attached.chunking_strategy.static.max_chunk_size_tokens == 100
    again = client.vector_stores.files.create(store.id, file_id=file.id)
    assert again.id == file.id and client.vector_stores.retrieve(store.id).file_counts.total == 1
    updated = client.vector_stores.files.update(
        file.id, vector_store_id=store.id, attributes={"assistctl_sha256": "def"}
    )
    assert updated.attributes == {"assistctl_sha256": "def"}
    fetched = client.vector_stores.files.retrieve(file.id, vector_store_id=store.id)
    assert fetched.attributes == {"assistctl_sha256": "def"}
    deleted = client.vector_stores.files.delete(file.id, vector_store_id=store.id)
    assert deleted.deleted and deleted.object == "vector_store.file.deleted"
    assert client.files.retrieve(file.id).id == file.id  # the file itself stays
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(file.id, vector_store_id=store.id)


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"file_id": "file-missing"}, None),
        ({"attributes": {f"k{i}": "v" for i in range(17)}}, "attributes"),
        ({"attributes": {"k": ["list"]}}, "attributes.k"),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0},
                }
            },
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 150},
                }
            },
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
    ],
)
def test_attach_validation(client, arguments, param):
    store = client.vector_stores.create(name="kb")
    file = upload(client, "returns.md", RETURNS)
    arguments = {"file_id": file.id, **arguments}
    error = openai.NotFoundError if param is None else openai.BadRequestError
    with pytest.raises(error) as raised:
        client.vector_stores.files.create(store.id, **arguments)
    if param is not None:
        assert raised.value.body["param"] == param


def test_store_validation_and_unknown_ids(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.vector_stores.create(expires_after={"anchor": "last_active_at", "days": 0})
    assert raised.value.body["param"] == "expires_after.days"
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.create(metadata={"k": "v" * 513})
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.create(file_ids=["file-missing"])
    assert client.vector_stores.list().data == []  # the failed create left nothing behind
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.list("vs_missing")
    with pytest.raises(openai.BadRequestError) as raised:
        client.vector_stores.files.list(client.vector_stores.create().id, filter="done")
    assert raised.value.body["param"] == "filter"


def test_a_missing_store_is_named_before_what_it_would_hold(client):
    store = client.vector_stores.create(name="kb")
    lookups = [
        lambda vs: client.vector_stores.files.retrieve("file-x", vector_store_id=vs),
        lambda vs: client.vector_stores.files.update("file-x", vector_store_id=vs, attributes={}),
        lambda vs: client.vector_stores.files.delete("file-x", vector_store_id=vs),
        lambda vs: client.vector_stores.files.content("file-x", vector_store_id=vs),
        lambda vs: client.vector_stores.file_batches.retrieve("vsfb_x", vector_store_id=vs),
        lambda vs: client.vector_stores.file_batches.cancel("vsfb_x", vector_store_id=vs),
        lambda vs: client.vector_stores.file_batches.list_files("vsfb_x", vector_store_id=vs),
    ]
    for lookup in lookups:
        with pytest.raises(openai.NotFoundError) as raised:
            lookup("vs_missing")
        assert raised.value.body["message"] == "No vector store found with id 'vs_missing'."
        with pytest.raises(openai.NotFoundError) as raised:
            lookup(store.id)
        assert "vs_missing" not in raised.value.body["message"]
        assert "_x'" in raised.value.body["message"] or "-x'" in raised.value.body["message"]


def test_file_batches(client, admin):
    store = client.vector_stores.create(name="kb")
    first = upload(client, "returns.md", RETURNS)
    second = upload(client, "shipping.md", SHIPPING)
    batch = client.vector_stores.file_batches.create(store.id, file_ids=[first.id, second.id])
    VectorStoreFileBatch.model_validate(batch.model_dump())
    assert batch.status == "completed" and batch.file_counts.completed == 2
    assert client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id) == batch
    listed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    assert {f.id for f in listed.data} == {first.id, second.id}

    third = upload(client, "more.md", b"Gift cards never expire.")
    per_file = client.vector_stores.file_batches.create(
        store.id, files=[{"file_id": third.id, "attributes": {"path": "more.md"}}]
    )
    attached = client.vector_stores.files.retrieve(third.id, vector_store_id=store.id)
    assert per_file.file_counts.total == 1 and attached.attributes == {"path": "more.md"}

    admin.set_faults(indexing_delay_s=30)
    slow = upload(client, "slow.md", b"Indexing takes a while here.")
    pending = client.vector_stores.file_batches.create(store.id, file_ids=[slow.id])
    assert pending.status == "in_progress"
    cancelled = client.vector_stores.file_batches.cancel(pending.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled" and cancelled.file_counts.cancelled == 1
    only_cancelled = client.vector_stores.file_batches.list_files(
        pending.id, vector_store_id=store.id, filter="cancelled"
    )
    assert [f.id for f in only_cancelled.data] == [slow.id]
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.file_batches.retrieve("vsfb_missing", vector_store_id=store.id)


def test_search_ranks_chunks_and_filters_attributes(client):
    store = client.vector_stores.create(name="kb")
    long_text = " ".join(f"filler{i}" for i in range(300)) + " the warranty lasts two years"
    files = {
        "returns": upload(client, "returns.md", RETURNS),
        "shipping": upload(client, "shipping.md", SHIPPING),
        "warranty": upload(client, "warranty.md", long_text.encode()),
    }
    for name, file in files.items():
        client.vector_stores.files.create(
            store.id,
            file_id=file.id,
            attributes={"topic": name},
            chunking_strategy={
                "type": "static",
                "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20},
            },
        )
    hits = client.vector_stores.search(store.id, query="how long does the warranty last").data
    assert hits[0].file_id == files["warranty"].id and hits[0].filename == "warranty.md"
    assert "warranty lasts two years" in hits[0].content[0].text
    assert len(hits[0].content[0].text.split()) <= 100
    assert 0 < hits[0].score <= 1
    shipping = client.vector_stores.search(
        store.id, query="express delivery cost", max_num_results=1
    )
    assert [h.file_id for h in shipping.data] == [files["shipping"].id]
    filtered = client.vector_stores.search(
        store.id,
        query="delivery",
        filters={"type": "eq", "key": "topic", "value": "returns"},
    )
    assert {h.file_id for h in filtered.data} == {files["returns"].id}
    assert client.vector_stores.search(store.id, query="zebra").data == []
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.search(store.id, query="x", max_num_results=51)


@pytest.mark.parametrize(
    ("ranking_options", "param"),
    [
        ({"score_threshold": 2}, "ranking_options.score_threshold"),
        ({"ranker": "best"}, "ranking_options.ranker"),
        ({"ranker": "auto", "boost": 2}, "boost"),
    ],
)
def test_search_ranking_options_are_validated(client, ranking_options, param):
    store = client.vector_stores.create(name="kb")
    with pytest.raises(openai.BadRequestError) as raised:
        client.vector_stores.search(store.id, query="x", ranking_options=ranking_options)
    assert raised.value.body["param"] == param


def test_search_score_threshold_drops_weaker_hits(client):
    store = client.vector_stores.create(name="kb", file_ids=[upload(client, "r.md", RETURNS).id])
    (hit,) = client.vector_stores.search(store.id, query="refunds").data
    above = {"ranker": "none", "score_threshold": min(1.0, hit.score + 0.01)}
    assert client.vector_stores.search(store.id, query="refunds", ranking_options=above).data == []


def test_deleting_a_store_removes_its_attachments(client, local_server):
    file = upload(client, "returns.md", RETURNS)
    store = client.vector_stores.create(name="kb", file_ids=[file.id])
    client.vector_stores.delete(store.id)
    account = local_server.account
    assert account.store.count("vector_store.file") == 0
    assert database_rows(local_server, "SELECT COUNT(*) FROM chunk_rows")[0][0] == 0
    assert client.files.retrieve(file.id).id == file.id


def test_a_file_batch_takes_up_to_2000_files_while_a_new_store_takes_500(client):
    """The API's limits differ: 500 file_ids when creating a store, 2000 files per batch."""
    uploads = [upload(client, f"f{index}.md", f"note {index}".encode()) for index in range(501)]
    ids = [u.id for u in uploads]
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.create(name="too many", file_ids=ids)
    store = client.vector_stores.create(name="batched")
    batch = client.vector_stores.file_batches.create(
        store.id, files=[{"file_id": i, "attributes": {"n": 1}} for i in ids]
    )
    assert batch.file_counts.total == 501
    with pytest.raises(openai.BadRequestError) as refused:
        client.vector_stores.file_batches.create(store.id, file_ids=[ids[0]] * 2001)
    assert refused.value.body["param"] == "file_ids"
