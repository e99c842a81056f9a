"""The vector store kind on plain data: its live spec keys files by manifest path, or by file id
where assistctl recorded none."""

from __future__ import annotations

from tests.test_plan import OWNER, Live, api_store, attached, vector_store_view


def test_vector_store_files_without_attributes_are_keyed_by_file_id():
    store = api_store(files=[attached("file-9", None, None)])
    view = vector_store_view(store, Live(OWNER, vector_stores=(store,)))
    assert view["files"] == {"file-9": None}
