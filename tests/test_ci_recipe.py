"""The CI recipe (examples/ci/github-actions.yml) is valid, has the documented jobs, uses only
flags the CLI really has, and fails a job exactly when assistctl's exit code says so: a PR
shows the preview-versus-staging comparison, and production is only planned once the staging
verdicts pass."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from assistctl.cli import cli

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "examples" / "ci" / "github-actions.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(RECIPE.read_text())


def steps_of(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def assistctl_lines(workflow: dict) -> list[tuple[str, str]]:
    """(job, command line) for every assistctl invocation in a `run:` block."""
    found = []
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            script = step.get("run", "").replace("\\\n", " ")
            for line in script.splitlines():
                line = line.strip()
                if line.startswith("assistctl "):
                    found.append((job_name, line.split(">", 1)[0].split("||", 1)[0].strip()))
    return found


def test_triggers_and_jobs(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request", "push"}
    assert triggers["push"]["branches"] == ["main"]
    assert set(workflow["jobs"]) == {
        "validate",
        "plan",
        "smoke-test-preview",
        "gate-staging",
        "plan-production",
        "apply-production",
    }
    on_pull_request = {"plan", "smoke-test-preview"}
    on_push = {"gate-staging", "plan-production", "apply-production"}
    for name, job in workflow["jobs"].items():
        condition = job.get("if", "")
        if name in on_pull_request:
            assert "pull_request" in condition
        if name in on_push:
            assert "'push'" in condition
    assert workflow["jobs"]["plan-production"]["needs"] == "gate-staging"
    assert workflow["jobs"]["apply-production"]["needs"] == "plan-production"
    # only apply waits for the production reviewers; plans must not be held for approval
    environments = {name: job.get("environment") for name, job in workflow["jobs"].items()}
    assert [name for name, env in environments.items() if env == "production"] == [
        "apply-production"
    ]
    assert environments["smoke-test-preview"] == environments["gate-staging"] == "staging"
    groups = {
        workflow["jobs"][name]["concurrency"]["group"]
        for name in ("smoke-test-preview", "gate-staging")
    }
    assert groups == {"assistants-staging"}  # one deploy to the staging account at a time


def test_the_documented_commands_are_there(workflow):
    commands = [line for _, line in assistctl_lines(workflow)]
    joined = "\n".join(commands)
    assert "assistctl validate" in joined
    assert "--markdown" in joined and "plan" in joined
    assert any(c.startswith("assistctl test") and "--junit" in c for c in commands)
    assert any(c.startswith("assistctl apply") and "--plan plan.json" in c for c in commands)
    compare = [c for job, c in assistctl_lines(workflow) if job == "smoke-test-preview"]
    assert any("--compare staging preview --markdown comparison.md" in c for c in compare)
    gate = [c for job, c in assistctl_lines(workflow) if job == "gate-staging"]
    assert any(c.startswith("assistctl test") and "--env staging" in c for c in gate)
    for job, path in (("plan", "plan.md"), ("smoke-test-preview", "comparison.md")):
        sticky = [
            s for s in steps_of(workflow, job) if "sticky-pull-request-comment" in s.get("uses", "")
        ]
        assert [s["with"]["path"] for s in sticky] == [path]
    headers = {
        s["with"]["header"]
        for job in ("plan", "smoke-test-preview")
        for s in steps_of(workflow, job)
        if "sticky-pull-request-comment" in s.get("uses", "")
    }
    assert len(headers) == 2  # two comments that never overwrite each other
    published = [s.get("uses", "") for s in steps_of(workflow, "smoke-test-preview")]
    assert any(u.startswith("dorny/test-reporter") for u in published)


def test_the_account_and_key_come_from_variables_and_secrets(workflow):
    text = RECIPE.read_text()
    assert "sk-" not in text
    for name in (
        "plan",
        "smoke-test-preview",
        "gate-staging",
        "plan-production",
        "apply-production",
    ):
        env = workflow["jobs"][name]["env"]
        assert env["ASSISTCTL_ACCOUNT"] == "${{ vars.ASSISTCTL_ACCOUNT }}"
        assert env["ASSISTCTL_API_KEY"] == "${{ secrets.ASSISTCTL_API_KEY }}"


def test_every_assistctl_line_parses_with_the_real_cli(workflow, tmp_path, monkeypatch):
    """Flags in the recipe exist: each line goes through click's parser (nothing runs)."""
    monkeypatch.chdir(tmp_path)
    assert len(assistctl_lines(workflow)) >= 10
    assert_every_line_parses(workflow, tmp_path)


def assert_every_line_parses(workflow: dict, workspace: Path) -> None:
    """Each assistctl line of the recipe through click's parser, in ``workspace`` (the cwd)."""
    manifests = workflow["env"]["MANIFESTS"]
    (workspace / manifests).mkdir()
    (workspace / "plan.json").write_text("{}")
    for job, line in assistctl_lines(workflow):
        args = shlex.split(line.replace('"$MANIFESTS"', manifests))[1:]
        command = cli.get_command(click.Context(cli), args[0])
        assert command is not None, f"{job}: unknown command in {line!r}"
        parent = click.Context(cli, info_name="assistctl")
        try:
            command.make_context(args[0], args[1:], parent=parent)
        except click.UsageError as error:
            pytest.fail(f"{job}: {line!r}: {error.format_message()}")


def plan_step_script(workflow: dict) -> str:
    for step in steps_of(workflow, "plan"):
        if "--detailed-exitcode" in step.get("run", ""):
            return step["run"]
    raise AssertionError("the plan job has no --detailed-exitcode step")


@pytest.mark.parametrize(("assistctl_exit", "step_fails"), [(0, False), (2, False), (1, True)])
def test_pr_plan_fails_only_on_error(workflow, tmp_path, assistctl_exit, step_fails):
    """Run the PR plan step under bash -e (GitHub's default) with a stand-in `assistctl`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "assistctl"
    stand_in.write_text(f"#!/bin/sh\necho '### Plan'\nexit {assistctl_exit}\n")
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(summary),
        "MANIFESTS": "assistants",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", plan_step_script(workflow)], cwd=tmp_path, env=env, timeout=30
    )
    assert (done.returncode != 0) is step_fails
    if not step_fails:
        assert (tmp_path / "plan.md").read_text() == "### Plan\n"
        assert "### Plan" in summary.read_text()


# --- the whole recipe, step by step, against a local account ----------------------------------

EXPRESSIONS = {
    "vars.ASSISTCTL_ACCOUNT": None,  # filled with the test server's URL
    "secrets.ASSISTCTL_API_KEY": "test-key",
    "github.token": "token-for-gh",
    "github.event.pull_request.number": "42",
}


def expand(text: str, values: dict[str, str]) -> str:
    """Replace `${{ expr }}` like the runner does; an expression we do not know fails the test."""

    def value(match: re.Match) -> str:
        expression = match.group(1).strip()
        assert expression in values, f"the recipe uses ${{{{ {expression} }}}}"
        return values[expression]

    return re.sub(r"\$\{\{(.+?)\}\}", value, text)


class Runner:
    """Runs a job's `run:` steps with bash -e in one workspace, as a GitHub runner would; `pip`
    and `gh` are stand-ins (no network), `gh` records what it was asked to post."""

    def __init__(self, workflow: dict, workspace: Path, account: str) -> None:
        self.workflow = workflow
        self.workspace = workspace
        self.values = {**EXPRESSIONS, "vars.ASSISTCTL_ACCOUNT": account}
        self.bin = workspace / ".bin"
        self.bin.mkdir()
        for name, body in {
            "pip": "exit 0",
            "gh": f'echo "$@" >> {workspace / "gh-calls.txt"}; exit 0',
        }.items():
            script = self.bin / name
            script.write_text(f"#!/bin/sh\n{body}\n")
            script.chmod(script.stat().st_mode | stat.S_IEXEC)
        self.summary = workspace / "step-summary.md"

    def job(self, name: str) -> list[int]:
        job = self.workflow["jobs"][name]
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ASSISTCTL_")},
            "PATH": os.pathsep.join(
                [str(self.bin), str(Path(sys.executable).parent), "/usr/bin", "/bin"]
            ),
            "GITHUB_STEP_SUMMARY": str(self.summary),
        }
        for scope in (self.workflow.get("env", {}), job.get("env", {})):
            env.update({k: expand(str(v), self.values) for k, v in scope.items()})
        codes = []
        for step in job["steps"]:
            if "run" not in step:
                continue
            done = subprocess.run(
                ["bash", "-e", "-c", expand(step["run"], self.values)],
                cwd=self.workspace,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            codes.append(done.returncode)
            if done.returncode != 0:
                self.last_error = done.stderr
                break
        return codes


@pytest.fixture
def workspace(workflow, tmp_path):
    """A repository holding the quickstart stack, with staging, preview and prod environments."""
    manifests = tmp_path / workflow["env"]["MANIFESTS"]
    shutil.copytree(ROOT / "examples" / "quickstart", manifests)
    (manifests / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: support}\n"
        "spec:\n  environments: {staging: {}, preview: {}, prod: {}}\n"
    )
    return tmp_path


@pytest.mark.timeout(600)  # about twenty assistctl runs, a few with a sequential verdict each
def test_the_recipe_runs_end_to_end_and_fails_when_it_should(workflow, workspace, local_server):
    runner = Runner(workflow, workspace, local_server.base_url)
    manifests = workspace / workflow["env"]["MANIFESTS"]
    # main, once: staging is deployed and gates production
    assert set(runner.job("validate")) == {0}
    assert set(runner.job("gate-staging")) == {0}, runner.last_error
    assert "| PASS | `order-status` | 17/17 |" in (workspace / "verdicts.md").read_text()
    assert set(runner.job("plan-production")) == {0}
    assert (workspace / "plan.json").is_file()
    assert set(runner.job("apply-production")) == {0}, runner.last_error
    assert "assistant.support-bot" in runner.summary.read_text()

    # a pull request that changes nothing the tests see: preview matches staging
    assert set(runner.job("plan")) == {0}
    assert set(runner.job("smoke-test-preview")) == {0}, runner.last_error
    comparison = (workspace / "comparison.md").read_text()
    assert comparison.startswith("### Smoke tests: `staging` → `preview`\n\nNo differences")
    assert "<testsuite" in (workspace / "junit.xml").read_text()

    # a pull request that renames the function's parameter: the canned outputs no longer
    # match, the preview's order-status verdict is FAIL, the check fails and says why
    schema = manifests / "tools" / "get_order.json"
    schema.write_text(schema.read_text().replace('"order_id"', '"order_number"'))
    codes = runner.job("smoke-test-preview")
    assert codes[-1] == 2
    comparison = (workspace / "comparison.md").read_text()
    assert "| ❌ regressed | `order-status` | PASS 17/17 (1.00) | FAIL 0/3 (0.00) |" in comparison

    # merged anyway: the staging gate fails, so production is never planned
    assert runner.job("gate-staging")[-1] == 2
    schema.write_text(schema.read_text().replace('"order_number"', '"order_id"'))

    # a merge whose plan went stale before approval: apply refuses, the job fails
    assert set(runner.job("plan-production")) == {0}
    bot = manifests / "support-bot.yaml"
    bot.write_text(bot.read_text().replace("temperature: 0.2", "temperature: 0.3"))
    codes = runner.job("apply-production")
    assert codes[-1] == 1
    assert "stale" in runner.last_error
