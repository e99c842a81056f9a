"""Saved plans: a faithful round trip, and a clear PlanError for anything else."""

from __future__ import annotations

import dataclasses
import json

import pytest

from assistctl import __version__
from assistctl.errors import PlanError
from assistctl.model import Action, Change, Plan
from assistctl.planfile import check_still_current, read_plan_file, write_plan_file

VIEW = {"name": "Bot", "model": "gpt-4o", "tools": [{"type": "file_search"}], "metadata": {}}
FILE = {"path": "docs/a.md", "sha256": "a" * 64, "bytes": 3, "filename": "f"}
PLAN = Plan(
    stack="support",
    env="prod",
    changes=(
        Change(
            "file.docs/a.md",
            Action.REPLACE,
            {**FILE, "id": "file-1"},
            FILE,
            ("sha256",),
            "r",
            "file-1",
        ),
        Change("file.docs/b.md", Action.NO_OP, FILE, FILE, id="file-2"),
        Change("assistant.new", Action.CREATE, None, VIEW, reason="not in the account"),
        Change(
            "assistant.bot", Action.UPDATE, VIEW, {**VIEW, "name": "B"}, ("name",), "", "asst_1"
        ),
        Change("assistant.old", Action.DELETE, VIEW, None, reason="gone", id="asst_9"),
    ),
    desired_digest="sha256:desired",
    live_digest="sha256:live",
    warnings=("a warning",),
)
EMPTY = Plan("support", None, (), "sha256:d", "sha256:l")


def test_round_trip_keeps_every_change_in_order(tmp_path):
    path = tmp_path / "plans" / "plan.json"
    write_plan_file(PLAN, path)
    assert read_plan_file(path) == PLAN
    write_plan_file(EMPTY, path)
    assert read_plan_file(path) == EMPTY


def test_saved_plan_is_the_json_document_plus_all_changes(tmp_path):
    path = tmp_path / "plan.json"
    write_plan_file(PLAN, path)
    document = json.loads(path.read_text())
    assert document["kind"] == "assistctl-plan"
    assert document["tool_version"] == __version__
    assert document["desired_digest"] == "sha256:desired"
    assert document["live_digest"] == "sha256:live"
    assert len(document["changes"]) == 4  # pending, as in plan --json
    assert [c["action"] for c in document["all_changes"]] == [
        "replace",
        "no-op",
        "create",
        "update",
        "delete",
    ]
    assert not list(tmp_path.glob(".plan.json.*"))  # no temporary file left behind


def _write(tmp_path, text: str):
    path = tmp_path / "plan.json"
    path.write_text(text)
    return path


def _saved(tmp_path, **changes):
    path = tmp_path / "plan.json"
    write_plan_file(PLAN, path)
    document = json.loads(path.read_text())
    document.update(changes)
    return _write(tmp_path, json.dumps(document))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: tmp / "missing.json", "does not exist"),
        (lambda tmp: _write(tmp, "{not json"), "invalid JSON"),
        (lambda tmp: _write(tmp, '{"format_version": "1"}'), "is not a saved assistctl plan"),
        (lambda tmp: _saved(tmp, format_version="9"), "plan format '9'"),
        (lambda tmp: _saved(tmp, tool_version="0.0.1"), "made by assistctl 0.0.1"),
        (lambda tmp: _saved(tmp, all_changes=[{"address": "x"}]), "damaged plan file"),
        (lambda tmp: _saved(tmp, stack=7), "damaged plan file"),
        (
            lambda tmp: _saved(
                tmp,
                all_changes=[
                    {"address": "a.b", "action": "explode", "before": None, "after": None}
                    | {"fields": []}
                ],
            ),
            "damaged plan file",
        ),
    ],
)
def test_unreadable_plans_are_plan_errors(tmp_path, make, message):
    with pytest.raises(PlanError) as error:
        read_plan_file(make(tmp_path))
    assert message in error.value.message
    assert "assistctl plan -o" in error.value.hint


@pytest.mark.parametrize(
    ("fresh", "message"),
    [
        (dataclasses.replace(PLAN, env="staging"), "the plan is for 'support/prod'"),
        (dataclasses.replace(PLAN, desired_digest="sha256:other"), "the manifests changed"),
        (dataclasses.replace(PLAN, live_digest="sha256:other"), "the account changed"),
    ],
)
def test_a_saved_plan_for_another_owner_or_state_is_refused(fresh, message):
    with pytest.raises(PlanError, match=message):
        check_still_current(PLAN, fresh, "plan.json")


def test_a_saved_plan_matching_the_fresh_one_is_current():
    check_still_current(PLAN, dataclasses.replace(PLAN, changes=()), "plan.json")
