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
