"""Global CLI basics: version, help, usage errors and the default path of `validate`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistctl import __version__
from assistctl.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="assistctl")


def test_python_dash_m_prints_the_version():
    done = subprocess.run(
        [sys.executable, "-m", "assistctl", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"assistctl, version {__version__}"


def test_short_help_flag_lists_validate():
    result = run("-h")
    assert result.exit_code == 0
    assert "validate" in result.output
    assert "--account" in result.output and "--debug" in result.output


def test_unknown_command_is_a_usage_error():
    result = run("frobnicate")
    assert result.exit_code == 1
    assert "No such command 'frobnicate'" in result.output


def test_validate_defaults_to_the_current_directory(monkeypatch):
    monkeypatch.chdir(ROOT / "examples" / "quickstart")
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Valid: stack support ")


def test_validate_errors_are_one_line_each_without_traceback(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    Path("bot.yaml").write_text("apiVersion: assistctl/v1\nkind: Assistant\n")
    result = run("--debug", "validate")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        "bot.yaml:1: 'metadata' is required",
        "bot.yaml:1: 'spec' is required",
        "2 problems found.",
    ]


@pytest.mark.parametrize(
    "arguments",
    [
        ["plan", "--no-such-flag", "examples/quickstart"],
        ["--no-such-global-flag", "validate"],
        ["no-such-command"],
        ["apply", "--concurrency", "zero"],
        ["import"],
    ],
)
def test_usage_errors_exit_1_never_2(arguments):
    """Exit 2 means "the plan has changes" / "smoke tests failed": a typo in a CI job must not
    read as either (Terraform exits 1 for usage errors too)."""
    result = CliRunner().invoke(cli, arguments, prog_name="assistctl")
    assert result.exit_code == 1, result.output
    assert "Usage: assistctl" in result.output
