"""The store on each engine (SQLite, PostgreSQL): CRUD, API-style paging with filters in SQL,
transactions, durability, projects, the full-text chunk index."""

from __future__ import annotations

import json
import os
import threading

import pytest

from assistctl.local.domain.records import new_id
from assistctl.local.storage import AsOf, CursorNotFound, Excluding, Store, in_project, page_of


@pytest.fixture
def store(tmp_path, database):
    opened = Store(database or tmp_path / "db.sqlite3")
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
    assert store.list("thing", where={"id": ["t0", "t2"]}).body()["last_id"] == "t0"
    assert store.list("empty").body() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    with pytest.raises(CursorNotFound):
        store.list("thing", after="nope")


def test_filtered_paging_matches_paging_in_memory(store):
    """Filters and cursors run in SQL; they page exactly as the API pages a list held in
    memory (``page_of``), a cursor outside the filtered list being unknown."""
    files = [
        store.insert("file", {"id": f"f{i}", "purpose": "batch" if i % 3 else "assistants"})
        for i in range(9)
    ]
    store.insert("file", {"id": "elsewhere", "purpose": "batch"}, "")
    wanted = [f for f in files if f["purpose"] == "batch"]
    cursors = [None, *(f["id"] for f in wanted)]
    for order in ("asc", "desc"):
        for limit in (1, 3, 10):
            for after in cursors:
                for before in cursors:
                    arguments = dict(order=order, after=after, before=before, limit=limit)
                    try:
                        expected = page_of(wanted + [store.get("file", "elsewhere")], **arguments)
                    except CursorNotFound:
                        continue
                    listed = store.list("file", where={"purpose": "batch"}, **arguments)
                    assert (listed.ids, listed.has_more) == (expected.ids, expected.has_more)
    with pytest.raises(CursorNotFound):
        store.list("file", where={"purpose": "batch"}, after="f0")


def test_messages_by_run_and_excluding_a_run(store):
    for i in range(6):
        store.insert("thread.message", {"id": f"m{i}", "run_id": "run_a" if i % 2 else None}, "t")
    store.insert("thread.message", {"id": "other", "run_id": "run_a"}, "t2")
    by_run = store.list("thread.message", "t", order="asc", where={"run_id": "run_a"})
    assert by_run.ids == ["m1", "m3", "m5"]
    others = store.all("thread.message", "t", where={"run_id": Excluding("run_a")})
    assert [m["id"] for m in others] == ["m0", "m2", "m4"]
    store.put("thread.message", {"id": "m0", "run_id": "run_a"}, "t")  # columns follow data
    assert store.list("thread.message", "t", where={"run_id": "run_a"}).ids[-1] == "m0"


def test_attachment_status_is_filtered_as_of_a_moment(store):
    for name, ready_at, outcome in (("a", 10, "completed"), ("b", 20, "failed"), ("c", 5, "x")):
        attach(store, "vs", name, [], ready_at=ready_at, outcome=outcome)
    in_progress = store.list("vector_store.file", "vs", where={"status": AsOf("in_progress", 15)})
    assert in_progress.ids == ["b"]
    assert store.attachment_summaries(["vs", "none"], 15) == {
        "vs": {"completed": (1, 3), "in_progress": (1, 3), "x": (1, 3)},
        "none": {},
    }


def test_page_json_splices_stored_objects(store):
    store.insert("assistant", {"id": "a1", "name": "é"})
    store.insert("assistant", {"id": "a2", "name": None})
    page = store.list("assistant", limit=1)
    assert (
        json.loads(page.body_json())
        == page.body()
        == {
            "object": "list",
            "data": [{"id": "a2", "name": None}],
            "first_id": "a2",
            "last_id": "a2",
            "has_more": True,
        }
    )


def test_every_statement_sees_only_its_project(store):
    store.insert("assistant", {"id": "mine"})
    store.insert("thread.message", {"id": "m"}, "thread")
    store.put_blob("file-1", b"bytes")
    with in_project("other"):
        assert store.get("assistant", "mine") is None and store.find("assistant", "mine") is None
        assert store.list("assistant").ids == [] and store.count("thread.message", "thread") == 0
        assert store.get_blob("file-1") is None and not store.delete("assistant", "mine")
        with pytest.raises(KeyError):
            store.put("assistant", {"id": "mine", "changed": True})
        with pytest.raises(CursorNotFound):
            store.list("assistant", after="mine")
        store.insert("assistant", {"id": "theirs"})
    assert store.list("assistant").ids == ["mine"] and store.get_blob("file-1") == b"bytes"


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


def test_writes_survive_reopening(tmp_path, database):
    first = Store(database or tmp_path / "db.sqlite3")
    first.insert("thing", {"id": "kept"})
    first.put_blob("kept", b"\x00bytes")
    first.close()
    second = Store(database or tmp_path / "db.sqlite3")
    assert second.get("thing", "kept") == {"id": "kept"}
    assert second.get_blob("kept") == b"\x00bytes"
    second.insert("thing", {"id": "later"})
    assert [o["id"] for o in second.list("thing", order="asc").data] == ["kept", "later"]
    second.close()


def attach(store, vector_store_id, file_id, chunks, attributes=None, **state):
    """A vector-store file as the domain records one, its chunks indexed."""
    store.insert(
        "vector_store.file",
        {
            "id": file_id,
            "created_at": 0,
            "vector_store_id": vector_store_id,
            "attributes": attributes or {},
            "_ready_at": state.get("ready_at", 0),
            "_outcome": state.get("outcome", "completed"),
            "_usage_bytes": 3,
            "_error": None,
        },
        vector_store_id,
    )
    store.chunks.index_file(vector_store_id, file_id, chunks)


def found(store, stores, query, **options):
    options.setdefault("moment", 100)
    return [(c.file_id, c.text) for c in store.chunks.search(stores, query, 10, **options)]


def test_chunk_index(store):
    """Chunks are indexed once per file, replaced per file, removed on detach."""
    attach(store, "vs_1", "file-b", ["apple b0", "apple b1"])
    attach(store, "vs_1", "file-a", ["apple a0"])
    attach(store, "vs_2", "file-a", ["apple other"])
    assert found(store, ["vs_1"], "apple") == [
        ("file-a", "apple a0"),
        ("file-b", "apple b0"),
        ("file-b", "apple b1"),
    ]
    store.chunks.index_file("vs_1", "file-b", ["apple new"])
    assert [text for _, text in found(store, ["vs_1"], "apple")] == ["apple a0", "apple new"]
    store.chunks.remove("vs_1", "file-b")
    assert found(store, ["vs_1"], "apple") == [("file-a", "apple a0")]
    store.chunks.remove_file_everywhere("file-a")
    assert found(store, ["vs_1", "vs_2"], "apple") == []
    attach(store, "vs_3", "file-c", ["apple c0"])
    store.chunks.remove_store("vs_3")
    assert found(store, ["vs_3"], "apple") == []


def test_search_takes_questions_stems_and_ranks(store):
    attach(store, "vs", "returns", ["Items can be returned within 30 days of delivery."])
    attach(store, "vs", "shipping", ["Shipping takes 5 days; the store opens at nine."])
    attach(store, "vs", "noise", ["Nothing relevant here at all."])
    assert found(store, ["vs"], "How many days do I have to return an item?")[0][0] == "returns"
    assert found(store, ["vs"], "when does it open")[0][0] == "shipping"  # opens ~ open
    only_stop_words = {file for file, _ in found(store, ["vs"], "the of and")}
    # SQLite indexes every word, so a question of stop words only searches them; PostgreSQL's
    # 'english' index leaves them out, so such a question finds nothing there.
    expected = set() if store.dialect == "postgresql" else {"returns", "shipping"}
    assert only_stop_words == expected
    assert found(store, ["vs"], '"quoted" AND (weird* syntax') == []  # never an FTS error
    scores = [c.score for c in store.chunks.search(["vs"], "delivery days", 10, moment=100)]
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
    assert len(scores) == 2 and scores[0] > scores[1]
    assert len(found(store, ["vs"], "delivery days", score_threshold=scores[0])) == 1


def test_search_sees_completed_files_passing_the_filters(store):
    attach(store, "vs", "old", ["apple"], {"year": 2020, "kind": "a"})
    attach(store, "vs", "new", ["apple"], {"year": 2024, "kind": "b", "flag": True})
    attach(store, "vs", "later", ["apple"], {"year": 2025}, ready_at=500)
    attach(store, "vs", "broken", ["apple"], {"year": 2025}, outcome="failed")

    def ids(filters):
        return sorted(f for f, _ in found(store, ["vs"], "apple", filters=filters))

    assert ids(None) == ["new", "old"]
    assert ids({"type": "gte", "key": "year", "value": 2021}) == ["new"]
    assert ids({"type": "eq", "key": "kind", "value": "a"}) == ["old"]
    assert ids({"type": "ne", "key": "flag", "value": True}) == ["old"]
    assert ids({"type": "in", "key": "kind", "value": ["a", "b"]}) == ["new", "old"]
    assert ids({"type": "nin", "key": "kind", "value": ["a"]}) == ["new"]
    assert ids({"type": "gt", "key": "kind", "value": 1}) == []  # other types never compare
    assert ids({"type": "lt", "key": "flag", "value": 5}) == []  # booleans are not numbers
    assert ids(
        {
            "type": "or",
            "filters": [
                {"type": "eq", "key": "year", "value": 2020},
                {"type": "and", "filters": [{"type": "eq", "key": "flag", "value": True}]},
            ],
        }
    ) == ["new", "old"]
    assert found(store, ["vs"], "apple", moment=1000)[0][0] in ("later", "new", "old")
    with in_project("other"):
        assert found(store, ["vs"], "apple") == []


def test_nul_characters_neither_fail_nor_match_what_they_should_not(store):
    """PostgreSQL's text cannot hold NUL: lookups by such an id find nothing there either, a
    chunk's NUL separates words, and filters on such values are answered, not errors."""
    assert store.get("assistant", "a\x00b") is None
    attach(store, "vs", "nul", ["apple\x00pie"], {"k": "a\x00b"})
    assert [file for file, _ in found(store, ["vs"], "pie")] == ["nul"]
    assert found(store, ["vs"], "pie", filters={"type": "eq", "key": "k", "value": "x\x00"}) == []


def test_chunks_roll_back_with_the_records_they_belong_to(store):
    with pytest.raises(RuntimeError), store.transaction():
        attach(store, "vs_1", "a", ["text"])
        raise RuntimeError("boom")
    assert store.count("vector_store.file", "vs_1") == 0 and found(store, ["vs_1"], "text") == []


def test_ids(store):
    assert new_id("asst").startswith("asst_") and len(new_id("asst")) == 29
    assert new_id("file", "-").startswith("file-")


def test_reads_from_many_short_lived_threads_leave_no_connections_behind(store):
    """Runs read from threads of their own: reader connections are pooled, not per thread."""
    store.insert("assistant", {"id": "a"})

    def read():
        assert store.get("assistant", "a") == {"id": "a"}
        with store.transaction():
            assert store.get("assistant", "a") == {"id": "a"}  # inside: the writer's view

    def open_files():
        return len(os.listdir("/proc/self/fd"))

    for _ in range(5):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    settled = open_files()
    for _ in range(100):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    assert open_files() <= settled + 2
