"""A release directory as the assistants collection: files written atomically, read back as
assistants, updated field by field, hand edits and broken files read as drift, other stacks'
releases never overwritten, ids that leave the directory refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistctl.backends.release_store import ReleaseStore
from assistctl.errors import AccountError
from assistctl.model import ALTERED_KEY, NAME_KEY, STACK_KEY

OWNER = "support"


def body(name: str = "bot", owner: str = OWNER, **fields) -> dict:
    return {
        "model": "gpt-4o",
        "name": "Bot",
        "instructions": "Be brief.",
        "tools": [{"type": "file_search"}],
        "tool_resources": {"file_search": {"vector_store_ids": ["vs_1"]}},
        "metadata": {STACK_KEY: owner, NAME_KEY: name},
        **fields,
    }


@pytest.fixture
def store(tmp_path) -> ReleaseStore:
    return ReleaseStore(tmp_path / "releases" / OWNER, shown_from=tmp_path, owner=OWNER)


def test_create_writes_the_release_and_lists_it_back(store, tmp_path):
    created = store.create(body())
    assert created["id"] == "releases/support/bot.json"
    assert (tmp_path / created["id"]).is_file()
    assert list(store.list()) == [created]
    assert store.retrieve(created["id"]) == created
    assert store.load(created["id"]).name == "bot"
    assert [p.name for p in store.directory.iterdir()] == ["bot.json"]  # no temporary left


def test_an_empty_or_missing_directory_lists_nothing(tmp_path):
    assert list(ReleaseStore(tmp_path / "nowhere", shown_from=tmp_path).list()) == []


def test_update_changes_only_the_fields_it_names(store):
    created = store.create(body())
    store.update(created["id"], {"tool_resources": {"file_search": {"vector_store_ids": ["vs_2"]}}})
    updated = store.update(created["id"], {"instructions": "Be long."})
    assert updated["instructions"] == "Be long."
    assert updated["tool_resources"]["file_search"]["vector_store_ids"] == ["vs_2"]
    assert updated["name"] == "Bot"
    assert store.load(created["id"]).template["instructions"] == "Be long."


def test_delete_removes_the_file_and_the_emptied_directory(store):
    created = store.create(body())
    store.delete(created["id"])
    store.delete(created["id"])  # what is gone counts as deleted
    assert not store.directory.exists()


def test_a_hand_edited_release_is_read_as_drift(store, tmp_path):
    created = store.create(body())
    path = tmp_path / created["id"]
    content = json.loads(path.read_text())
    content["request"]["instructions"] = "Promise refunds."
    path.write_text(json.dumps(content))
    (read,) = store.list()
    assert read["instructions"] == "Promise refunds."
    assert "does not match its digest" in read[ALTERED_KEY]
    rewritten = store.update(created["id"], body())
    assert ALTERED_KEY not in rewritten and ALTERED_KEY not in store.retrieve(created["id"])


def test_a_broken_file_is_drift_of_the_release_its_name_says(store):
    store.directory.mkdir(parents=True)
    (store.directory / "bot.json").write_text("{broken")
    (read,) = store.list()
    assert read["metadata"] == {STACK_KEY: OWNER, NAME_KEY: "bot"}
    assert "cannot be read as JSON" in read[ALTERED_KEY]
    store.update(read["id"], body())
    assert ALTERED_KEY not in store.retrieve(read["id"])


def test_without_a_known_owner_broken_files_are_nobodys(store, tmp_path):
    store.directory.mkdir(parents=True)
    (store.directory / "bot.json").write_text('{"format": "other"}')
    assert list(ReleaseStore(store.directory, shown_from=tmp_path).list()) == []


def test_another_stacks_release_is_never_overwritten(store):
    store.create(body(owner="billing"))
    with pytest.raises(AccountError, match="already holds a release of 'billing'"):
        store.create(body())


@pytest.mark.parametrize(
    "release_id", ["../bot.json", "releases/support/../../x.json", "releases/support/bot.txt"]
)
def test_ids_outside_the_directory_are_refused(store, release_id):
    store.create(body())
    with pytest.raises(AccountError, match="is not a release of"):
        store.delete(release_id)


def test_a_release_directory_that_cannot_be_written_is_a_clear_error(tmp_path):
    blocker = tmp_path / "releases"
    blocker.write_text("a file where the directory should be")
    store = ReleaseStore(blocker / OWNER, shown_from=tmp_path, owner=OWNER)
    with pytest.raises(AccountError, match="cannot write the release releases/support/bot.json"):
        store.create(body())


def test_ids_of_a_directory_outside_the_stack_root_are_absolute(tmp_path):
    outside = tmp_path / "elsewhere"
    store = ReleaseStore(outside, shown_from=tmp_path / "stack", owner=OWNER)
    created = store.create(body())
    assert Path(created["id"]) == (outside / "bot.json").absolute()
    assert store.retrieve(created["id"]) == created
