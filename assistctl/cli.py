"""The command line: parse flags, call the modules, map errors to exit codes. Nothing else.

Heavy modules (openai, the local server, rich) are imported inside commands so that
``assistctl --help`` and ``assistctl validate`` stay fast and never touch the network.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import click

from assistctl import __version__
from assistctl.errors import AssistctlError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2  # plan --detailed-exitcode: changes present; test: some tests failed


@dataclass(frozen=True)
class Options:
    """Global flags, shared by every command through ``click.Context.obj``."""

    account: str | None
    debug: bool
    quiet: bool
    color: bool

    def client(self):
        """The ``openai.OpenAI`` client for the chosen account (starts a local one if needed)."""
        from assistctl.accounts import connect, resolve_account

        return connect(resolve_account(self.account), notice=self.note)

    def note(self, text: str) -> None:
        """A one-line status note on stderr, silenced by ``--quiet``."""
        if not self.quiet:
            click.echo(text, err=True)


def _color_enabled(no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


class _Group(click.Group):
    """Maps every ``AssistctlError`` to one stderr line (+ hint) and exit 1; tracebacks only
    with ``--debug``."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AssistctlError as exc:
            if _debug_requested(ctx):
                raise
            click.echo(f"Error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"Hint: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if _debug_requested(ctx):
                raise
            click.echo(f"Error: internal error: {exc.__class__.__name__}: {exc}", err=True)
            click.echo("Hint: rerun with --debug for the traceback, and report it", err=True)
            ctx.exit(EXIT_ERROR)


def _debug_requested(ctx: click.Context) -> bool:
    obj = ctx.find_object(Options)
    return bool(obj and obj.debug) or os.environ.get("ASSISTCTL_DEBUG") == "1"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assistctl")
@click.option(
    "--account",
    metavar="ACCOUNT",
    help="local[:DIR] | http(s)://HOST/v1 | openai  [env ASSISTCTL_ACCOUNT; "
    "default: the embedded local account in .assistctl]",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set).")
@click.pass_context
def cli(ctx: click.Context, account: str | None, debug: bool, quiet: bool, no_color: bool):
    """Keep OpenAI assistants in git: validate, plan, apply and test them.

    \b
    Example:
      assistctl validate examples/quickstart
      assistctl plan examples/quickstart
      assistctl apply examples/quickstart --yes
      assistctl test examples/quickstart
    """
    ctx.obj = Options(account=account, debug=debug, quiet=quiet, color=_color_enabled(no_color))


def main() -> None:
    cli.main(prog_name="assistctl")
