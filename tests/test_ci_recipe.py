"""The CI recipe (examples/ci/github-actions.yml) is valid, has the documented jobs, uses only
flags the CLI really has, and fails a job exactly when assistctl's exit code says so."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
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
        "smoke-test-staging",
        "plan-production",
        "apply-production",
    }
    on_pull_request = {"plan", "smoke-test-staging"}
    on_push = {"plan-production", "apply-production"}
    for name, job in workflow["jobs"].items():
        condition = job.get("if", "")
        if name in on_pull_request:
            assert "pull_request" in condition
        if name in on_push:
            assert "'push'" in condition
    assert workflow["jobs"]["apply-production"]["needs"] == "plan-production"


def test_the_documented_commands_are_there(workflow):
    commands = [line for _, line in assistctl_lines(workflow)]
    joined = "\n".join(commands)
    assert "assistctl validate" in joined
    assert "--markdown" in joined and "plan" in joined
    assert any(c.startswith("assistctl test") and "--junit" in c for c in commands)
    assert any(c.startswith("assistctl apply") and "--plan plan.json" in c for c in commands)
    comment = " ".join(s.get("run", "") for s in steps_of(workflow, "plan"))
    assert "gh pr comment" in comment and "--body-file plan.md" in comment
    published = [s.get("uses", "") for s in steps_of(workflow, "smoke-test-staging")]
    assert any(u.startswith("dorny/test-reporter") for u in published)


def test_the_account_and_key_come_from_variables_and_secrets(workflow):
    text = RECIPE.read_text()
    assert "sk-" not in text
    for name in ("plan", "smoke-test-staging", "plan-production", "apply-production"):
        env = workflow["jobs"][name]["env"]
        assert env["ASSISTCTL_ACCOUNT"] == "${{ vars.ASSISTCTL_ACCOUNT }}"
        assert env["ASSISTCTL_API_KEY"] == "${{ secrets.ASSISTCTL_API_KEY }}"


def test_every_assistctl_line_parses_with_the_real_cli(workflow, tmp_path, monkeypatch):
    """Flags in the recipe exist: each line goes through click's parser (nothing runs)."""
    manifests = workflow["env"]["MANIFESTS"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / manifests).mkdir()
    (tmp_path / "plan.json").write_text("{}")
    lines = assistctl_lines(workflow)
    assert len(lines) >= 7
    for job, line in lines:
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
