"""`assistctl plan` end to end against the local account: a fresh account plans the quickstart
as creates, an applied one plans empty, and edits made through the SDK show as exactly those
drifts; saved plans, targets, output formats and errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from assistctl import apply
from assistctl.backends.assistants import AssistantsBackend
from assistctl.cli import cli
from assistctl.model import NAME_KEY, STACK_KEY
from assistctl.planfile import read_plan_file
from assistctl.workflow import compute_plan

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = str(ROOT / "examples" / "quickstart")
SECRET = "sk-test-never-print-me-0123456789"


def run(local_server, *args: str):
    return CliRunner(env={"ASSISTCTL_API_KEY": SECRET, "NO_COLOR": "1"}).invoke(
        cli, ["--account", local_server.base_url, *args], prog_name="assistctl"
    )


def apply_quickstart(client) -> None:
    backend = AssistantsBackend(client)
    desired, live, plan = compute_plan([QUICKSTART], None, backend)
    apply.execute(plan, desired, live, backend)


def test_fresh_account_plans_every_resource_as_create(local_server, admin):
    result = run(local_server, "plan", QUICKSTART, "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    for address in (
        "file.docs/returns.md",
        "file.docs/shipping.md",
        "file.docs/warranty.md",
        "vector_store.handbook",
        "assistant.support-bot",
    ):
        assert f"  + {address}" in lines
    assert lines[-1] == "Plan: 5 to create, 0 to update, 0 to replace, 0 to delete."
    assert all(key.startswith("GET ") for key in admin.stats()["requests"])  # plan never writes

    plain = run(local_server, "plan", QUICKSTART)
    assert plain.exit_code == 0, plain.output

    document = json.loads(run(local_server, "plan", QUICKSTART, "--json").stdout)
    assert {c["action"] for c in document["changes"]} == {"create"}
    assert document["summary"] == {"create": 5, "update": 0, "replace": 0, "delete": 0}


def test_applied_account_plans_empty_and_sdk_edits_show_as_exactly_those_drifts(
    local_server, client
):
    apply_quickstart(client)
    clean = run(local_server, "plan", QUICKSTART, "--detailed-exitcode")
    assert clean.exit_code == 0, clean.output
    assert "No changes. The account matches the manifests." in clean.stdout

    (bot,) = [a for a in client.beta.assistants.list() if a.metadata.get(STACK_KEY) == "support"]
    (store,) = [v for v in client.vector_stores.list() if v.metadata.get(NAME_KEY) == "handbook"]
    client.beta.assistants.update(
        bot.id, instructions="Answer in French.", temperature=0.9, top_p=1.0
    )
    client.vector_stores.update(store.id, name="Renamed in the dashboard")
    warranty = next(
        f.id
        for f in client.vector_stores.files.list(store.id)
        if f.attributes.get("assistctl_path") == "docs/warranty.md"
    )
    client.vector_stores.files.delete(warranty, vector_store_id=store.id)

    result = run(local_server, "plan", QUICKSTART, "--json", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    changes = {c["address"]: c for c in json.loads(result.stdout)["changes"]}
    assert {address: (c["action"], c["fields"]) for address, c in changes.items()} == {
        "vector_store.handbook": ("update", ["name", "files"]),
        "assistant.support-bot": ("update", ["instructions", "temperature"]),
    }
    assert changes["assistant.support-bot"]["before"]["instructions"] == "Answer in French."
    assert "docs/warranty.md" not in changes["vector_store.handbook"]["before"]["files"]

    text = run(local_server, "plan", QUICKSTART).stdout
    assert "    ~ temperature: 0.9 → 0.2" in text
    assert '    ~ name: "Renamed in the dashboard" → "Support handbook"' in text
    assert "          -Answer in French." in text
    assert "Plan: 0 to create, 2 to update, 0 to replace, 0 to delete." in text


def test_foreign_namesakes_warn_and_are_never_deleted(local_server, client):
    apply_quickstart(client)
    made = client.beta.assistants.create(model="gpt-4o", name="Support Bot")
    client.beta.assistants.create(
        model="gpt-4o", name="Other", metadata={STACK_KEY: "support/prod", NAME_KEY: "old-bot"}
    )
    result = run(local_server, "plan", QUICKSTART, "--detailed-exitcode")
    assert result.exit_code == 0, result.output  # nothing to do: namesakes of existing resources

    client.beta.assistants.delete(
        next(
            a.id for a in client.beta.assistants.list() if a.metadata.get(NAME_KEY) == "support-bot"
        )
    )
    result = run(local_server, "plan", QUICKSTART)
    assert "  + assistant.support-bot" in result.stdout
    runnable = f"assistctl --account {local_server.base_url} import assistant/support-bot {made.id}"
    assert f"{runnable} {QUICKSTART}" in result.stdout  # as printed, with the account and path
    assert not [line for line in result.stdout.splitlines() if line.startswith("  - ")]


def test_saved_plan_and_markdown_never_hold_the_key(local_server, tmp_path):
    saved = tmp_path / "plan.json"
    result = run(local_server, "plan", QUICKSTART, "--markdown", "-o", str(saved))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("### assistctl plan · stack `support`")
    assert "| `+` | `assistant.support-bot` | create |" in result.stdout
    assert f"apply --plan {saved}" in result.stderr
    plan = read_plan_file(saved)
    assert [c.action.value for c in plan.changes] == ["create"] * 5
    assert plan.stack == "support" and plan.env is None
    for text in (saved.read_text(), result.output):
        assert SECRET not in text


def test_targets_select_a_resource_and_its_dependencies(local_server):
    document = json.loads(
        run(local_server, "plan", QUICKSTART, "--json", "--target", "VectorStore/handbook").stdout
    )
    assert [c["address"] for c in document["changes"]] == [
        "file.docs/returns.md",
        "file.docs/shipping.md",
        "file.docs/warranty.md",
        "vector_store.handbook",
    ]
    assert any("targeting is in effect" in w for w in document["warnings"])


def test_errors_are_one_line_with_exit_code_1(local_server, admin):
    admin.reset_stats()
    missing = run(local_server, "plan", str(ROOT / "no-such-dir"))
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert admin.stats()["total"] == 0  # bad manifests fail before the account is touched

    unknown = run(local_server, "plan", QUICKSTART, "--target", "assistant/nope")
    assert unknown.exit_code == 1
    assert "Error: --target assistant/nope: no assistant named 'nope'" in unknown.stderr
    assert "assistant/support-bot" in unknown.stderr  # the hint lists the known targets
    assert "Traceback" not in unknown.output

    malformed = run(local_server, "plan", QUICKSTART, "--target", "robot")
    assert malformed.exit_code == 1 and "is not KIND/NAME" in malformed.stderr

    both = run(local_server, "plan", QUICKSTART, "--json", "--markdown")
    assert both.exit_code == 1 and "cannot be combined" in both.stderr


def test_environments_of_one_stack_are_separate_owners(local_server, client):
    multi_env = str(ROOT / "examples" / "multi-env")
    backend = AssistantsBackend(client)
    desired, live, plan = compute_plan([multi_env], "staging", backend)
    apply.execute(plan, desired, live, backend)

    staging = run(local_server, "plan", multi_env, "--env", "staging", "--detailed-exitcode")
    assert staging.exit_code == 0, staging.output

    prod = run(local_server, "plan", multi_env, "--env", "prod", "--json")
    assert prod.exit_code == 0, prod.output
    document = json.loads(prod.stdout)
    assert document["owner"] == "triage/prod"
    assert [(c["address"], c["action"]) for c in document["changes"]] == [
        ("assistant.triage-bot", "create")
    ]
    assert document["warnings"] == []  # the staging namesake is the same stack's, not a clash
