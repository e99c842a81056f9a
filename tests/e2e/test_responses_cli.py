"""Responses mode end to end through the CLI, against the local account: files and vector stores
in the account, each assistant a release file; plan diffs releases, drift of a release (a store
deleted, a file edited by hand) shows and is repaired, output and export name what apps need,
the mode comes from --api or the Stack, and the key is never written anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from assistctl.cli import cli
from assistctl.local import LocalConfig, start_in_process
from assistctl.release import load_release
from tests.builders import add_code_interpreter_file
from tests.e2e.test_export_cli import supply_from
from tests.local.conftest import sandbox_available  # noqa: F401 - a fixture
from tests.local.test_serve import start as start_serve
from tests.local.test_serve import stop as stop_serve

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
RELEASE = Path("releases") / "support" / "support-bot.json"


@pytest.fixture
def stack(tmp_path) -> Path:
    copy = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, copy)
    return copy


def run(account: str, *args: str, env: dict[str, str] | None = None):
    return CliRunner(env=env).invoke(cli, ["--account", account, *args], catch_exceptions=False)


def responses(local_server, *args: str, env: dict[str, str] | None = None):
    return run(local_server.base_url, *args[:1], "--api", "responses", *args[1:], env=env)


def test_apply_plan_destroy_the_quickstart_in_responses_mode(local_server, stack, client):
    applied = responses(local_server, "apply", str(stack), "--yes")
    assert applied.exit_code == 0, applied.output
    assert f"+ assistant.support-bot … created {RELEASE.as_posix()}" in applied.output
    release = load_release(stack / RELEASE)
    (store,) = client.vector_stores.list().data
    assert release.vector_store_ids == (store.id,)
    assert release.stack == "support" and release.name == "support-bot"
    assert client.beta.assistants.list().data == []  # no server assistant in this mode

    planned = responses(local_server, "plan", str(stack), "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output
    assert "No changes." in planned.output

    tested = responses(local_server, "test", str(stack))
    assert tested.exit_code == 0, tested.output
    assert tested.output.splitlines()[-1].startswith("3 passed in ")

    destroyed = responses(local_server, "destroy", str(stack), "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert "Destroy complete: 5 deleted." in destroyed.output
    assert not (stack / RELEASE).exists()
    assert client.vector_stores.list().data == []


def test_a_changed_instruction_is_a_release_diff_and_reapply_writes_a_new_release(
    local_server, stack
):
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    before = load_release(stack / RELEASE)
    prompt = stack / "prompts" / "support.md"
    prompt.write_text(prompt.read_text() + "- Never promise refunds.\n")

    planned = responses(local_server, "plan", str(stack), "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    assert f"~ assistant.support-bot  ({RELEASE.as_posix()})" in planned.output
    assert "+- Never promise refunds." in planned.output  # instructions as a text diff
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." in planned.output
    markdown = responses(local_server, "plan", str(stack), "--markdown").output
    assert "instructions diff" in markdown

    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    after = load_release(stack / RELEASE)
    assert after.digest != before.digest
    assert after.template["instructions"].endswith("- Never promise refunds.\n")
    assert responses(local_server, "plan", str(stack), "--detailed-exitcode").exit_code == 0


def test_a_deleted_vector_store_is_drift_of_the_release(local_server, stack, client):
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    (store,) = client.vector_stores.list().data
    client.vector_stores.delete(store.id)

    planned = responses(local_server, "plan", str(stack))
    assert "+ vector_store.handbook" in planned.output
    assert "~ assistant.support-bot" in planned.output
    assert f'tool_resources.file_search.vector_stores: ["{store.id}"] → ["handbook"]' in (
        planned.output
    )
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    (recreated,) = client.vector_stores.list().data
    assert load_release(stack / RELEASE).vector_store_ids == (recreated.id,)
    assert responses(local_server, "plan", str(stack), "--detailed-exitcode").exit_code == 0


@pytest.mark.parametrize(
    ("edit", "shown"),
    [
        (lambda c: c["request"].update(tool_choice="required"), "does not match its digest"),
        (lambda c: c["request"].update(instructions="Promise refunds."), "+You are the support"),
    ],
)
def test_a_release_edited_by_hand_is_drift_and_apply_writes_it_again(
    local_server, stack, edit, shown
):
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    written = (stack / RELEASE).read_text()
    content = json.loads(written)
    edit(content)
    (stack / RELEASE).write_text(json.dumps(content))

    planned = responses(local_server, "plan", str(stack), "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    assert shown in planned.output
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    assert (stack / RELEASE).read_text() == written


def test_a_release_the_responses_api_cannot_express_fails_before_any_write(
    local_server, stack, client
):
    manifest = stack / "support-bot.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "  tool_resources:\n    file_search:\n      vector_stores: [handbook]\n", ""
        )
    )
    result = run(local_server.base_url, "apply", "--api", "responses", str(stack), "--yes")
    assert result.exit_code == 1
    assert "assistant.support-bot: a file_search tool needs a vector store" in result.stderr
    assert client.files.list().data == [] and client.vector_stores.list().data == []


def test_the_stack_sets_the_mode_and_an_environment_overrides_it(local_server, stack, client):
    (stack / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: support}\n"
        "spec:\n  api: responses\n  release_dir: out\n"
        "  environments:\n    legacy: {api: assistants}\n    prod: {}\n"
    )
    assert run(local_server.base_url, "apply", str(stack), "--yes", "--env", "prod").exit_code == 0
    assert (stack / "out" / "prod" / "support-bot.json").is_file()
    legacy = run(local_server.base_url, "apply", str(stack), "--yes", "--env", "legacy")
    assert legacy.exit_code == 0, legacy.output
    (assistant,) = client.beta.assistants.list().data
    assert assistant.metadata["assistctl_stack"] == "support/legacy"
    elsewhere = stack.parent / "shipped"
    flagged = run(
        local_server.base_url, "apply", "--release-dir", str(elsewhere), str(stack), "--yes"
    )
    assert flagged.exit_code == 0, flagged.output
    assert (elsewhere / "support-bot.json").is_file()


def test_the_sunset_notice_names_responses_mode_and_responses_mode_needs_no_assistants(
    local_server, stack, admin
):
    admin.set_faults(rules=[{"path": "^/v1/(assistants|threads)", "status": 404, "count": 1000}])
    refused = run(local_server.base_url, "plan", str(stack))
    assert refused.exit_code == 1
    (error, hint) = refused.stderr.strip().splitlines()[-2:]
    assert error.startswith("Error: the account answered 404 to /assistants: ")
    assert "2026-08-26" in error
    assert hint.startswith("Hint: deploy this stack to the Responses API instead with --api ")
    applied = responses(local_server, "apply", str(stack), "--yes")
    assert applied.exit_code == 0, applied.output


def test_output_names_what_apps_need_in_both_modes(local_server, stack, client, monkeypatch):
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    monkeypatch.chdir(stack.parent)  # paths are shown from where the command runs
    text = responses(local_server, "output", str(stack)).output.splitlines()
    (store,) = client.vector_stores.list().data
    assert text[:3] == [
        f'assistant.support-bot.release = "quickstart/{RELEASE.as_posix()}"',
        f'assistant.support-bot.digest = "{load_release(stack / RELEASE).digest}"',
        f'vector_store.handbook.id = "{store.id}"',
    ]
    assert [line.split(".id = ")[0] for line in text[3:]] == [
        "file.docs/returns.md",
        "file.docs/shipping.md",
        "file.docs/warranty.md",
    ]
    document = json.loads(responses(local_server, "output", str(stack), "--json").output)
    assert document["api"] == "responses"
    assert document["outputs"]["vector_store.handbook"] == {"id": store.id}
    path = responses(local_server, "output", str(stack), "assistant.support-bot").output
    assert path == f"quickstart/{RELEASE.as_posix()}\n"

    assert run(local_server.base_url, "apply", str(stack), "--yes").exit_code == 0
    (assistant,) = client.beta.assistants.list().data
    plain = run(local_server.base_url, "output", str(stack), "assistant.support-bot").output
    assert plain == f"{assistant.id}\n"
    missing = run(local_server.base_url, "output", str(stack), "assistant.nope")
    assert missing.exit_code == 1 and "no output named 'assistant.nope'" in missing.stderr


def test_export_in_responses_mode_reads_assistants_from_release_files(
    local_server, stack, tmp_path
):
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    out = tmp_path / "exported"
    exported = responses(
        local_server,
        "export", "--stack", "support", "--release-dir", str(stack / "releases" / "support"),
        "-o", str(out),
    )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    manifest = yaml.safe_load((out / "assistants" / "support-bot.yaml").read_text())
    assert manifest["spec"]["tool_resources"] == {"file_search": {"vector_stores": ["handbook"]}}
    settings = yaml.safe_load((out / "stack.yaml").read_text())["spec"]
    assert settings == {"api": "responses", "release_dir": "../quickstart/releases/support"}
    supply_from(stack, out)
    planned = run(local_server.base_url, "plan", str(out), "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output


def test_the_api_key_is_never_in_a_release_or_an_output(tmp_path, stack):
    key = "sk-test-SECRET-4242"
    server = start_in_process(tmp_path / "account", config=LocalConfig(api_key=key))
    try:
        env = {"ASSISTCTL_API_KEY": key}
        args = ("--api", "responses", str(stack))
        results = [
            run(server.base_url, "apply", *args, "--yes", env=env),
            run(server.base_url, "plan", *args, "--json", env=env),
            run(server.base_url, "output", *args, env=env),
            run(server.base_url, "output", *args, "--json", env=env),
        ]
    finally:
        server.stop()
    assert [r.exit_code for r in results] == [0, 0, 0, 0]
    for result in results:
        assert key not in result.output and key not in result.stderr
    for path in (stack / "releases").rglob("*"):
        if path.is_file():
            assert key not in path.read_text()


def test_the_quickstart_against_local_serve_without_the_assistants_api(tmp_path, stack):
    """As it will meet OpenAI: `assistctl local serve --without-assistants-api`, a process of
    its own answering 404 on /assistants and /threads, and the README's commands against it."""
    process, account = start_serve(tmp_path, "--indexing-delay", "0", "--without-assistants-api")
    try:
        refused = run(account, "apply", str(stack), "--yes")
        assert refused.exit_code == 1
        assert "--api responses" in refused.stderr and "2026-08-26" in refused.stderr
        for command in (("apply", "--yes"), ("plan", "--detailed-exitcode"), ("test",)):
            result = run(account, command[0], "--api", "responses", str(stack), *command[1:])
            assert result.exit_code == 0, result.output
        assert result.output.splitlines()[-1].startswith("3 passed in ")
        destroyed = run(account, "destroy", "--api", "responses", str(stack), "--yes")
        assert destroyed.exit_code == 0, destroyed.output
        assert not (stack / RELEASE).exists()
    finally:
        code, errors = stop_serve(process)
    assert code == 0, errors
    assert "Traceback" not in errors


def test_the_embedded_account_switched_off_the_assistants_api_by_environment(tmp_path, stack):
    env = {"ASSISTCTL_LOCAL_WITHOUT_ASSISTANTS_API": "1"}
    account = f"local:{tmp_path / 'account'}"
    refused = run(account, "plan", str(stack), env=env)
    assert refused.exit_code == 1 and "--api responses" in refused.stderr
    applied = run(account, "apply", "--api", "responses", str(stack), "--yes", env=env)
    assert applied.exit_code == 0, applied.output
    tested = run(account, "test", "--api", "responses", str(stack), "-k", "warranty", env=env)
    assert tested.exit_code == 0, tested.output
    assert tested.output.splitlines()[-1].startswith("1 passed, 2 deselected in ")


def test_one_suite_passes_in_both_modes_and_an_environment_moves_to_responses(local_server, stack):
    """The migration story of the README: prod stays on assistants, next runs on releases,
    and the same smoke tests pass in both."""
    (stack / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: support}\n"
        "spec:\n  environments:\n    prod: {}\n    next: {api: responses}\n"
    )
    for env in ("prod", "next"):
        applied = run(local_server.base_url, "apply", "--env", env, str(stack), "--yes")
        assert applied.exit_code == 0, applied.output
    assert (stack / "releases" / "support" / "next" / "support-bot.json").is_file()
    # One run of the suite in each environment, each in its own mode, side by side.
    compared = run(local_server.base_url, "test", "--compare", "prod", "next", str(stack))
    assert compared.exit_code == 0, compared.output
    assert "prod (baseline) → next (candidate): no differences in 3 tests" in compared.output
    counts = [line.split(" in ")[0] for line in compared.output.splitlines()[-2:]]
    assert counts == ["prod: 3 passed", "next: 3 passed"]


def test_the_readme_app_runs_against_the_local_account(local_server, stack):
    """The five lines the README shows, run as an app would run them."""
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    readme = (QUICKSTART.parents[1] / "README.md").read_text()
    snippet = readme.split("<!-- release:app -->", 1)[1].split("```python\n", 1)[1]
    code = snippet.split("```", 1)[0]
    assert len([line for line in code.splitlines() if line.strip()]) == 5
    done = subprocess.run(
        [sys.executable, "-c", code + "print(reply.status, reply.output_text)"],
        cwd=stack,
        env={**os.environ, "OPENAI_BASE_URL": local_server.base_url, "OPENAI_API_KEY": "k"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("completed ") and "30 days" in done.stdout


def test_smoke_tests_refuse_a_release_edited_after_apply(local_server, stack):
    """The tests exercise what ships; an edited release is not what was reviewed."""
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    content = json.loads((stack / RELEASE).read_text())
    content["request"]["instructions"] = "Promise refunds."
    (stack / RELEASE).write_text(json.dumps(content))
    tested = responses(local_server, "test", str(stack))
    assert tested.exit_code == 1
    assert f"{RELEASE.as_posix()}: the release does not match its digest" in tested.stderr
    assert "assistctl apply" in tested.stderr


def test_run_settings_live_in_a_release_and_an_assistant_refuses_them(local_server, stack):
    manifest = stack / "support-bot.yaml"
    manifest.write_text(
        manifest.read_text()
        + "  max_output_tokens: 400\n  tool_choice: required\n  parallel_tool_calls: false\n"
    )
    refused = run(local_server.base_url, "plan", str(stack))
    assert refused.exit_code == 1
    assert (
        "assistant.support-bot: tool_choice, parallel_tool_calls, max_output_tokens cannot be "
        "kept in an assistant" in refused.stderr
    )
    assert "--api responses" in refused.stderr
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    template = load_release(stack / RELEASE).template
    assert (template["max_output_tokens"], template["tool_choice"]) == (400, "required")
    assert template["parallel_tool_calls"] is False
    manifest.write_text(manifest.read_text().replace("  max_output_tokens: 400\n", ""))
    planned = responses(local_server, "plan", str(stack))
    assert "max_output_tokens" in planned.output
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    assert "max_output_tokens" not in load_release(stack / RELEASE).template


def test_a_moved_assistant_moves_its_release_file(local_server, stack):
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    digest = load_release(stack / RELEASE).digest
    (stack / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: support}\n"
        "spec:\n  moved:\n    - {from: assistant.support-bot, to: assistant.helper}\n"
    )
    bot = stack / "support-bot.yaml"
    bot.write_text(bot.read_text().replace("name: support-bot", "name: helper", 1))
    for test in (stack / "tests").glob("*.yaml"):
        test.write_text(test.read_text().replace("assistant: support-bot", "assistant: helper"))
    planned = responses(local_server, "plan", str(stack))
    assert "moved from assistant.support-bot" in planned.output, planned.output
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    moved = load_release(stack / "releases" / "support" / "helper.json")
    assert moved.name == "helper" and moved.digest != digest  # the name is in the request
    assert not (stack / RELEASE).exists()
    assert responses(local_server, "plan", str(stack), "--detailed-exitcode").exit_code == 0


def test_a_release_is_rewritten_never_replaced_and_show_reads_it(local_server, stack):
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    refused = responses(
        local_server, "apply", str(stack), "--yes", "--replace", "assistant/support-bot"
    )
    assert refused.exit_code == 1
    assert "a release is rewritten in place, never replaced" in refused.stderr
    assert (stack / RELEASE).is_file()
    shown = responses(local_server, "show", str(stack), "assistant/support-bot")
    assert shown.exit_code == 0, shown.output
    assert RELEASE.as_posix() in shown.output and "gpt-4o-mini" in shown.output


def test_importing_an_assistant_in_responses_mode_says_there_is_none_to_import(
    local_server, stack, tmp_path
):
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    foreign = tmp_path / "foreign.json"
    shutil.move(stack / RELEASE, foreign)
    refused = responses(local_server, "import", "assistant/support-bot", str(foreign), str(stack))
    assert refused.exit_code == 1
    assert f"{foreign} is not a release of" in refused.stderr
    assert "there is no server assistant to import" in refused.stderr


def test_a_saved_plan_is_stale_once_its_release_file_changes(local_server, stack, tmp_path):
    assert responses(local_server, "apply", str(stack), "--yes").exit_code == 0
    prompt = stack / "prompts" / "support.md"
    prompt.write_text(prompt.read_text() + "- Never promise refunds.\n")
    saved = tmp_path / "plan.json"
    assert responses(local_server, "plan", str(stack), "-o", str(saved)).exit_code == 0
    content = json.loads((stack / RELEASE).read_text())
    content["request"]["temperature"] = 0.9
    (stack / RELEASE).write_text(json.dumps(content))
    stale = responses(local_server, "apply", str(stack), "--plan", str(saved), "--yes")
    assert stale.exit_code == 1
    assert (
        "the plan is stale: the account or its release files changed since it was made"
        in stale.stderr
    )
    assert json.loads((stack / RELEASE).read_text()) == content  # nothing written
    fresh = tmp_path / "fresh.json"
    assert responses(local_server, "plan", str(stack), "-o", str(fresh)).exit_code == 0
    applied = responses(local_server, "apply", str(stack), "--plan", str(fresh), "--yes")
    assert applied.exit_code == 0, applied.output
    assert load_release(stack / RELEASE).template["instructions"].endswith("refunds.\n")


CODE_TEST = """\
apiVersion: assistctl/v1
kind: SmokeTest
metadata: {name: prices}
spec:
  assistant: support-bot
  steps:
    - user: |
        Run this:
        ```python
        import glob
        print(open(glob.glob("/mnt/data/*prices.csv")[0]).read().split()[1])
        ```
      expect:
        - tool_call: {name: code_interpreter}
        - contains: "kettle,19.90"
        - no_tool_call: get_order
"""


@pytest.mark.usefixtures("sandbox_available")
@pytest.mark.parametrize("api", ["assistants", "responses"])
def test_code_interpreter_files_reach_the_code_in_both_modes(local_server, stack, api):
    """In responses mode the files go in the tool's auto container, in assistants mode in the
    assistant's tool resources; the same smoke test sees them in /mnt/data either way."""
    add_code_interpreter_file(stack, "data/prices.csv", "item,price\nkettle,19.90\n")
    (stack / "tests" / "prices.yaml").write_text(CODE_TEST)
    applied = run(local_server.base_url, "apply", "--api", api, str(stack), "--yes")
    assert applied.exit_code == 0, applied.output
    if api == "responses":
        (tool,) = [t for t in load_release(stack / RELEASE).template["tools"] if "container" in t]
        assert tool["container"]["type"] == "auto" and len(tool["container"]["file_ids"]) == 1
    tested = run(local_server.base_url, "test", "--api", api, str(stack), "-k", "prices")
    assert tested.exit_code == 0, tested.output
