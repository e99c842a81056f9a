"""The SQLite store: CRUD, API-style paging, transactions, durability, the chunk index."""

from __future__ import annotations

import pytest

from assistctl.local.domain.records import new_id
from assistctl.local.storage import CursorNotFound, IndexedChunk, Store


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / "db.sqlite3")
    yield opened
    opened.close()


def fill(store, count, parent=""):
    return [store.insert("thing", {"id": f"t{i}", "n": i}, parent)["id"] for i in range(count)]


def test_crud(store):
    store.insert("thing", {"id": "a", "v": 1})
    assert store.get("thing", "a") == {"id": "a", "v": 1}
    store.put("thing", {"id": "a", "v": 2})
    assert store.get("thing", "a")["v"] == 2
    assert store.find("thing", "a") == ("", {"id": "a", "v": 2})
    with pytest.raises(KeyError):
        store.put("thing", {"id": "missing"})
    assert store.delete("thing", "a") and not store.delete("thing", "a")
    assert store.get("thing", "a") is None


def test_many_at_once(store):
    fill(store, 3, "p1")
    fill(store, 2, "p2")
    store.insert("other", {"id": "t0"}, "p1")
    assert store.get_many("thing", ["t2", "t0", "missing"], "p1") == {
        "t2": {"id": "t2", "n": 2},
        "t0": {"id": "t0", "n": 0},
    }
    assert store.get_many("thing", [], "p1") == {}
    grouped = store.children("thing", ["p1", "p2", "p3"])
    assert {parent: [o["id"] for o in found] for parent, found in grouped.items()} == {
        "p1": ["t0", "t1", "t2"],
        "p2": ["t0", "t1"],
        "p3": [],
    }
    assert store.delete_everywhere("thing", "t1") == 2
    assert store.get("thing", "t1", "p1") is None and store.get("thing", "t1", "p2") is None
    assert store.get("other", "t0", "p1") is not None


def test_paging_like_the_api(store):
    ids = fill(store, 5)
    page = store.list("thing", limit=2)
    assert [o["id"] for o in page.data] == ["t4", "t3"] and page.has_more
    assert page.body()["first_id"] == "t4" and page.body()["last_id"] == "t3"
    assert [o["id"] for o in store.list("thing", after="t3", limit=10).data] == ["t2", "t1", "t0"]
    assert [o["id"] for o in store.list("thing", order="asc", limit=10).data] == ids
    before = store.list("thing", order="asc", before="t4", limit=2)
    assert [o["id"] for o in before.data] == ["t2", "t3"] and before.has_more
    window = store.list("thing", order="asc", after="t0", before="t3", limit=10)
    assert [o["id"] for o in window.data] == ["t1", "t2"] and not window.has_more
    assert store.list("thing", where=lambda o: o["n"] % 2 == 0).body()["last_id"] == "t0"
    assert store.list("empty").body() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    with pytest.raises(CursorNotFound):
        store.list("thing", after="nope")


def test_sql_paging_matches_filtered_paging(store):
    """Unfiltered pages come from SQL, filtered ones from Python: both must agree."""
    ids = fill(store, 7)
    fill(store, 3, parent="other")
    cursors = [None, *ids]
    for order in ("asc", "desc"):
        for limit in (1, 3, 10):
            for after in cursors:
                for before in cursors:
                    arguments = dict(order=order, after=after, before=before, limit=limit)
                    assert store.list("thing", **arguments) == store.list(
                        "thing", where=lambda o: True, **arguments
                    ), arguments
    with pytest.raises(CursorNotFound):
        store.list("thing", before="t5", parent="other")


def test_children_are_scoped_by_parent(store):
    fill(store, 2, parent="p1")
    fill(store, 3, parent="p2")
    assert store.count("thing", "p1") == 2 and store.count("thing") == 5
    assert store.delete_children("thing", "p2") == 3
    assert store.count("thing") == 2


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.insert("thing", {"id": "a"})
        with store.transaction():
            store.insert("thing", {"id": "b"})
        raise RuntimeError("boom")
    assert store.count("thing") == 0


def test_writes_survive_reopening(tmp_path):
    first = Store(tmp_path / "db.sqlite3")
    first.insert("thing", {"id": "kept"})
    first.put_blob("kept", b"\x00bytes")
    first.close()
    second = Store(tmp_path / "db.sqlite3")
    assert second.get("thing", "kept") == {"id": "kept"}
    assert second.get_blob("kept") == b"\x00bytes"
    second.insert("thing", {"id": "later"})
    assert [o["id"] for o in second.list("thing", order="asc").data] == ["kept", "later"]
    second.close()


def test_chunk_index(store):
    """What search reads: a store's chunks by file then position, replaced per file."""
    store.chunks.index_file("vs_1", "file-b", ["b0", "b1"])
    store.chunks.index_file("vs_1", "file-a", ["a0"])
    store.chunks.index_file("vs_2", "file-a", ["other"])
    assert store.chunks.candidates("vs_1") == [
        IndexedChunk("file-a", 0, "a0"),
        IndexedChunk("file-b", 0, "b0"),
        IndexedChunk("file-b", 1, "b1"),
    ]
    store.chunks.index_file("vs_1", "file-b", ["b-new"])
    assert [c.text for c in store.chunks.candidates("vs_1")] == ["a0", "b-new"]
    store.chunks.remove("vs_1", "file-b")
    assert [c.text for c in store.chunks.candidates("vs_1")] == ["a0"]
    store.chunks.remove_file_everywhere("file-a")
    assert store.chunks.candidates("vs_1") == [] and store.chunks.candidates("vs_2") == []
    store.chunks.index_file("vs_3", "file-c", ["c0"])
    store.chunks.remove_store("vs_3")
    assert store.chunks.candidates("vs_3") == []


def test_chunks_roll_back_with_the_records_they_belong_to(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.insert("thing", {"id": "a"})
        store.chunks.index_file("vs_1", "a", ["text"])
        raise RuntimeError("boom")
    assert store.count("thing") == 0 and store.chunks.candidates("vs_1") == []


def test_ids(store):
    assert new_id("asst").startswith("asst_") and len(new_id("asst")) == 29
    assert new_id("file", "-").startswith("file-")
