"""``assistctl output`` on plain data: what is listed, in which order, and how NAME is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistctl.errors import AssistctlError
from assistctl.model import NAME_KEY, STACK_KEY
from assistctl.output import collect, split_arguments
from assistctl.release import DIGEST_KEY
from tests import builders
from tests.test_plan import OWNER, api_assistant, api_store, attached, dfile, upload


def test_ids_and_releases_by_address_assistants_first(tmp_path):
    returns = dfile("docs/returns.md")
    store = api_store(files=[attached("file-1", "docs/returns.md", returns.sha256)])
    release = api_assistant(
        "releases/support/support-bot.json",
        metadata={STACK_KEY: OWNER, NAME_KEY: "support-bot", DIGEST_KEY: "sha256:abc"},
    )
    plain = api_assistant("asst_9", name="helper")
    live = builders.live(
        OWNER, [release, plain], [store], [upload("file-1", returns.sha256, "returns.md")]
    )
    desired = builders.desired(OWNER, root=tmp_path)
    found = collect(desired, live, "responses", cwd=tmp_path.parent)
    assert found.lines() == [
        'assistant.helper.id = "asst_9"',
        f'assistant.support-bot.release = "{tmp_path.name}/releases/support/support-bot.json"',
        'assistant.support-bot.digest = "sha256:abc"',
        'vector_store.handbook.id = "vs_1"',
        'file.docs/returns.md.id = "file-1"',
    ]
    assert found.value("vector_store.handbook") == "vs_1"
    assert found.value("assistant.support-bot.digest") == "sha256:abc"
    with pytest.raises(AssistctlError, match="no output named 'assistant.support-bot.model'"):
        found.value("assistant.support-bot.model")


def test_the_last_argument_is_a_name_only_when_it_reads_as_one_and_is_no_path(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert split_arguments(()) == ((), None)
    assert split_arguments(("stack", "assistant.bot")) == (("stack",), "assistant.bot")
    assert split_arguments(("stack", "file.docs/a.md.id")) == (("stack",), "file.docs/a.md.id")
    assert split_arguments(("stack", "assistant/bot")) == (("stack",), "assistant.bot")
    assert split_arguments(("stack", "file/docs/a.md")) == (("stack",), "file.docs/a.md")
    assert split_arguments(("stack", "notes.txt")) == (("stack", "notes.txt"), None)
    Path("assistant.bot").mkdir()
    assert split_arguments(("assistant.bot",)) == (("assistant.bot",), None)
