"""`assistctl apply`, `destroy` and `import` end to end through the CLI, against a local account
over HTTP: confirmation rules, saved plans, output formats, ownership boundaries, and the key."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistctl.cli import cli
from assistctl.model import NAME_KEY, STACK_KEY

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


@pytest.fixture
def stack_dir(tmp_path) -> Path:
    target = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, target)
    return target


@pytest.fixture
def run(local_server, monkeypatch):
    """Invoke the CLI against the fixture server; stdin is never a TTY here."""
    monkeypatch.setenv("ASSISTCTL_RETRY_BASE_DELAY", "0.001")
    monkeypatch.delenv("ASSISTCTL_ACCOUNT", raising=False)

    def invoke(*arguments: str, input: str | None = None):
        return CliRunner().invoke(
            cli, ["--account", local_server.base_url, *arguments], input=input
        )

    return invoke


def owned(client, owner: str = "support") -> list:
    return [a for a in client.beta.assistants.list(limit=100) if a.metadata.get(STACK_KEY) == owner]


def test_apply_then_a_second_apply_reports_no_changes(run, stack_dir):
    first = run("apply", str(stack_dir), "--yes")
    assert first.exit_code == 0, first.output
    assert "+ assistant.support-bot … created asst_" in first.stdout
    assert "+ vector_store.handbook … created vs_" in first.stdout
    assert first.stdout.rstrip().endswith(
        "Apply complete: 5 created, 0 updated, 0 replaced, 0 deleted."
    )
    plan = run("plan", str(stack_dir), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    second = run("apply", str(stack_dir), "--yes")
    assert second.exit_code == 0
    assert second.stdout.strip() == "No changes."


def test_without_a_terminal_apply_needs_yes(run, stack_dir, client):
    result = run("apply", str(stack_dir))
    assert result.exit_code == 1
    assert "stdin is not a terminal" in result.stderr
    assert "--yes" in result.stderr
    assert "Traceback" not in result.output
    assert list(client.beta.assistants.list(limit=100)) == []
    assert list(client.files.list(limit=100)) == []


def test_a_stale_saved_plan_is_refused(run, stack_dir, tmp_path, client):
    saved = tmp_path / "plan.json"
    assert run("plan", str(stack_dir), "-o", str(saved)).exit_code in (0, 2)
    (stack_dir / "prompts" / "support.md").write_text("Be brief.\n")
    stale = run("apply", str(stack_dir), "--plan", str(saved), "--yes")
    assert stale.exit_code == 1
    assert "the plan is stale: the manifests changed since it was made; run plan again" in (
        stale.stderr
    )
    assert list(client.beta.assistants.list(limit=100)) == []

    assert run("plan", str(stack_dir), "-o", str(saved)).exit_code in (0, 2)
    client.beta.assistants.create(
        model="gpt-4o-mini", metadata={STACK_KEY: "support", NAME_KEY: "stray"}
    )
    stale = run("apply", str(stack_dir), "--plan", str(saved), "--yes")
    assert stale.exit_code == 1
    assert "the plan is stale: the account changed since it was made" in stale.stderr

    assert run("plan", str(stack_dir), "-o", str(saved)).exit_code in (0, 2)
    fresh = run("apply", str(stack_dir), "--plan", str(saved), "--yes")
    assert fresh.exit_code == 0, fresh.output
    assert "1 deleted." in fresh.stdout  # the stray one was in the reviewed plan
    assert [a.metadata[NAME_KEY] for a in owned(client)] == ["support-bot"]


def test_target_applies_only_that_resource_and_its_dependencies(run, stack_dir, client):
    result = run("apply", str(stack_dir), "--target", "vector_store/handbook", "--yes")
    assert result.exit_code == 0, result.output
    assert "Apply complete: 4 created" in result.stdout
    assert list(client.beta.assistants.list(limit=100)) == []
    rest = run("apply", str(stack_dir), "--yes")
    assert "Apply complete: 1 created, 0 updated, 0 replaced, 0 deleted." in rest.stdout
    bad = run("apply", str(stack_dir), "--target", "nonsense", "--yes")
    assert bad.exit_code == 1 and "KIND/NAME" in bad.stderr


def test_json_result(run, stack_dir):
    result = run("apply", str(stack_dir), "--yes", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "complete"
    assert document["summary"] == {"created": 5, "updated": 0, "replaced": 0, "deleted": 0}
    by_address = {r["address"]: r for r in document["resources"]}
    assert by_address["assistant.support-bot"]["id"].startswith("asst_")
    assert "Apply complete" not in result.stdout
    again = json.loads(run("apply", str(stack_dir), "--yes", "--json").stdout)
    assert again["status"] == "no-changes"


def test_a_failed_apply_lists_what_was_done(run, stack_dir, admin, client):
    admin.set_faults(rules=[{"methods": ["POST"], "path": "^/v1/assistants$", "count": 10_000}])
    result = run("apply", str(stack_dir), "--yes")
    assert result.exit_code == 1
    assert "Error: create assistant.support-bot: the account answered 500" in result.stderr
    assert "Done before the failure" in result.stderr
    assert "vector_store.handbook … created vs_" in result.stderr
    as_json = run("apply", str(stack_dir), "--yes", "--json")
    document = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and document["status"] == "failed"
    assert "assistant.support-bot" in document["error"] and document["done"] == []
    admin.clear_faults()
    resumed = run("apply", str(stack_dir), "--yes")
    assert resumed.exit_code == 0
    assert "Apply complete: 1 created, 0 updated" in resumed.stdout


def test_destroy_removes_only_what_the_stack_owns(run, stack_dir, tmp_path, client):
    assert run("apply", str(stack_dir), "--yes").exit_code == 0
    foreign = client.beta.assistants.create(model="gpt-4o-mini", name="Someone else's")
    other_stack = client.beta.assistants.create(
        model="gpt-4o-mini", metadata={STACK_KEY: "billing", NAME_KEY: "support-bot"}
    )
    other_env = client.beta.assistants.create(
        model="gpt-4o-mini", metadata={STACK_KEY: "support/prod", NAME_KEY: "support-bot"}
    )
    loose_file = client.files.create(file=("notes.md", b"mine"), purpose="assistants")
    refused = run("destroy", str(stack_dir))
    assert refused.exit_code == 1 and owned(client)
    result = run("destroy", str(stack_dir), "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("assistctl destroy · stack support")  # not plan's words
    assert "# owned by 'support': destroy deletes everything the stack owns" in result.stdout
    assert "Destroy: 5 to delete." in result.stdout
    assert result.stdout.rstrip().endswith("Destroy complete: 5 deleted.")
    remaining = {a.id for a in client.beta.assistants.list(limit=100)}
    assert remaining == {foreign.id, other_stack.id, other_env.id}
    assert [f.id for f in client.files.list(limit=100)] == [loose_file.id]
    assert list(client.vector_stores.list(limit=100)) == []
    assert run("destroy", str(stack_dir), "--yes").stdout.strip() == (
        "Nothing to destroy: stack 'support' owns nothing in the account."
    )


def test_import_adopts_then_apply_fixes_only_real_differences(run, stack_dir, client):
    hand_made = client.beta.assistants.create(
        model="gpt-4o-mini", name="Support Bot", metadata={"owner": "alice"}
    )
    result = run("import", "assistant/support-bot", hand_made.id, str(stack_dir))
    assert result.exit_code == 0, result.output
    assert f"Imported {hand_made.id} as assistant.support-bot" in result.stdout
    assert client.beta.assistants.retrieve(hand_made.id).metadata["owner"] == "alice"
    again = run("import", "assistant/support-bot", hand_made.id, str(stack_dir))
    assert "already managed" in again.stdout
    applied = run("apply", str(stack_dir), "--yes")
    assert "~ assistant.support-bot … updated " + hand_made.id in applied.stdout
    assert [a.id for a in owned(client)] == [hand_made.id]
    # The manifest's metadata wins once applied: the hand-made key was a real difference.
    assert client.beta.assistants.retrieve(hand_made.id).metadata == {
        "team": "support",
        STACK_KEY: "support",
        NAME_KEY: "support-bot",
    }


def test_import_refusals_exit_1(run, stack_dir, client):
    other = client.beta.assistants.create(
        model="m", metadata={STACK_KEY: "billing", NAME_KEY: "bot"}
    )
    result = run("import", "assistant/support-bot", other.id, str(stack_dir))
    assert result.exit_code == 1
    assert "belongs to stack 'billing'" in result.stderr
    missing = run("import", "assistant/ghost", other.id, str(stack_dir))
    assert missing.exit_code == 1 and "not in the manifests" in missing.stderr
    bad_kind = run("import", "widget/x", other.id, str(stack_dir))
    assert bad_kind.exit_code == 1 and "KIND/NAME" in bad_kind.stderr
    assert client.beta.assistants.retrieve(other.id).metadata[STACK_KEY] == "billing"


def test_the_api_key_never_appears(tmp_path, stack_dir, monkeypatch):
    from assistctl.local import LocalConfig, start_in_process

    key = "sk-assistctl-test-7f3a9c1e5b2d4f60a8c9e1d3b5f7a9c0"
    server = start_in_process(tmp_path / "keyed", config=LocalConfig(api_key=key))
    try:
        monkeypatch.setenv("ASSISTCTL_API_KEY", key)
        monkeypatch.setenv("ASSISTCTL_RETRY_BASE_DELAY", "0.001")
        runner = CliRunner()
        saved = tmp_path / "plan.json"

        def invoke(*arguments):
            return runner.invoke(cli, ["--account", server.base_url, *arguments])

        results = [
            invoke("plan", str(stack_dir), "-o", str(saved)),
            invoke("apply", str(stack_dir), "--plan", str(saved), "--yes", "--json"),
            invoke("apply", str(stack_dir), "--yes"),
            invoke("destroy", str(stack_dir), "--yes"),
            invoke("--debug", "apply", str(stack_dir)),
        ]
        monkeypatch.setenv("ASSISTCTL_API_KEY", "wrong-" + key[::-1])
        results.append(invoke("apply", str(stack_dir), "--yes"))
        assert results[1].exit_code == 0 and results[-1].exit_code == 1
        for result in results:
            assert key not in result.output + repr(result.exception)
        assert key not in saved.read_text()
    finally:
        server.stop()


def test_identical_files_in_one_store_converge_and_are_explained(run, stack_dir, client):
    """A vector store holds each content once: two paths with the same bytes must not leave a
    plan that never empties."""
    shutil.copy(stack_dir / "docs" / "returns.md", stack_dir / "docs" / "returns2.md")
    applied = run("apply", str(stack_dir), "--yes")
    assert applied.exit_code == 0, applied.output
    plan = run("plan", str(stack_dir), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert "docs/returns2.md has the same content as docs/returns.md" in plan.output
    assert len(list(client.files.list(limit=100))) == 3


def _writes(admin) -> int:
    """Write requests the account saw (its own admin API aside)."""
    return sum(
        count
        for route, count in admin.stats()["requests"].items()
        if route.split(" ", 1)[0] in ("POST", "DELETE") and " /_admin" not in route
    )


def _change_the_stack(stack_dir: Path) -> None:
    """Content, a moved file, a removed file, an edited prompt and a removed tool: every kind of
    write (upload, attach, retag, detach, update, delete) at once."""
    docs = stack_dir / "docs"
    (docs / "returns.md").write_text("# Returns\n\nReturns are free for 60 days.\n")
    (docs / "shipping.md").rename(docs / "delivery.md")
    (docs / "warranty.md").unlink()
    (stack_dir / "prompts" / "support.md").write_text("Answer in one sentence.\n")


@pytest.mark.parametrize("stage", ["fresh account", "changed stack"])
def test_a_saved_plan_lists_exactly_the_writes_apply_makes(stage, run, stack_dir, admin, tmp_path):
    if stage == "changed stack":
        assert run("apply", str(stack_dir), "--yes").exit_code == 0
        _change_the_stack(stack_dir)
    saved = tmp_path / "plan.json"
    assert run("plan", str(stack_dir), "-o", str(saved)).exit_code == 0
    operations = json.loads(saved.read_text())["operations"]
    verbs = {operation["verb"] for operation in operations}
    admin.reset_stats()
    applied = run("apply", str(stack_dir), "--plan", str(saved), "--yes")
    assert applied.exit_code == 0, applied.output
    listed_writes = [op for op in operations if op["verb"] != "wait"]
    lock_writes = 2  # the stack's lock: one marker uploaded, then removed (assistctl.lock)
    assert _writes(admin) == len(listed_writes) + lock_writes, (verbs, admin.stats()["requests"])
    if stage == "changed stack":
        assert {"upload", "attach", "retag", "detach", "update", "delete"} <= verbs
    assert run("plan", str(stack_dir), "--detailed-exitcode").exit_code == 0


def test_ctrl_c_while_waiting_for_indexing_stops_at_once_and_says_how_to_continue(tmp_path):
    """Ctrl-C used to do nothing until indexing ended (62 s with a 60 s delay). The bound is far
    from both: "at once" is about a second, but a loaded machine starts Python slowly."""
    target = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, target)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTCTL_")}
    environment["ASSISTCTL_LOCAL_INDEXING_DELAY"] = "60"
    command = [sys.executable, "-m", "assistctl", "--account", f"local:{tmp_path / 'acct'}"]
    process = subprocess.Popen(
        [*command, "apply", str(target), "--yes"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    uploads = 0
    while uploads < 3:
        line = process.stdout.readline()
        assert line, "apply ended before uploading"
        uploads += " uploaded " in line
    time.sleep(0.5)  # the store is made and its files attached: apply waits for indexing
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert time.monotonic() - interrupted < 20
    assert process.returncode == 130, err
    assert "Done before the interruption" in err and "run apply again to continue" in err
    assert "Traceback" not in err


def test_the_stale_plan_hint_runs_as_printed(run, tmp_path, local_server):
    """The hint used to drop the paths and --env (and the account)."""
    stack = tmp_path / "multi-env"
    shutil.copytree(QUICKSTART.parent / "multi-env", stack)
    saved = tmp_path / "plan.json"
    assert run("plan", str(stack), "--env", "staging", "-o", str(saved)).exit_code == 0
    prompt = next((stack / "prompts").iterdir())
    prompt.write_text(prompt.read_text() + "\nOne more rule.\n")
    stale = run("apply", str(stack), "--env", "staging", "--plan", str(saved), "--yes")
    assert stale.exit_code == 1
    program = f"assistctl --account {local_server.base_url}"
    assert f"{program} plan {stack} --env staging -o {saved}" in stale.stderr
    assert f"{program} apply {stack} --env staging --plan {saved}" in stale.stderr


# --- moves, show, destroy --target, --replace -----------------------------------------------


def test_a_moved_logical_name_is_re_tagged_in_place_keeping_the_id(run, stack_dir, client):
    """Renaming helpdesk to support-desk used to plan delete + create: a new id broke apps."""
    assert run("apply", str(stack_dir), "--yes").exit_code == 0
    (before,) = owned(client)
    bot = stack_dir / "support-bot.yaml"
    bot.write_text(bot.read_text().replace("name: support-bot", "name: support-desk"))
    stack = stack_dir / "stack.yaml"
    stack.write_text(
        stack.read_text()
        + "spec:\n  moved:\n    - {from: assistant.support-bot, to: assistant.support-desk}\n"
    )
    planned = run("plan", str(stack_dir))
    assert "  ~ assistant.support-desk" in planned.stdout
    assert "moved from assistant.support-bot" in planned.stdout
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." in planned.stdout
    assert run("apply", str(stack_dir), "--yes").exit_code == 0
    (after,) = owned(client)
    assert after.id == before.id and after.metadata[NAME_KEY] == "support-desk"
    assert run("plan", str(stack_dir), "--detailed-exitcode").exit_code == 0


def test_show_prints_what_the_stack_owns(run, stack_dir):
    assert run("apply", str(stack_dir), "--yes").exit_code == 0
    everything = run("show", str(stack_dir))
    assert everything.exit_code == 0, everything.output
    assert "vector_store.handbook  vs_" in everything.stdout
    assert "      docs/returns.md  file-" in everything.stdout
    one = run("show", str(stack_dir), "assistant/support-bot", "--json")
    (entry,) = json.loads(one.stdout)
    assert entry["address"] == "assistant.support-bot"
    assert entry["fields"]["tool_resources"] == {"file_search": {"vector_stores": ["handbook"]}}
    missing = run("show", str(stack_dir), "assistant/suport-bot")
    assert missing.exit_code == 1 and "did you mean assistant/support-bot?" in missing.stderr


def test_destroy_target_takes_what_uses_it_along(run, stack_dir, client):
    assert run("apply", str(stack_dir), "--yes").exit_code == 0
    result = run("destroy", str(stack_dir), "--target", "vector_store/handbook", "--yes")
    assert result.exit_code == 0, result.output
    assert "- vector_store.handbook" in result.stdout and "- assistant.support-bot" in result.stdout
    assert owned(client) == [] and list(client.vector_stores.list()) == []
    assert len(list(client.files.list())) == 3  # the uploads were not targeted


def test_replace_makes_a_new_object_take_the_place(run, stack_dir, client):
    assert run("apply", str(stack_dir), "--yes").exit_code == 0
    (store,) = client.vector_stores.list()
    result = run("apply", str(stack_dir), "--replace", "vector_store/handbook", "--yes")
    assert result.exit_code == 0, result.output
    (new,) = client.vector_stores.list()
    assert new.id != store.id and new.file_counts.completed == 3
    (bot,) = owned(client)
    assert bot.tool_resources.file_search.vector_store_ids == [new.id]
    assert run("plan", str(stack_dir), "--detailed-exitcode").exit_code == 0
    refused = run("apply", str(stack_dir), "--replace", "file/docs/returns.md", "--yes")
    assert refused.exit_code == 1 and "cannot be replaced on request" in refused.stderr


def test_two_applies_at_once_leave_one_of_everything(tmp_path, local_server, client):
    """Two applies of one stack at once used to both exit 0 and duplicate every assistant,
    store and upload; every later plan then refused to run."""
    import os
    import subprocess
    import sys
    from collections import Counter

    target = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, target)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTCTL_")}
    command = [sys.executable, "-m", "assistctl", "--account", local_server.base_url, "apply"]
    runs = [
        subprocess.Popen(
            [*command, str(target), "--yes", "--lock-timeout", "60s"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted(out.strip().splitlines()[-1] for out, _ in outputs) == [
        "Apply complete: 5 created, 0 updated, 0 replaced, 0 deleted.",
        "No changes.",
    ]
    assert Counter(a.metadata[NAME_KEY] for a in owned(client)) == {"support-bot": 1}
    assert len(list(client.vector_stores.list())) == 1
    assert len(list(client.files.list())) == 3
