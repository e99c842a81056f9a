"""Identity rules in the model: upload filenames and digests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from assistctl.model import (
    Action,
    Address,
    Change,
    Desired,
    DesiredFile,
    Live,
    Plan,
    owner_of,
    parse_upload_filename,
    upload_filename,
)
from tests import builders

SHA = hashlib.sha256(b"x").hexdigest()


def test_upload_filename_round_trips_owner_with_environment():
    name = upload_filename(owner_of("support", "prod"), SHA, "returns.md")
    assert name.endswith("returns.md")
    assert parse_upload_filename(name) == ("support/prod", SHA, "returns.md")


def test_foreign_filenames_are_not_ours():
    assert parse_upload_filename("returns.md") is None
    assert parse_upload_filename("assistctl~s~nothex~a.md") is None


def test_basename_with_separator_survives():
    name = upload_filename("s", SHA, "odd~name.txt")
    assert parse_upload_filename(name) == ("s", SHA, "odd~name.txt")


def _desired(instructions: str) -> Desired:
    file = DesiredFile("data/a.csv", Path("/x/data/a.csv"), SHA, 1)
    assistant = builders.desired_assistant(
        "bot", {"model": "m", "instructions": instructions}, (file,)
    )
    return Desired(stack="s", env=None, root=Path("/x"), resources=(assistant,))


def test_desired_digest_follows_content():
    assert _desired("a").digest() == _desired("a").digest()
    assert _desired("a").digest() != _desired("b").digest()
    assert _desired("a").files[0].basename == "a.csv"


def test_live_digest_ignores_volatile_fields():
    def live(status: str) -> Live:
        metadata = {"assistctl_stack": "s", "assistctl_name": "h"}
        store = builders.live_store(
            {"id": "vs_1", "name": "H", "status": status, "metadata": metadata}
        )
        return Live(owner="s", resources=(store,))

    assert live("in_progress").digest() == live("completed").digest()


def test_plan_summary_counts_pending_changes_only():
    changes = (
        Change("assistant.a", Action.CREATE, None, {}),
        Change("assistant.b", Action.NO_OP, {}, {}),
        Change("file.x@abc", Action.DELETE, {}, None, id="file-1"),
    )
    plan = Plan("s", "prod", changes, "d", "l")
    assert plan.owner == "s/prod"
    assert plan.summary() == {"create": 1, "update": 0, "replace": 0, "delete": 1}
    assert [c.kind for c in plan.pending] == ["assistant", "file"]


def test_addresses_parse_once_and_print_as_text():
    address = Address.parse("file.docs/a.b.md")
    assert (address.kind, address.name, address.target) == (
        "file",
        "docs/a.b.md",
        "file/docs/a.b.md",
    )
    assert address == "file.docs/a.b.md" and Address("file", "docs/a.b.md") == address
