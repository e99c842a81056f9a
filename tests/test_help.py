"""Every command documents itself: `--help` exits 0 and shows an `Example:` section."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from assistctl.cli import cli


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, (*prefix, name)))
    return paths


ALL_COMMANDS = [()] + command_paths(cli)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "assistctl")
def test_help_exits_0_with_an_example(path):
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="assistctl")
    assert result.exit_code == 0, result.output
    assert "Usage: assistctl" in result.output
    assert "Example" in result.output, f"`assistctl {' '.join(path)} --help` shows no example"


def test_version():
    result = CliRunner().invoke(cli, ["--version"], prog_name="assistctl")
    assert result.exit_code == 0
    assert result.output.startswith("assistctl, version ")


def test_the_command_reference_documents_every_command_and_flag():
    """The README's command reference stays in step with the CLI: every command and option."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    reference = readme.split("## Command reference", 1)[1]
    missing = []
    for path in ALL_COMMANDS:
        group = cli
        context = click.Context(cli, info_name="assistctl")
        for name in path:
            group = group.get_command(context, name)
        if path and f"assistctl {' '.join(path)}" not in reference:
            missing.append(f"assistctl {' '.join(path)}")
        for parameter in group.params:
            if isinstance(parameter, click.Option):
                flag = max(parameter.opts, key=len)
                if flag not in reference:
                    missing.append(f"{' '.join(path) or 'assistctl'} {flag}")
    assert missing == []
