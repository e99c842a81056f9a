"""The everyday flags every command shares: colour only on a terminal and never with NO_COLOR or
--no-color, -q silences notes, --debug turns the one-line internal error into a traceback; plus
the `schema` and `completion` commands."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from assistctl.cli import cli

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
ESCAPE = "\x1b["


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTCTL_", "NO_COLOR"))}
    env.update(extra)
    return env


def assistctl(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistctl", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(**env),
        timeout=60,
    )


def on_a_terminal(*args: str, **env: str) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal (so the CLI sees a TTY); returns (exit code, stdout)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "assistctl", *args],
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        env=clean_env(TERM="xterm-256color", **env),
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return process.wait(timeout=60), b"".join(chunks).decode(errors="replace")


# --- colour -----------------------------------------------------------------------------------


@pytest.fixture
def plan_args(local_server):
    return ["--account", local_server.base_url, "plan", str(QUICKSTART)]


def test_plan_is_coloured_on_a_terminal(plan_args):
    code, output = on_a_terminal(*plan_args)
    assert code == 0
    assert ESCAPE in output
    assert "assistant.support-bot" in output


def test_no_color_env_removes_every_escape_code(plan_args):
    code, output = on_a_terminal(*plan_args, NO_COLOR="1")
    assert code == 0
    assert "assistant.support-bot" in output
    assert ESCAPE not in output


def test_no_color_flag_removes_every_escape_code(plan_args):
    code, output = on_a_terminal("--no-color", *plan_args)
    assert code == 0
    assert "assistant.support-bot" in output
    assert ESCAPE not in output


def test_no_escape_codes_when_piped(plan_args):
    done = assistctl(*plan_args)
    assert done.returncode == 0, done.stderr
    assert ESCAPE not in done.stdout + done.stderr


# --- quiet and debug --------------------------------------------------------------------------


def test_default_account_note_and_quiet(tmp_path):
    """With no --account, stderr says which account is used, in one line; -q drops it."""
    stack = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, stack)
    loud = assistctl("plan", str(stack), cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert "using the embedded local account in quickstart/.assistctl/" in loud.stderr
    quiet = assistctl("-q", "plan", str(stack), cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "embedded local account" not in quiet.stderr
    assert quiet.stdout == loud.stdout


def test_the_default_account_is_the_same_from_any_directory(tmp_path):
    """Running from another directory used to use another, empty account (.assistctl/ in the
    working directory): plan showed everything as new."""
    stack = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, stack)
    applied = assistctl("apply", "--yes", ".", cwd=stack)
    assert applied.returncode == 0, applied.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    planned = assistctl("plan", "--detailed-exitcode", str(stack), cwd=elsewhere)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert f"local account in {stack / '.assistctl'}/" in planned.stderr


def corrupt_account(tmp_path: Path) -> str:
    """A local account whose database file is not a database: a real internal failure."""
    data = tmp_path / "broken-account"
    data.mkdir()
    (data / "account.sqlite3").write_bytes(b"this is not an SQLite database " * 64)
    return f"local:{data}"


def test_internal_error_is_one_line_without_debug(tmp_path):
    done = assistctl("--account", corrupt_account(tmp_path), "plan", str(QUICKSTART))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("Error: ")
    assert all(line.startswith(("Error: ", "Hint: ")) for line in lines)


def test_internal_error_shows_the_traceback_with_debug(tmp_path):
    done = assistctl("--debug", "--account", corrupt_account(tmp_path), "plan", str(QUICKSTART))
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr


# --- schema and completion --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kind"),
    [
        ("Stack", "Stack"),
        ("assistant", "Assistant"),
        ("VECTOR_STORE", "VectorStore"),
        ("vectorstore", "VectorStore"),
        ("smoke-test", "SmokeTest"),
    ],
)
def test_schema_prints_the_kind_schema(given, kind):
    result = CliRunner().invoke(cli, ["schema", given])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert schema["properties"]["kind"]["const"] == kind
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_validates_the_quickstart_manifests():
    schemas = {
        kind: json.loads(CliRunner().invoke(cli, ["schema", kind]).output)
        for kind in ("Stack", "Assistant", "VectorStore", "SmokeTest")
    }
    documents = [
        document
        for path in sorted(QUICKSTART.rglob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
    ]
    assert {d["kind"] for d in documents} == set(schemas)
    for document in documents:
        jsonschema.validate(document, schemas[document["kind"]])


def test_schema_of_an_unknown_kind_lists_the_kinds():
    result = CliRunner().invoke(cli, ["schema", "Thread"])
    assert result.exit_code == 1
    assert "Error: unknown kind 'Thread'" in result.output
    assert "Stack, Assistant, VectorStore, SmokeTest" in result.output


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script(shell):
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0
    assert "_ASSISTCTL_COMPLETE" in result.output


def test_completion_completes_commands_and_flags():
    """What the bash script asks at a <TAB>: the real CLI answers with matching names."""
    commands = assistctl(
        _ASSISTCTL_COMPLETE="bash_complete", COMP_WORDS="assistctl sc", COMP_CWORD="1"
    )
    assert commands.stdout.split() == ["plain,schema"]
    flags = assistctl(
        _ASSISTCTL_COMPLETE="bash_complete", COMP_WORDS="assistctl export --st", COMP_CWORD="2"
    )
    assert flags.stdout.split() == ["plain,--stack"]


def test_completion_of_environments_targets_and_schema_kinds():
    """--env, --target and `schema KIND` completed nothing."""

    def complete(words: str) -> list[str]:
        done = assistctl(
            _ASSISTCTL_COMPLETE="bash_complete",
            COMP_WORDS=words,
            COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        )
        return [item.split(",", 1)[1] for item in done.stdout.split()]

    multi_env = str(ROOT / "examples" / "multi-env")
    assert complete(f"assistctl plan {multi_env} --env ") == ["prod", "staging"]
    assert complete(f"assistctl plan {QUICKSTART} --target assistant/") == ["assistant/support-bot"]
    assert complete("assistctl schema Vec") == ["VectorStore"]
