"""Rendering fixed plans: Terraform-like text (with and without colour), JSON, markdown."""

from __future__ import annotations

import json
import re

import pytest

from assistctl import __version__
from assistctl.model import Action, Change, Plan
from assistctl.render import render_json, render_markdown, render_text

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _assistant(**overrides):
    view = {
        "name": "Support Bot",
        "description": None,
        "model": "gpt-4o",
        "instructions": "Be kind.\nAnswer briefly.\nCite the handbook.",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_order",
                    "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
                    "strict": False,
                },
            }
        ],
        "tool_resources": {},
        "temperature": 0.9,
        "top_p": 1.0,
        "response_format": "auto",
        "metadata": {"team": "sales"},
    }
    view.update(overrides)
    return view


BEFORE = _assistant()
AFTER = _assistant(
    instructions="Be kind.\nAnswer in detail.\nCite the handbook.",
    tools=[
        {"type": "file_search"},
        {
            "type": "function",
            "function": {
                "name": "get_order",
                "parameters": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "email": {"type": "string"}},
                },
                "strict": False,
            },
        },
    ],
    temperature=0.2,
    metadata={"team": "support", "tier": "1"},
)
OLD_SHA, NEW_SHA = "a" * 64, "b" * 64

PLAN = Plan(
    stack="support",
    env="prod",
    changes=(
        Change(
            "file.docs/a.md",
            Action.REPLACE,
            {"path": "docs/a.md", "sha256": OLD_SHA, "bytes": 10, "filename": "x", "id": "file-1"},
            {"path": "docs/a.md", "sha256": NEW_SHA, "bytes": 12, "filename": "y"},
            ("sha256", "bytes", "filename"),
            "content changed",
            "file-1",
        ),
        Change(
            "file.docs/b.md",
            Action.NO_OP,
            {"path": "docs/b.md", "sha256": OLD_SHA, "bytes": 1, "filename": "z", "id": "file-2"},
            {"path": "docs/b.md", "sha256": OLD_SHA, "bytes": 1, "filename": "z"},
            id="file-2",
        ),
        Change(
            "assistant.new-bot",
            Action.CREATE,
            None,
            _assistant(name="New Bot", instructions="Line one\nLine two", metadata={}),
            reason="not in the account",
        ),
        Change(
            "assistant.support-bot",
            Action.UPDATE,
            BEFORE,
            AFTER,
            ("instructions", "tools", "temperature", "metadata"),
            "the account differs from the manifests",
            "asst_1",
        ),
        Change(
            "assistant.old-bot",
            Action.DELETE,
            BEFORE,
            None,
            reason="owned by 'support/prod' but no longer in the manifests",
            id="asst_9",
        ),
    ),
    desired_digest="sha256:desired",
    live_digest="sha256:live",
    warnings=("assistant.new-bot: the account already has an unmanaged Assistant named 'New Bot'",),
)
EMPTY = Plan("support", None, (), "sha256:d", "sha256:l")


def test_text_has_one_line_per_resource_with_its_symbol():
    text = render_text(PLAN, color=False)
    lines = text.splitlines()
    assert lines[0] == "assistctl plan · stack support · env prod"
    assert "-/+ file.docs/a.md  (file-1)" in lines
    assert "  + assistant.new-bot" in lines
    assert "  ~ assistant.support-bot  (asst_1)" in lines
    assert "  - assistant.old-bot  (asst_9)" in lines
    assert "file.docs/b.md" not in text  # no-ops are counted, not listed
    assert lines[-1] == "Plan: 1 to create, 1 to update, 1 to replace, 1 to delete."


def test_text_shows_field_changes_and_unified_diffs():
    text = render_text(PLAN, color=False)
    assert "    ~ temperature: 0.9 → 0.2" in text
    assert '    ~ metadata.team: "sales" → "support"' in text
    assert '    + metadata.tier: "1"' in text
    assert f'    ~ sha256: "{OLD_SHA}" → "{NEW_SHA}"' in text
    assert "filename" not in text  # derived from the hash
    assert "    + tools: file_search" in text
    instructions = text[text.index("    ~ instructions:") :]
    assert "          -Answer briefly." in instructions
    assert "          +Answer in detail." in instructions
    assert "          --- before" in instructions
    parameters = text[text.index("tools: function get_order parameters:") :]
    assert '+    "email": {' in parameters
    assert "    + instructions: 2 lines:\n          Line one\n          Line two\n" in text
    assert "# owned by 'support/prod' but no longer in the manifests" in text


def test_text_lists_warnings():
    text = render_text(PLAN, color=False)
    assert "Warnings:\n  ! assistant.new-bot: the account already has an unmanaged" in text


def test_colour_only_when_asked_and_otherwise_identical():
    plain = render_text(PLAN, color=False)
    coloured = render_text(PLAN, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[32m" in coloured  # green for additions
    assert "\x1b[31m" in coloured  # red for removals
    assert ANSI.sub("", coloured) == plain


def test_markup_in_user_text_is_printed_literally():
    change = Change(
        "assistant.x", Action.CREATE, None, _assistant(name="[bold]not markup[/bold]"), id=None
    )
    plan = Plan("s", None, (change,), "d", "l")
    assert '"[bold]not markup[/bold]"' in ANSI.sub("", render_text(plan, color=True))


def test_no_changes():
    assert render_text(EMPTY, color=False).splitlines()[-1] == (
        "No changes. The account matches the manifests."
    )
    assert "No changes." in render_markdown(EMPTY)


def test_json_has_the_documented_schema():
    document = json.loads(render_json(PLAN))
    assert set(document) == {
        "format_version",
        "tool_version",
        "stack",
        "env",
        "owner",
        "desired_digest",
        "live_digest",
        "changes",
        "operations",
        "unchanged",
        "summary",
        "warnings",
    }
    assert document["format_version"] == "1"
    assert document["tool_version"] == __version__
    assert (document["stack"], document["env"], document["owner"]) == (
        "support",
        "prod",
        "support/prod",
    )
    assert document["summary"] == {"create": 1, "update": 1, "replace": 1, "delete": 1}
    assert document["unchanged"] == 1
    assert [c["address"] for c in document["changes"]] == [
        "file.docs/a.md",
        "assistant.new-bot",
        "assistant.support-bot",
        "assistant.old-bot",
    ]
    update = document["changes"][2]
    assert set(update) == {"address", "action", "id", "before", "after", "fields", "reason"}
    assert update["action"] == "update"
    assert update["fields"] == ["instructions", "tools", "temperature", "metadata"]
    assert update["before"]["temperature"] == 0.9 and update["after"]["temperature"] == 0.2
    assert document["changes"][3]["after"] is None


def test_markdown_for_a_pull_request():
    markdown = render_markdown(PLAN)
    assert markdown.startswith("### assistctl plan · stack `support` · env `prod`\n")
    assert "**Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.**" in markdown
    assert "| `~` | `assistant.support-bot` | update |" in markdown
    assert "#### `-` delete `assistant.old-bot` (`asst_9`)" in markdown
    details = markdown[markdown.index("<details><summary>instructions diff</summary>") :]
    assert (
        details.index("```diff") < details.index("-Answer briefly.") < details.index("</details>")
    )
    assert "<details><summary>tools: function get_order parameters diff</summary>" in markdown
    assert "- **temperature**: `0.9` → `0.2`" in markdown
    assert "⚠️" in markdown


@pytest.mark.parametrize("text", ["a ``` b", "```"])
def test_markdown_fences_survive_backticks_in_instructions(text):
    after = _assistant(instructions=text)
    change = Change("assistant.x", Action.UPDATE, BEFORE, after, ("instructions",), "", "asst_1")
    markdown = render_markdown(Plan("s", None, (change,), "d", "l"))
    assert "````diff" in markdown


def test_created_files_and_stores_show_what_matters():
    file_view = {"path": "docs/a.md", "sha256": NEW_SHA, "bytes": 12, "filename": "long~name"}
    store_view = {
        "name": "Handbook",
        "expires_after": None,
        "chunking_strategy": {"type": "auto"},
        "metadata": {},
        "files": {"docs/a.md": NEW_SHA, "docs/b.md": OLD_SHA},
    }
    plan = Plan(
        "s",
        None,
        (
            Change("file.docs/a.md", Action.CREATE, None, file_view),
            Change("vector_store.handbook", Action.CREATE, None, store_view),
        ),
        "d",
        "l",
    )
    text = render_text(plan, color=False)
    assert f'    + sha256: "{NEW_SHA}"\n    + bytes: 12\n' in text
    assert "long~name" not in text and "path:" not in text
    assert "    + files: docs/a.md, docs/b.md\n" in text
    assert "expires_after" not in text and "metadata" not in text


def test_nested_mappings_show_the_leaves_that_changed():
    before = _assistant(tool_resources={"code_interpreter": {"files": ["a.csv@0123456789ab"]}})
    after = _assistant(
        tool_resources={
            "code_interpreter": {"files": ["data/a.csv"]},
            "file_search": {"vector_stores": ["handbook"]},
        }
    )
    store_before = {"files": {"docs/a.md": OLD_SHA, "docs/gone.md": OLD_SHA}}
    store_after = {"files": {"docs/a.md": NEW_SHA}}
    plan = Plan(
        "s",
        None,
        (
            Change(
                "vector_store.h", Action.UPDATE, store_before, store_after, ("files",), "", "vs_1"
            ),
            Change("assistant.x", Action.UPDATE, before, after, ("tool_resources",), "", "asst_1"),
        ),
        "d",
        "l",
    )
    text = render_text(plan, color=False)
    assert f'    ~ files["docs/a.md"]: "{OLD_SHA}" → "{NEW_SHA}"' in text
    assert f'    - files["docs/gone.md"]: "{OLD_SHA}"' in text
    assert (
        '    ~ tool_resources.code_interpreter.files: ["a.csv@0123456789ab"] → ["data/a.csv"]'
        in text
    )
    assert '    + tool_resources.file_search.vector_stores: ["handbook"]' in text


def test_every_field_line_says_whether_it_is_added_removed_or_changed_without_colour():
    """Without colour, a removal and an addition used to look the same, and the detach of a
    file attached by hand (content unknown: null) was left out of the text."""
    before = {"metadata": {"hacked": "yes"}, "files": {"file-hand": None, "docs/a.md": OLD_SHA}}
    after = {"metadata": {}, "files": {"docs/a.md": OLD_SHA, "docs/b.md": NEW_SHA}}
    change = Change(
        "vector_store.h", Action.UPDATE, before, after, ("metadata", "files"), "", "vs_1"
    )
    text = render_text(Plan("s", None, (change,), "d", "l"), color=False)
    assert '    - metadata.hacked: "yes"' in text
    assert f'    + files["docs/b.md"]: "{NEW_SHA}"' in text
    assert '    - files["file-hand"]: null' in text


def test_a_new_assistant_shows_its_whole_spec():
    view = _assistant(
        tools=[
            {"type": "file_search", "file_search": {"max_num_results": 5}},
            {
                "type": "function",
                "function": {"name": "get_order", "parameters": {"type": "object"}},
            },
        ]
    )
    text = render_text(
        Plan("s", None, (Change("assistant.n", Action.CREATE, None, view),), "d", "l"),
        color=False,
    )
    assert '    + tools: file_search: {"max_num_results": 5}' in text
    assert '    + tools: function get_order: {"parameters": {"type": "object"}}' in text
    assert "          Cite the handbook." in text
