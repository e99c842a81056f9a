"""The command line: parse flags, call the modules, map errors to exit codes. Nothing else.

Heavy modules (openai, the local server, rich) are imported inside commands so that
``assistctl --help`` and ``assistctl validate`` stay fast and never touch the network.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistctl import __version__
from assistctl.accounts import API_MODES, parse_account, resolve_account
from assistctl.errors import AssistctlError

if TYPE_CHECKING:
    from assistctl.backends.base import Backend
    from assistctl.model import Desired, Live, Plan

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

    def backend(
        self, desired: Desired | None = None, *, root: Path | None = None, owner: str | None = None
    ) -> Backend:
        """The backend for the chosen account (starts a local one if needed; the default one
        lives at the stack's root), in the API mode of ``--api``, else of the manifests
        (``desired``), else of the account (see ``backends.connect``)."""
        from assistctl.backends.connect import connect
        from assistctl.retry import policy_from_environment

        flags = click.get_current_context().meta
        return connect(
            resolve_account(self.account),
            notice=self.note,
            policy=policy_from_environment(),
            root=root,
            api=flags.get(API_FLAG),
            desired=desired,
            owner=owner,
            release_dir=flags.get(RELEASE_DIR_FLAG),
        )

    def command(self) -> str:
        """assistctl as hints should name it: with ``--account`` when one was given (never a
        key: the label strips credentials)."""
        if not self.account:
            return "assistctl"
        return f"assistctl --account {shlex.quote(parse_account(self.account).label)}"

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
    with ``--debug``. Usage errors exit 1 too: 2 is reserved for "plan has changes" and "smoke
    tests failed", which a mistyped flag in CI must never look like."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            _as_error(exc)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            _as_error(exc)
            raise
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


def _as_error(exc: click.UsageError) -> None:
    """A usage error exits 1 like any error (click's default is 2)."""
    exc.exit_code = EXIT_ERROR  # type: ignore[misc, unused-ignore]  # click < 8.5: a ClassVar


def _debug_requested(ctx: click.Context) -> bool:
    obj = ctx.find_object(Options)
    return bool(obj and obj.debug) or os.environ.get("ASSISTCTL_DEBUG") == "1"


class _Duration(click.ParamType):
    """``0``, ``45s``, ``5m``, ``1h``: seconds, as Terraform's ``-lock-timeout`` takes them."""

    name = "duration"
    _UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip().lower()
        number, unit = text.rstrip("smh"), text[len(text.rstrip("smh")) :]
        try:
            seconds = float(number) * self._UNITS[unit]
        except (KeyError, ValueError):
            self.fail(f"{value!r} is not a duration such as 0, 30s, 5m or 1h", param, ctx)
        if seconds < 0:
            self.fail(f"{value!r} is negative", param, ctx)
        return seconds


def _lock_timeout(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--lock-timeout",
        type=_Duration(),
        default="0s",
        show_default=True,
        metavar="DURATION",
        help="How long to wait for another run of this stack to release its lock (30s, 5m).",
    )(command)


def _given_paths(ctx: click.Context) -> list[str]:
    """PATHS typed so far; while an option waits for its value, click leaves them in
    ``ctx.args``."""
    given = list(ctx.params.get("paths") or ()) or [a for a in ctx.args if not a.startswith("-")]
    return given or ["."]


def _complete_environments(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[str]:
    """``--env <TAB>``: the environments of the Stack under the paths typed so far."""
    from assistctl.manifest import environment_names

    return [name for name in environment_names(_given_paths(ctx)) if name.startswith(incomplete)]


def _complete_targets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """``--target <TAB>``: the resources the manifests declare, as KIND/NAME."""
    from assistctl.errors import ManifestError
    from assistctl.kinds import KINDS
    from assistctl.manifest import load

    try:
        desired = load(_given_paths(ctx), ctx.params.get("env"))
    except ManifestError:
        return []
    targets = [r.address.target for kind in KINDS for r in kind.desired(desired)]
    return [target for target in targets if target.startswith(incomplete)]


def _complete_kinds(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from assistctl.manifest import manifest_kinds

    return [kind for kind in manifest_kinds() if kind.lower().startswith(incomplete.lower())]


# --- API mode (issue 16): --api and --release-dir, read by Options.backend ----------------------

API_FLAG = "assistctl.api"
RELEASE_DIR_FLAG = "assistctl.release_dir"


def _remembered(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            ctx.meta[key] = value
        return value

    return remember


def _api_mode(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--api`` and ``--release-dir``, for every command that talks to the stack's account."""
    command = click.option(
        "--release-dir",
        metavar="DIR",
        type=click.Path(file_okay=False),
        expose_value=False,
        callback=_remembered(RELEASE_DIR_FLAG),
        help="Responses mode: the directory of the release files [default: the Stack's "
        "spec.release_dir, else releases/<stack>[/<env>] under the stack root].",
    )(command)
    return click.option(
        "--api",
        type=click.Choice(API_MODES),
        expose_value=False,
        callback=_remembered(API_FLAG),
        help="API mode: assistants (the account holds the assistants) or responses (each "
        "assistant compiles into a release file for the app) [default: the Stack's spec.api, "
        "else responses for --account openai, assistants otherwise].",
    )(command)


# --- end of API mode --------------------------------------------------------------------------


def _manifest_paths_and_env(command: Callable[..., Any]) -> Callable[..., Any]:
    """PATHS (manifest files or directories) and --env, which every command reading manifests
    takes in the same way."""
    command = click.option(
        "--env",
        "env",
        metavar="ENV",
        help="Environment from the Stack's spec.environments.",
        shell_complete=_complete_environments,
    )(command)
    return click.argument("paths", nargs=-1, type=click.Path())(command)


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
def cli(ctx: click.Context, account: str | None, debug: bool, quiet: bool, no_color: bool) -> None:
    """Keep OpenAI assistants in git: validate, plan, apply and test them.

    \b
    Example:
      assistctl validate examples/quickstart
      assistctl plan examples/quickstart
      assistctl apply examples/quickstart --yes
      assistctl test examples/quickstart
    """
    ctx.obj = Options(account=account, debug=debug, quiet=quiet, color=_color_enabled(no_color))


# --- export, schema, completion (issue 8) ---------------------------------------------------


@cli.command("schema")
@click.argument("kind", shell_complete=_complete_kinds)
def schema_command(kind: str) -> None:
    """Print the JSON Schema (draft 2020-12) of a manifest KIND, for editors and linters.

    KIND is Stack, Assistant, VectorStore or SmokeTest (any case). Point an editor at a saved
    schema with a modeline on the first line of a manifest:

    \b
      # yaml-language-server: $schema=schemas/assistant.json

    \b
    Example:
      assistctl schema Assistant > schemas/assistant.json
      assistctl schema vectorstore | jq .properties.spec
    """
    import json

    from assistctl.manifest import manifest_kinds, schema

    def squash(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    known_kinds = manifest_kinds()
    for known in known_kinds:
        if squash(known) == squash(kind):
            click.echo(json.dumps(schema(known), indent=2, ensure_ascii=False))
            return
    raise AssistctlError(
        f"unknown kind {kind!r}", hint="kinds with a schema: " + ", ".join(known_kinds)
    )


@cli.command("export")
@_api_mode
@click.option(
    "--stack",
    "stack",
    metavar="STACK",
    help="Export what this stack owns (STACK or "
    "STACK/ENV); with --all/--ids, the stack to adopt the resources into.",
)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Export every assistant and vector store no stack manages (for adoption).",
)
@click.option(
    "--ids",
    metavar="ID,…",
    help="Export these assistants / vector stores (asst_…,vs_…);"
    " the vector stores they use come along.",
)
@click.option(
    "-o",
    "--output",
    "output",
    default="exported",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory to write the manifests to.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into a non-empty directory (overwrites the "
    "files export writes, leaves others alone).",
)
@click.pass_obj
def export_command(
    options: Options,
    stack: str | None,
    everything: bool,
    ids: str | None,
    output: str,
    force: bool,
) -> None:
    """Write manifests for resources that already exist in the account.

    Use it to bring hand-made assistants under assistctl: export, supply the files whose
    content the API does not hand out, `assistctl import` what no stack owns yet, and `plan`
    shows no changes. One file per resource (assistants/, vector_stores/), long instructions in
    prompts/, and a stack.yaml.

    \b
    Example:
      assistctl export --stack support -o support/
      assistctl export --all -o adopted/
      assistctl export --ids asst_abc123,vs_def456 --stack support -o support/
    """
    from pathlib import Path

    from assistctl import export
    from assistctl.backends.responses import ResponsesBackend

    directory = Path(output)
    selection = export.Selection(
        stack=stack,
        everything=everything,
        ids=tuple(i.strip() for i in (ids or "").split(",") if i.strip()),
    )
    stack_name, env = export.stack_and_env(
        stack or export.slug(directory.resolve().name, "exported")
    )
    export.check_directory(directory, force=force)
    backend = options.backend(owner=selection.stack)
    source = export.read(backend, selection)
    releases = None  # responses mode: where the assistants were read from
    if isinstance(backend, ResponsesBackend):
        releases = Path(os.path.relpath(backend.releases.directory, directory)).as_posix()
    result = export.build(source, stack_name, env, releases=releases)
    written = export.write(result, directory, force=force)

    click.echo(export.headline(result, directory))
    if not options.quiet:
        for path in written:
            click.echo(f"  wrote {path}")
    for note in result.notes:
        options.note(f"Note: {note}")
    account = f" --account {parse_account(options.account).label}" if options.account else ""
    for line in export.next_steps(result, directory, account_flag=account):
        click.echo(line)


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_command(shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish).

    The script is click's own; it completes commands, flags and paths.

    \b
    Example:
      assistctl completion bash > ~/.local/share/bash-completion/completions/assistctl
      assistctl completion zsh > "${fpath[1]}/_assistctl"
      assistctl completion fish > ~/.config/fish/completions/assistctl.fish
      eval "$(assistctl completion bash)"   # this shell only
    """
    from click.shell_completion import get_completion_class

    completion_class = get_completion_class(shell)
    if completion_class is None:
        raise AssistctlError(f"no completion for {shell}")
    script = completion_class(cli, {}, "assistctl", "_ASSISTCTL_COMPLETE").source()
    click.echo(script)


# --- validate (issue 3) ---------------------------------------------------------------------


@cli.command("validate")
@_manifest_paths_and_env
@click.pass_context
def validate_command(ctx: click.Context, paths: tuple[str, ...], env: str | None) -> None:
    """Check manifests and smoke tests offline: schema, API limits, files and references.

    PATHS are manifest files or directories (default: the current directory). Every problem is
    reported as FILE:LINE: FIELD.PATH: message. Never touches the network.

    \b
    Example:
      assistctl validate examples/quickstart
      assistctl validate examples/multi-env --env prod
    """
    from assistctl.errors import ManifestError
    from assistctl.kinds import KINDS
    from assistctl.manifest import load_all

    try:
        desired, smoke_tests = load_all(list(paths) or ["."], env=env)
    except ManifestError as exc:  # one problem a line, without the "Error:" of other commands
        click.echo(exc.message, err=True)
        ctx.exit(EXIT_ERROR)
    where = f"stack {desired.stack}" + (f", environment {desired.env}" if desired.env else "")
    counted = [(len(kind.desired(desired)), kind.noun) for kind in reversed(tuple(KINDS))]
    counts = ", ".join(_count(n, word) for n, word in [*counted, (len(smoke_tests), "smoke test")])
    click.echo(f"Valid: {where} ({counts}).")


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


# --- plan (issue 5) -------------------------------------------------------------------------


@cli.command("plan")
@_api_mode
@_manifest_paths_and_env
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (stable schema).")
@click.option("--markdown", "as_markdown", is_flag=True, help="Print markdown for a PR comment.")
@click.option(
    "-o",
    "--out",
    "out",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Also save the plan to FILE, for `assistctl apply --plan FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are (1 stays an error).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KIND/NAME",
    shell_complete=_complete_targets,
    help="Plan only this resource and what it depends on (repeatable), "
    "e.g. assistant/support-bot, vector_store/handbook, file/docs/a.md.",
)
@click.pass_context
def plan_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    env: str | None,
    as_json: bool,
    as_markdown: bool,
    out: str | None,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
) -> None:
    """Show what apply would change to make the account match the manifests.

    PATHS are manifest files or directories (default: the current directory). Resources are
    compared after normalisation, so server defaults never show as changes; edits made in the
    dashboard show as updates back to the manifests. Only resources this stack owns are ever
    updated or deleted.

    \b
    Example:
      assistctl plan examples/quickstart
      assistctl plan --env prod -o plan.json && assistctl apply --plan plan.json
      assistctl plan --markdown > plan.md          # for a pull-request comment
      assistctl plan --detailed-exitcode --json    # CI: exit 2 when there are changes
    """
    from assistctl import render
    from assistctl.plan import parse_target
    from assistctl.planfile import write_plan_file
    from assistctl.workflow import load_desired, plan_against

    options: Options = ctx.obj
    if as_json and as_markdown:
        raise AssistctlError("--json and --markdown cannot be combined: choose one")
    for target in targets:
        parse_target(target)
    desired = load_desired(paths, env)  # bad manifests fail before any account is touched
    _, result = plan_against(desired, options.backend(desired), targets, command=options.command())
    if as_json:
        click.echo(render.render_json(result), nl=False)
    elif as_markdown:
        click.echo(render.render_markdown(result), nl=False)
    else:
        click.echo(render.render_text(result, color=options.color), nl=False)
    if out:
        write_plan_file(result, out)
        options.note(
            f"Saved the plan to {out}; apply exactly this plan with: assistctl apply --plan {out}"
        )
    if detailed_exitcode and result.has_changes:
        ctx.exit(EXIT_CHANGES)


# --- test (issues 7, 19) --------------------------------------------------------------------


@cli.command("test")
@_api_mode
@_manifest_paths_and_env
@click.option(
    "--junit",
    "junit_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write JUnit XML (with --compare: the candidate's).",
)
@click.option(
    "--json",
    "json_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write a JSON report with every attempt (with --compare: both sides and the table).",
)
@click.option(
    "--markdown",
    "markdown_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write the verdicts (with --compare: the comparison table) as markdown for a PR.",
)
@click.option(
    "--transcripts",
    "transcripts_dir",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Write one markdown transcript per conversation.",
)
@click.option(
    "-k",
    "pattern",
    metavar="PATTERN",
    help="Only tests whose name contains PATTERN (or matches a glob).",
)
@click.option(
    "--parallel",
    metavar="N",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Conversations at once, across tests and repeats.",
)
@click.option(
    "--confidence",
    metavar="C",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Confidence of the reported intervals and of sequential verdicts.",
)
@click.option(
    "--allow-inconclusive",
    is_flag=True,
    help="Exit 0 instead of 2 when tests are INCONCLUSIVE (still reported as such).",
)
@click.option(
    "--grader-account",
    metavar="ACCOUNT",
    help="http(s)://HOST/v1 | openai: where rubric and similar checks are graded "
    "[default: the Stack's spec.grader.account].",
)
@click.option(
    "--compare",
    "compare_envs",
    nargs=2,
    metavar="ENV_A ENV_B",
    help="Run the suite on two environments of the stack (baseline, candidate) and "
    "print a table of their verdicts, differences first.",
)
@click.option(
    "--compare-account",
    "compare_accounts",
    nargs=2,
    metavar="ACCOUNT_A ACCOUNT_B",
    help="The same, on two accounts (--env on both).",
)
@click.option(
    "--export",
    "export_format",
    type=click.Choice(["promptfoo"]),
    help="Write the suite as a promptfoo configuration instead of running it.",
)
@click.option(
    "-o",
    "--output",
    "output_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="With --export: the file to write [default: promptfooconfig.yaml].",
)
@click.pass_context
def test_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    env: str | None,
    junit_path: str | None,
    json_path: str | None,
    markdown_path: str | None,
    transcripts_dir: str | None,
    pattern: str | None,
    parallel: int,
    confidence: float,
    allow_inconclusive: bool,
    grader_account: str | None,
    compare_envs: tuple[str, str] | None,
    compare_accounts: tuple[str, str] | None,
    export_format: str | None,
    output_path: str | None,
) -> None:
    """Run the smoke tests (SmokeTest documents) against the deployed assistants.

    Each test is a scripted conversation on a fresh thread; function calls are answered from the
    test's canned outputs and every reply is checked against its expectations. A repeated test
    gets a pass rate, a confidence interval and a verdict: PASS, FAIL or INCONCLUSIVE. Exit
    code 0: all passed, 2: some failed or were inconclusive (unless --allow-inconclusive), 1:
    error (invalid test file, assistant not deployed, account or grader unreachable).

    \b
    Example:
      assistctl test examples/quickstart
      assistctl test examples/quickstart -k order --junit junit.xml --transcripts transcripts/
      assistctl test assistants --compare staging preview --markdown comparison.md
      assistctl test assistants --env staging --export promptfoo -o promptfooconfig.yaml
    """
    import dataclasses

    from assistctl.grading import GraderSettings
    from assistctl.smoketest import reports, session
    from assistctl.smoketest.comparison import Comparison
    from assistctl.smoketest.repeats import Repeat
    from assistctl.smoketest.runner import run_suite

    options: Options = ctx.obj
    _check_test_flags(env, compare_envs, compare_accounts, export_format, output_path)
    if export_format:
        _export_suite(options, paths, env, pattern, grader_account, output_path)
        return
    command = options.command()

    def load(environment: str | None) -> session.Selection:
        selection = session.load(paths, environment, pattern, command)
        mode = ctx.meta.get(API_FLAG)  # the hint deploys in the mode the tests run in
        if mode:
            selection = dataclasses.replace(
                selection, apply_hint=f"{selection.apply_hint} --api {mode}"
            )
        return selection

    if compare_envs:
        selections = [load(label) for label in compare_envs]
        sides = [
            session.Side(label, options.backend(selection.desired), selection)
            for label, selection in zip(compare_envs, selections, strict=True)
        ]
    elif compare_accounts:
        from assistctl.accounts import parse_account

        selection = load(env)
        sides = [
            session.Side(
                parse_account(account).label,
                dataclasses.replace(options, account=account).backend(selection.desired),
                selection,
            )
            for account in compare_accounts
        ]
    else:
        selection = load(env)
        backend = options.backend(selection.desired)
        sides = [session.Side(selection.desired.owner, backend, selection)]
    settings = GraderSettings.of(sides[-1].selection.desired.grader, grader_account)

    def connect_judges(chosen: GraderSettings) -> Any:
        from assistctl.backends.grading import connect

        return connect(chosen)

    tests = [t for side in sides for t in side.selection.tests]
    judges = session.judges(tests, settings, connect_judges)
    results = []
    for side in sides:
        selection = side.selection
        total = sum(Repeat.of(t.spec).max_attempts for t in selection.tests)
        with reports.Progress(
            total,
            echo=(lambda line: None) if options.quiet else click.echo,
            tty=sys.stdout.isatty() and not options.quiet,
            color=options.color,
            prefix=f"[{side.label}] " if len(sides) > 1 else "",
        ) as progress:
            results.append(
                run_suite(
                    side.backend,
                    selection.desired,
                    selection.tests,
                    parallel=parallel,
                    deselected=selection.deselected,
                    on_attempt=progress.attempt_finished,
                    on_result=progress.attempt_reported,
                    apply_hint=selection.apply_hint,
                    confidence=confidence,
                    judges=judges,
                    allow_inconclusive=allow_inconclusive,
                )
            )
    result = results[-1]
    comparison = (
        Comparison(sides[0].label, sides[1].label, results[0], results[1])
        if len(results) == 2
        else None
    )
    if json_path:
        reports.write_document(
            comparison.to_json() if comparison else reports.to_json(result), json_path
        )
        options.note(f"wrote the JSON report to {json_path}")
    if junit_path:
        reports.write_junit(result, junit_path)
        options.note(f"wrote JUnit XML to {junit_path}")
    if markdown_path:
        markdown = comparison.render_markdown() if comparison else reports.render_markdown(result)
        reports.write_text(markdown, markdown_path, "the markdown report")
        options.note(f"wrote the markdown report to {markdown_path}")
    if transcripts_dir:
        for side, side_result in zip(sides, results, strict=True):
            directory = transcripts_dir if comparison is None else f"{transcripts_dir}/{side.label}"
            written = reports.write_transcripts(side_result, directory)
            options.note(f"wrote {len(written)} transcript(s) to {directory}")
    *details, last = reports.summary(result).splitlines()
    if comparison is not None:
        details = [*comparison.render_text().splitlines(), *details]
        last = f"{sides[-1].label}: {last}"
        details.append(f"{sides[0].label}: {reports.summary_line(results[0])}")
    for line in details:
        click.echo(line)
    exit_code = comparison.exit_code if comparison else result.exit_code
    colour = "green" if exit_code == EXIT_OK else "red"
    click.echo(click.style(last, fg=colour, bold=True) if options.color else last)
    ctx.exit(exit_code)


def _check_test_flags(
    env: str | None,
    compare_envs: tuple[str, str] | None,
    compare_accounts: tuple[str, str] | None,
    export_format: str | None,
    output_path: str | None,
) -> None:
    """Refuse flag combinations that cannot mean anything, before any work."""
    if compare_envs and compare_accounts:
        raise AssistctlError("--compare and --compare-account cannot be combined: choose one")
    if compare_envs and env:
        raise AssistctlError(
            "--compare names both environments; drop --env",
            hint="--compare-account compares one environment (--env) on two accounts",
        )
    if export_format and (compare_envs or compare_accounts):
        raise AssistctlError("--export writes one suite: it cannot be combined with --compare")
    if output_path and not export_format:
        raise AssistctlError("-o/--output goes with --export", hint="reports take --json FILE etc.")


def _export_suite(
    options: Options,
    paths: tuple[str, ...],
    env: str | None,
    pattern: str | None,
    grader_account: str | None,
    output_path: str | None,
) -> None:
    """``test --export promptfoo``: the deployed suite as a promptfoo configuration."""
    from assistctl import live
    from assistctl.accounts import resolve_account
    from assistctl.grading import GraderSettings
    from assistctl.smoketest import promptfoo, reports, session
    from assistctl.smoketest.runner import Deployment

    selection = session.load(paths, env, pattern, options.command())
    account = resolve_account(options.account)
    base_url = promptfoo.account_base_url(account.kind, account.label)
    backend = options.backend(selection.desired)
    if backend.family != "assistants":
        raise AssistctlError(
            "--export promptfoo writes promptfoo's assistant provider, which needs assistant "
            "ids: a responses-mode stack has releases instead",
            hint="export from an assistants-mode deployment (--api assistants)",
        )
    deployment = Deployment.from_live(
        live.snapshot(backend, selection.desired.owner), selection.desired
    )
    settings = GraderSettings.of(selection.desired.grader, grader_account)
    exported = promptfoo.export(
        selection.tests,
        {t.name: deployment.assistant_id(t, selection.apply_hint) for t in selection.tests},
        base_url=base_url,
        grader=settings,
        stack=selection.desired.owner,
    )
    target = output_path or promptfoo.DEFAULT_OUTPUT
    reports.write_text(exported.text, target, "the promptfoo configuration")
    click.echo(exported.headline(target))
    for line in exported.unmapped_lines():
        options.note(line)


# --- output (issue 16) ----------------------------------------------------------------------


@cli.command("output")
@_api_mode
@_manifest_paths_and_env
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def output_command(
    ctx: click.Context, paths: tuple[str, ...], env: str | None, as_json: bool
) -> None:
    """Print what apps need from the deployed stack: assistant ids (assistants mode), release
    files and digests (responses mode), vector store and file ids.

    PATHS are manifest files or directories (default: the current directory). A last argument
    NAME picks one value, printed alone: KIND.NAME (an id, or a release's path) or
    KIND.NAME.FIELD.

    \b
    Example:
      assistctl output examples/quickstart
      assistctl output examples/quickstart --json > outputs.json
      assistctl output examples/quickstart vector_store.handbook
      assistctl output --api responses examples/quickstart assistant.support-bot.digest
    """
    import json
    from pathlib import Path

    from assistctl import output
    from assistctl.live import snapshot
    from assistctl.workflow import load_desired

    options: Options = ctx.obj
    manifests, name = output.split_arguments(paths)
    desired = load_desired(manifests, env)
    backend = options.backend(desired)
    deployed = snapshot(backend, desired.owner)
    found = output.collect(desired, deployed, backend.family, cwd=Path.cwd())
    if name is not None:
        value = found.value(name)
        click.echo(json.dumps(value, ensure_ascii=False) if as_json else str(value))
    elif as_json:
        click.echo(json.dumps(found.document(), indent=2, ensure_ascii=False))
    elif not found.values:
        options.note(f"No outputs: nothing is deployed for {desired.owner!r} on this account.")
    else:
        click.echo("\n".join(found.lines()))


# --- end of output ----------------------------------------------------------------------------


@cli.group("local")
def local_group() -> None:
    """The embedded Assistants-API-compatible account (SQLite, offline).

    \b
    Example:
      assistctl local serve --port 8080 --data .assistctl
    """


@local_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0 picks a free one).",
)
@click.option(
    "--data",
    "data_dir",
    default=".assistctl",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory holding the account's SQLite (and the code interpreter's files).",
)
@click.option(
    "--database",
    metavar="URL",
    help="Keep the account in PostgreSQL (postgresql://USER@HOST/DB) instead of SQLite under "
    "--data [env: ASSISTCTL_LOCAL_DATABASE].",
)
@click.option(
    "--api-key-env",
    metavar="VAR",
    help="Require 'Authorization: Bearer $VAR' (needed to bind beyond loopback).",
)
@click.option(
    "--admin",
    is_flag=True,
    default=None,
    help="Serve the admin API (/_admin: fault injection, request stats); off by default.",
)
@click.option(
    "--admin-key-env",
    metavar="VAR",
    help="The admin API's own key (needed with --admin beyond loopback) [default: the API key].",
)
@click.option("--latency-ms", type=click.IntRange(0), help="Added latency per request.")
@click.option(
    "--rate-limit",
    type=click.FloatRange(0, min_open=True),
    metavar="N",
    help="Requests per second before 429 (token bucket).",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    metavar="P",
    help="Share of requests answered with a random 500.",
)
@click.option("--seed", type=int, help="Seed that makes --fail-rate reproducible.")
@click.option(
    "--indexing-delay",
    type=click.FloatRange(0),
    metavar="S",
    help="Seconds a vector-store file stays in_progress.",
)
@click.option(
    "--engine",
    type=click.Choice(["deterministic", "chat", "responses"]),
    help="What answers runs and responses: documented rules (default), a chat-completions "
    "model, or a Responses-API model.",
)
@click.option("--chat-base-url", metavar="URL", help="Chat-completions endpoint for --engine chat.")
@click.option(
    "--chat-model-map",
    "chat_model_map",
    multiple=True,
    metavar="NAME=MODEL",
    help="Send assistant model NAME as MODEL (repeatable; '*=MODEL' for every other name).",
)
@click.option(
    "--chat-api-key-env",
    metavar="VAR",
    help="Variable holding the chat backend's key [default: ASSISTCTL_CHAT_API_KEY].",
)
@click.option(
    "--backend-base-url", metavar="URL", help="Responses-API endpoint for --engine responses."
)
@click.option(
    "--backend-model-map",
    "backend_model_map",
    multiple=True,
    metavar="NAME=MODEL",
    help="Send model NAME to the Responses backend as MODEL (repeatable; '*=MODEL' for others).",
)
@click.option(
    "--backend-api-key-env",
    metavar="VAR",
    help="Variable holding the Responses backend's key [default: ASSISTCTL_BACKEND_API_KEY].",
)
@click.option(
    "--access-log",
    is_flag=True,
    default=None,
    help="Write one line per request to stderr (off by default: it costs throughput).",
)
@click.option(
    "--keys",
    "keys_file",
    metavar="FILE",
    help="YAML file mapping API keys to projects (projects: {NAME: {keys: [...]}}); each "
    "project sees only its own objects.",
)
@click.option(
    "--without-assistants-api",
    is_flag=True,
    default=None,
    help="Answer 404 on /v1/assistants and /v1/threads, as OpenAI does since the sunset "
    "(files, vector stores, responses, conversations and models still work).",
)
@click.option(
    "--code-interpreter",
    type=click.Choice(["sandbox", "off"]),
    help="Run code_interpreter code in a sandboxed Python kernel (bubblewrap), or never "
    "(the tool is then not offered) [default: sandbox where it works here, else off].",
)
@click.option(
    "--job-lease",
    type=click.FloatRange(0.3),
    metavar="SECONDS",
    help="How long a replica's claim on a run or response lasts unless renewed; another "
    "replica takes the work over once it expires [default: 30].",
)
def local_serve(
    host: str,
    port: int,
    data_dir: str,
    api_key_env: str | None,
    admin: bool | None,
    admin_key_env: str | None,
    latency_ms: int | None,
    rate_limit: float | None,
    fail_rate: float | None,
    seed: int | None,
    indexing_delay: float | None,
    engine: str | None,
    chat_base_url: str | None,
    chat_model_map: tuple[str, ...],
    chat_api_key_env: str | None,
    backend_base_url: str | None,
    backend_model_map: tuple[str, ...],
    backend_api_key_env: str | None,
    without_assistants_api: bool | None,
    code_interpreter: str | None,
    access_log: bool | None,
    keys_file: str | None,
    database: str | None,
    job_lease: float | None,
) -> None:
    """Serve the local account in the foreground until Ctrl-C.

    \b
    Example (then point any OpenAI SDK at the printed URL):
      assistctl local serve --port 8080
      OPENAI_BASE_URL=http://127.0.0.1:8080/v1 python app.py
      assistctl local serve --engine chat --chat-base-url http://127.0.0.1:11434/v1 \\
        --chat-model-map gpt-4o-mini=llama3.1
      assistctl local serve --engine responses --backend-base-url https://api.openai.com/v1 \\
        --backend-api-key-env OPENAI_API_KEY
    """
    from pathlib import Path

    from assistctl.local import serve_config
    from assistctl.local.serve import serve

    config = serve_config(
        {
            "latency_ms": latency_ms,
            "rate_limit_per_s": rate_limit,
            "fail_rate": fail_rate,
            "seed": seed,
            "indexing_delay_s": indexing_delay,
            "engine": engine,
            "chat_base_url": chat_base_url,
            "chat_api_key_env": chat_api_key_env,
            "admin": admin,
            "backend_base_url": backend_base_url,
            "backend_api_key_env": backend_api_key_env,
            "without_assistants_api": without_assistants_api,
            "code_interpreter": code_interpreter,
            "access_log": access_log,
            "keys_file": keys_file,
            "database": database,
            "job_lease_s": job_lease,
        },
        api_key_env=api_key_env,
        admin_key_env=admin_key_env,
        model_map=chat_model_map,
        backend_model_map=backend_model_map,
    )

    def announce(url: str) -> None:
        click.echo(url)
        click.echo(
            f"Serving the local account from {'PostgreSQL' if config.database else data_dir + '/'}"
            f" on {url} "
            f"({'API key required' if config.api_key else 'no API key'}"
            f"{', admin API on' if config.admin else ''}); Ctrl-C stops it.",
            err=True,
        )
        sys.stdout.flush()

    serve(host, port, Path(data_dir), config, announce=announce)


# --- apply, destroy, import (issue 6) -------------------------------------------------------


def _confirm(question: str, yes: bool, flag_hint: str) -> bool:
    """Ask on a terminal; without one, refuse unless --yes was given (a pipeline that forgot
    --yes must not hang, nor apply by accident)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise AssistctlError(
            "refusing to change the account without confirmation: stdin is not a terminal",
            hint=f"pass --yes to {flag_hint} non-interactively (e.g. in CI)",
        )
    return click.confirm(question, default=False, err=True)


def _execute_plan(
    ctx: click.Context,
    the_plan: Plan,
    desired: Desired,
    live: Live,
    backend: Backend,
    *,
    yes: bool,
    concurrency: int,
    as_json: bool,
    verb: str,
) -> None:
    """Show the plan, confirm, execute, report. Shared by apply and destroy."""
    import json

    from assistctl.apply import count_outcomes, execute
    from assistctl.console import ConsoleReporter, complete_document, result_document
    from assistctl.errors import ApplyError, ApplyInterrupted
    from assistctl.render import render_text, summary_line

    options: Options = ctx.obj
    if not the_plan.has_changes:
        if as_json:
            document = result_document(the_plan.stack, the_plan.env, "no-changes")
            click.echo(json.dumps(document, indent=2))
        else:
            for warning in the_plan.warnings:
                click.echo(f"Warning: {warning}", err=True)
            click.echo(summary_line(the_plan) if the_plan.destroy else "No changes.")
        return
    click.echo(render_text(the_plan, color=options.color), err=as_json, nl=False)
    question = (
        f"Delete these {len(the_plan.pending)} resources of {the_plan.owner!r}?"
        if the_plan.destroy
        else "Apply these changes?"
    )
    if not _confirm(question, yes, verb):
        click.echo(f"{verb.capitalize()} cancelled; nothing was changed.", err=True)
        ctx.exit(EXIT_ERROR)
    stream = sys.stderr if as_json else sys.stdout
    color = options.color if not as_json else not os.environ.get("NO_COLOR")
    reporter = ConsoleReporter(err=as_json, tty=stream.isatty(), quiet=options.quiet, color=color)
    try:
        result = execute(
            the_plan, desired, live, backend, concurrency=concurrency, reporter=reporter
        )
    except ApplyError as error:
        interrupted = isinstance(error, ApplyInterrupted)
        if as_json:
            status = "interrupted" if interrupted else "failed"
            document = result_document(
                the_plan.stack, the_plan.env, status, error=error.message, done=error.done
            )
            click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        elif error.done:
            what = "interruption" if interrupted else "failure"
            click.echo(f"Done before the {what} ({len(error.done)}):", err=True)
            for line in error.done:
                click.echo(f"  {line}", err=True)
        raise
    if as_json:
        click.echo(json.dumps(complete_document(result), indent=2, ensure_ascii=False))
    elif verb == "destroy":
        counts = count_outcomes(result.outcomes)
        click.echo(f"Destroy complete: {counts['deleted']} deleted.")
    else:
        click.echo(result.summary_line())


@cli.command("apply")
@_api_mode
@_manifest_paths_and_env
@click.option("-y", "--yes", is_flag=True, help="Apply without asking (required without a TTY).")
@click.option(
    "--plan",
    "plan_file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Apply a plan saved with `plan -o FILE`; refused if the manifests or account changed.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Independent resources written at once.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KIND/NAME",
    shell_complete=_complete_targets,
    help="Only this resource and what it depends on (repeatable).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON (progress on stderr)."
)
@click.option(
    "--replace",
    "replace",
    multiple=True,
    metavar="KIND/NAME",
    shell_complete=_complete_targets,
    help="Make a new object take this resource's place (repeatable), e.g. a corrupted store.",
)
@_lock_timeout
@click.pass_context
def apply_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    env: str | None,
    yes: bool,
    plan_file: str | None,
    concurrency: int,
    targets: tuple[str, ...],
    as_json: bool,
    replace: tuple[str, ...],
    lock_timeout: float,
) -> None:
    """Make the account match the manifests: upload files, create or update vector stores and
    assistants, delete what the stack owns but no manifest names.

    Shows the plan and asks first (pass --yes in CI). An interrupted apply is safe to run again:
    every resource carries its identity, so the next run continues where this one stopped.

    \b
    Example:
      assistctl apply examples/quickstart --yes
      assistctl plan examples/quickstart -o plan.json
      assistctl apply examples/quickstart --plan plan.json
    """
    from assistctl.errors import PlanError
    from assistctl.lock import StackLock
    from assistctl.plan import parse_target
    from assistctl.planfile import check_still_current, read_plan_file
    from assistctl.workflow import load_desired, plan_against

    options: Options = ctx.obj
    for target in targets:
        parse_target(target)
    saved = read_plan_file(plan_file) if plan_file else None
    if saved is not None and (targets or replace):
        raise PlanError(
            "--target and --replace cannot be combined with --plan",
            hint="the saved plan already says what to do (plan -o with them instead)",
        )
    desired = load_desired(paths, env)  # bad manifests fail before any account is touched
    backend = options.backend(desired)
    with StackLock(backend, desired.owner, timeout_s=lock_timeout, notify=options.note):
        live, the_plan = plan_against(
            desired, backend, targets, command=options.command(), replace=replace
        )
        if saved is not None:
            check_still_current(
                saved,
                the_plan,
                plan_file or "",
                command=options.command(),
                arguments=desired.arguments(),
                deployed=(
                    "the account or its release files"
                    if backend.family == "responses"
                    else "the account"
                ),
            )
            the_plan = saved
        _execute_plan(
            ctx,
            the_plan,
            desired,
            live,
            backend,
            yes=yes,
            concurrency=concurrency,
            as_json=as_json,
            verb="apply",
        )


@cli.command("destroy")
@_api_mode
@_manifest_paths_and_env
@click.option("-y", "--yes", is_flag=True, help="Destroy without asking (required without a TTY).")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Resources deleted at once.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON (progress on stderr)."
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KIND/NAME",
    shell_complete=_complete_targets,
    help="Only this resource and what uses it (repeatable), e.g. vector_store/handbook.",
)
@_lock_timeout
@click.pass_context
def destroy_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    env: str | None,
    yes: bool,
    concurrency: int,
    as_json: bool,
    targets: tuple[str, ...],
    lock_timeout: float,
) -> None:
    """Delete everything this stack (and --env) owns in the account, and nothing else;
    with --target, only that and what uses it (an assistant goes with its vector store).

    The manifests only name the stack; resources are found by their ownership metadata.

    \b
    Example:
      assistctl destroy examples/quickstart --yes
      assistctl destroy examples/quickstart --target assistant/support-bot
    """
    from assistctl.lock import StackLock
    from assistctl.workflow import destroy_plan_against, load_desired

    options: Options = ctx.obj
    manifests = load_desired(paths, env)  # bad manifests fail before any account is touched
    backend = options.backend(manifests)
    with StackLock(backend, manifests.owner, timeout_s=lock_timeout, notify=options.note):
        nothing, live, the_plan = destroy_plan_against(manifests, backend, targets)
        _execute_plan(
            ctx,
            the_plan,
            nothing,
            live,
            backend,
            yes=yes,
            concurrency=concurrency,
            as_json=as_json,
            verb="destroy",
        )


@cli.command("import")
@_api_mode
@click.argument("address", metavar="KIND/NAME")
@click.argument("resource_id", metavar="API_ID")
@_manifest_paths_and_env
@_lock_timeout
@click.pass_context
def import_command(
    ctx: click.Context,
    address: str,
    resource_id: str,
    paths: tuple[str, ...],
    env: str | None,
    lock_timeout: float,
) -> None:
    """Adopt an existing assistant or vector store into the stack (writes its ownership keys
    into its metadata, keeping the rest). Refuses one another stack owns.

    \b
    Example:
      assistctl import assistant/support-bot asst_abc123 examples/quickstart
      assistctl import vector_store/handbook vs_abc123 examples/quickstart
    """
    from assistctl.adopt import adopt
    from assistctl.live import snapshot
    from assistctl.lock import StackLock
    from assistctl.plan import parse_target
    from assistctl.workflow import load_desired

    options: Options = ctx.obj
    target = parse_target(address)
    desired = load_desired(paths, env)
    backend = options.backend(desired)
    with StackLock(backend, desired.owner, timeout_s=lock_timeout, notify=options.note):
        live = snapshot(backend, desired.owner)
        result = adopt(backend, desired, live, target, resource_id)
    if result.already_owned:
        click.echo(f"{resource_id} is already managed as {result.address}.")
    else:
        click.echo(f"Imported {resource_id} as {result.address} (owner {desired.owner}).")
    for path in result.tagged_files:
        click.echo(f"  recognised file {path} (content verified by sha256)")
    for filename in result.unverified_files:
        click.echo(
            f"  file {filename}: content cannot be verified; the next apply attaches the "
            "manifest's file and detaches this one"
        )
    click.echo("Run `assistctl plan` to see what still differs from the manifests.")


@cli.command("show")
@_api_mode
@_manifest_paths_and_env
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of resources).")
@click.pass_context
def show_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    env: str | None,
    as_json: bool,
) -> None:
    """Print the live state of what the stack owns: ids, fields in manifest terms, attachments.

    PATHS are the stack's manifests; an argument that is no file but a KIND/NAME
    (assistant/support-bot) shows that one resource. Nothing is compared or changed (plan
    compares).

    \b
    Example:
      assistctl show examples/quickstart
      assistctl show vector_store/handbook examples/quickstart --json
    """
    from assistctl import show
    from assistctl.live import snapshot
    from assistctl.workflow import load_desired

    options: Options = ctx.obj
    addresses = [p for p in paths if "/" in p and not Path(p).exists()]
    if len(addresses) > 1:
        raise AssistctlError("show takes one ADDRESS", hint="run it once per resource")
    manifests = [p for p in paths if p not in addresses]
    desired = load_desired(manifests, env)
    found = show.select(
        show.entries(desired, snapshot(options.backend(desired), desired.owner)),
        addresses[0] if addresses else None,
    )
    click.echo(show.render_json(found) if as_json else show.render_text(found), nl=False)


@cli.command("force-unlock")
@click.argument("lock_id", metavar="LOCK_ID")
@_manifest_paths_and_env
@click.pass_context
def force_unlock_command(
    ctx: click.Context, lock_id: str, paths: tuple[str, ...], env: str | None
) -> None:
    """Remove the stack's lock LOCK_ID, whoever holds it (a run that died, a stuck pipeline).

    apply, destroy and import hold a lock in the account while they work, so two runs of one
    stack never write at once; a lock left by a killed run expires by itself within minutes.
    Only remove a lock whose run you know has stopped.

    \b
    Example:
      assistctl force-unlock 3f9c2a1b7d44 examples/quickstart --env prod
    """
    from assistctl.lock import force_unlock
    from assistctl.workflow import load_desired

    options: Options = ctx.obj
    desired = load_desired(paths, env)
    removed = force_unlock(options.backend(root=desired.root), desired.owner, lock_id)
    holder = removed[0].holder
    click.echo(f"Removed the lock {lock_id} on {desired.owner!r} (held by {holder}).")


def main() -> None:
    cli.main(prog_name="assistctl")
