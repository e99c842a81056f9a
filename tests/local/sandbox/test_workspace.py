"""The server's reads and writes in a session's /mnt/data never follow what the code planted there.
No sandbox needed: the directory is played by a temporary one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistctl.local.sandbox import DataFile
from assistctl.local.sandbox.workspace import MAX_DEPTH, Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "data", owner=None)


def changed(workspace: Workspace, before: dict, **caps: int) -> list[tuple[str, bytes]]:
    limits = {"max_files": 32, "max_bytes": 1 << 20, **caps}
    return [(item.name, item.data) for item in workspace.changes(before, **limits).files]


def test_new_and_changed_regular_files_are_found(workspace: Workspace) -> None:
    (workspace.directory / "old.txt").write_text("old")
    before = workspace.snapshot()
    (workspace.directory / "sub").mkdir()
    (workspace.directory / "sub" / "new.txt").write_text("new")
    (workspace.directory / "old.txt").write_text("changed")
    assert sorted(changed(workspace, before)) == [("old.txt", b"changed"), ("sub/new.txt", b"new")]
    assert changed(workspace, workspace.snapshot()) == []


def test_links_and_fifos_are_never_followed_or_read(workspace: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "host-secret.txt"
    secret.write_text("host")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "inner.txt").write_text("host inner")
    before = workspace.snapshot()
    os.symlink(secret, workspace.directory / "link.txt")
    os.symlink(outside, workspace.directory / "linked-dir")
    os.mkfifo(workspace.directory / "pipe")
    assert changed(workspace, before) == []


def test_inputs_are_not_written_through_a_planted_link(
    workspace: Workspace, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("host")
    os.symlink(victim, workspace.directory / "in.csv")
    workspace.put([DataFile("in.csv", b"model")])
    assert victim.read_text() == "host"
    assert (workspace.directory / "in.csv").read_bytes() == b"model"
    assert not (workspace.directory / "in.csv").is_symlink()


def test_inputs_are_written_once_per_content(workspace: Workspace) -> None:
    workspace.put([DataFile("a.txt", b"1")])
    (workspace.directory / "a.txt").write_text("edited")
    workspace.put([DataFile("a.txt", b"1")])
    assert (workspace.directory / "a.txt").read_text() == "edited"
    workspace.put([DataFile("a.txt", b"2")])
    assert (workspace.directory / "a.txt").read_text() == "2"


def test_a_directory_in_the_way_of_an_input_is_reported_and_the_rest_are_placed(
    workspace: Workspace,
) -> None:
    (workspace.directory / "a.txt").mkdir()
    failures = workspace.put([DataFile("a.txt", b"1"), DataFile("b.txt", b"2")])
    assert failures == ["/mnt/data/a.txt: Is a directory"]
    assert (workspace.directory / "b.txt").read_text() == "2"


def test_returned_files_are_capped_in_number_and_bytes(workspace: Workspace) -> None:
    before = workspace.snapshot()
    for index in range(5):
        (workspace.directory / f"f{index}.txt").write_bytes(b"x" * 10)
    result = workspace.changes(before, max_files=2, max_bytes=1000)
    assert len(result.files) == 2 and len(result.left_out) == 3
    result = workspace.changes(before, max_files=10, max_bytes=25)
    assert len(result.files) == 2 and len(result.left_out) == 3


def test_the_walk_stops_at_its_depth(workspace: Workspace) -> None:
    before = workspace.snapshot()
    deep = workspace.directory.joinpath(*["d"] * (MAX_DEPTH + 3))
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text("deep")
    (workspace.directory / "top.txt").write_text("top")
    assert changed(workspace, before) == [("top.txt", b"top")]
