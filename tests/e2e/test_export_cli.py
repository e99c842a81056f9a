"""`assistctl export` end to end against the local account: what apply made exports back to
manifests that plan as no changes, and a hand-made assistant can be exported, imported and
from then on managed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from assistctl.cli import cli

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"


def run(local_server, *args: str):
    result = CliRunner().invoke(
        cli, ["--account", local_server.base_url, *args], prog_name="assistctl"
    )
    return result


def supply_from(source_dir: Path, export_dir: Path) -> list[str]:
    """Do what the export's comments ask: copy each listed file from the original stack."""
    supplied = []
    for manifest in export_dir.rglob("*.yaml"):
        for line in manifest.read_text().splitlines():
            line = line.strip()
            if line.startswith("# supply "):
                path = line.removeprefix("# supply ").split(" ", 1)[0]
                target = export_dir / path
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source_dir / path, target)
                supplied.append(path)
    return sorted(supplied)


def test_apply_export_plan_round_trip(local_server, tmp_path):
    applied = run(local_server, "apply", str(QUICKSTART), "--yes")
    assert applied.exit_code == 0, applied.output

    out = tmp_path / "exported"
    exported = run(local_server, "export", "--stack", "support", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    assert "Adopt" not in exported.output  # everything is already the stack's
    assert (out / "assistants" / "support-bot.yaml").is_file()
    assert (out / "vector_stores" / "handbook.yaml").is_file()
    assert (out / "prompts" / "support-bot.md").read_text() == (
        QUICKSTART / "prompts" / "support.md"
    ).read_text()
    assert supply_from(QUICKSTART, out) == sorted(
        p.relative_to(QUICKSTART).as_posix() for p in (QUICKSTART / "docs").glob("*.md")
    )

    planned = run(local_server, "plan", str(out), "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output


def test_export_import_plan_of_a_hand_made_assistant(local_server, client, tmp_path):
    made = client.beta.assistants.create(
        model="gpt-4o-mini",
        name="Returns Helper",
        description="Made in the dashboard",
        instructions="You handle returns.\nAsk for the order id.\nBe kind.\nNever promise refunds.",
        tools=[
            {"type": "code_interpreter"},
            {
                "type": "function",
                "function": {
                    "name": "start_return",
                    "description": "Open a return",
                    "parameters": {
                        "type": "object",
                        "properties": {"order_id": {"type": "string"}},
                        "required": ["order_id"],
                        "additionalProperties": False,
                    },
                    "strict": True,
                },
            },
        ],
        temperature=0.4,
        metadata={"team": "returns"},
    )
    out = tmp_path / "adopted"
    exported = run(local_server, "export", "--all", "--stack", "returns", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    spec = yaml.safe_load((out / "assistants" / "returns-helper.yaml").read_text())["spec"]
    assert spec["instructions_file"] == "../prompts/returns-helper.md"
    assert spec["tools"][1]["function"]["strict"] is True

    imports = [
        line.strip().split()
        for line in exported.output.splitlines()
        if line.strip().startswith("assistctl ") and " import " in line
    ]
    assert [words[-3:] for words in imports] == [["assistant/returns-helper", made.id, str(out)]]
    for words in imports:
        imported = CliRunner().invoke(cli, words[1:], prog_name="assistctl")
        assert imported.exit_code == 0, imported.output

    planned = run(local_server, "plan", str(out), "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output
    adopted = client.beta.assistants.retrieve(made.id)
    assert adopted.metadata == {
        "team": "returns",
        "assistctl_stack": "returns",
        "assistctl_name": "returns-helper",
    }


def test_downloadable_files_are_written_and_others_listed(local_server, client, tmp_path):
    readable = client.files.create(
        file=("faq.md", b"# FAQ\nShipping is free.\n"), purpose="user_data"
    )
    sealed = client.files.create(
        file=("policy.md", b"# Policy\nNo returns.\n"), purpose="assistants"
    )
    store = client.vector_stores.create(name="Help Center", file_ids=[readable.id, sealed.id])
    out = tmp_path / "out"
    exported = run(local_server, "export", "--ids", store.id, "-o", str(out))
    assert exported.exit_code == 0, exported.output
    assert (out / "files" / "faq.md").read_bytes() == b"# FAQ\nShipping is free.\n"
    assert not (out / "files" / "policy.md").exists()
    manifest = (out / "vector_stores" / "help-center.yaml").read_text()
    assert f"# supply files/policy.md ({sealed.id}, 21 B)" in manifest
    assert f"{out / 'files' / 'policy.md'}  ({sealed.id}, 21 B, vector_store.help-center)" in (
        exported.output
    )
    assert f"import vector_store/help-center {store.id}" in exported.output


def test_export_errors_are_one_line_and_exit_1(local_server, tmp_path):
    nothing = run(local_server, "export", "-o", str(tmp_path / "a"))
    assert nothing.exit_code == 1
    assert "Error: choose what to export" in nothing.output

    unknown = run(local_server, "export", "--ids", "asst_nope", "-o", str(tmp_path / "b"))
    assert unknown.exit_code == 1
    assert "Error: not in the account: asst_nope" in unknown.output

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep")
    refused = run(local_server, "export", "--all", "-o", str(busy))
    assert refused.exit_code == 1
    assert "is not empty" in refused.output
    assert "Traceback" not in nothing.output + unknown.output + refused.output


def test_export_as_a_subprocess_keeps_the_key_out_of_the_output(local_server, client, tmp_path):
    """Through the real entry point, with a key in the environment that must never show."""
    client.beta.assistants.create(model="gpt-4o-mini", name="Helper", instructions="Hi.")
    secret = "sk-test-must-not-appear-0123456789"
    done = subprocess.run(
        [sys.executable, "-m", "assistctl", "--account", local_server.base_url]
        + ["export", "--all", "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "ASSISTCTL_API_KEY": secret, "NO_COLOR": "1"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "import assistant/helper" in done.stdout
    assert secret not in done.stdout + done.stderr
    assert secret not in "".join(p.read_text() for p in (tmp_path / "out").rglob("*.yaml"))


def test_structured_output_round_trips(local_server, client, tmp_path):
    answer_schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    made = client.beta.assistants.create(
        model="gpt-4o-mini",
        name="JSON Bot",
        instructions="Answer in JSON.",
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": answer_schema, "strict": True},
        },
        tools=[{"type": "file_search"}],
    )
    out = tmp_path / "out"
    exported = run(local_server, "export", "--ids", made.id, "-o", str(out))
    assert exported.exit_code == 0, exported.output
    spec = yaml.safe_load((out / "assistants" / "json-bot.yaml").read_text())["spec"]
    assert spec["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": answer_schema, "strict": True},
    }
    assert spec["tools"] == [{"type": "file_search"}]
    imported = run(local_server, "import", "assistant/json-bot", made.id, str(out))
    assert imported.exit_code == 0, imported.output
    planned = run(local_server, "plan", str(out), "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output


def test_a_function_without_parameters_gets_an_empty_schema_and_a_note(
    local_server, client, tmp_path
):
    made = client.beta.assistants.create(
        model="gpt-4o-mini",
        name="Pinger",
        instructions="Ping when asked.",
        tools=[{"type": "function", "function": {"name": "ping"}}],
    )
    out = tmp_path / "out"
    exported = run(local_server, "export", "--ids", made.id, "-o", str(out))
    assert exported.exit_code == 0, exported.output
    assert "function ping has no parameters in the account" in exported.output
    spec = yaml.safe_load((out / "assistants" / "pinger.yaml").read_text())["spec"]
    assert spec["tools"] == [
        {
            "type": "function",
            "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    assert run(local_server, "import", "assistant/pinger", made.id, str(out)).exit_code == 0
    planned = run(local_server, "plan", str(out), "--json")
    changes = [c for c in json.loads(planned.output)["changes"] if c["action"] != "no-op"]
    assert [(c["address"], c["fields"]) for c in changes] == [("assistant.pinger", ["tools"])]


def test_hand_made_vector_store_is_managed_after_one_apply(local_server, client, tmp_path):
    """The README walkthrough: export, supply, import; plan shows only the hand uploads being
    replaced by verifiable ones; after one apply the stack plans as no changes."""
    docs = QUICKSTART / "docs"
    uploads = [
        client.files.create(file=(p.name, p.read_bytes()), purpose="assistants")
        for p in sorted(docs.glob("*.md"))
    ]
    store = client.vector_stores.create(name="Handbook", file_ids=[u.id for u in uploads])
    client.beta.assistants.create(
        model="gpt-4o-mini",
        name="Support",
        instructions="Answer from the handbook.",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    out = tmp_path / "support"
    exported = run(local_server, "export", "--all", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    assert f"{len(uploads)} files uploaded by hand will be uploaded again" in exported.output
    assert (out / "files").is_dir()
    for path in sorted(docs.glob("*.md")):
        shutil.copyfile(path, out / "files" / path.name)
    for line in exported.output.splitlines():
        if " import " in line:
            words = line.split()
            imported = CliRunner().invoke(cli, words[1:], prog_name="assistctl")
            assert imported.exit_code == 0, imported.output

    planned = run(local_server, "plan", str(out), "--json")
    assert planned.exit_code == 0, planned.output
    summary = json.loads(planned.output)["summary"]
    assert summary == {"create": len(uploads), "update": 1, "replace": 0, "delete": 0}

    applied = run(local_server, "apply", str(out), "--yes")
    assert applied.exit_code == 0, applied.output
    again = run(local_server, "plan", str(out), "--detailed-exitcode")
    assert again.exit_code == 0, again.output
