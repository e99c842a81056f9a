"""The vector store kind on plain data: its live spec keys files by manifest path, or by file id
where assistctl recorded none."""

from __future__ import annotations

from assistctl.plan import plan
from tests.test_plan import (
    OWNER,
    Live,
    actions,
    api_store,
    attached,
    d_store,
    desired,
    dfile,
    upload,
    vector_store_view,
)


def test_vector_store_files_without_attributes_are_keyed_by_file_id():
    store = api_store(files=[attached("file-9", None, None)])
    view = vector_store_view(store, Live(OWNER, vector_stores=(store,)))
    assert view["files"] == {"file-9": None}


def test_a_path_attached_twice_is_drift_the_newer_copy_detached_and_deleted():
    """Two applies at once each uploaded and attached the same file: plan said "No changes"
    while search answered every document twice."""
    doc = dfile("docs/a.md")
    live = Live(
        OWNER,
        vector_stores=(
            api_store(
                files=[
                    attached("file-old", doc.path, doc.sha256),
                    attached("file-new", doc.path, doc.sha256),
                ]
            ),
        ),
        uploads=(
            upload("file-old", doc.sha256, "a.md", created_at=1),
            upload("file-new", doc.sha256, "a.md", created_at=2),
        ),
    )
    result = plan(desired(stores=[d_store(files=[doc])]), live)
    assert actions(result) == [
        ("file.docs/a.md", "no-op"),
        ("vector_store.handbook", "update"),
        (f"file.a.md@{doc.sha256[:12]}", "delete"),
    ]
    assert result.changes[0].id == "file-old"
    assert [(op.verb.value, op.body.get("file_id"), op.target) for op in result.operations] == [
        ("detach", "file-new", "vs_1"),
        ("delete", None, "file-new"),
    ]
