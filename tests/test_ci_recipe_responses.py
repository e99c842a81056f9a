"""The responses-mode CI recipe (examples/ci/github-actions-responses.yml): valid, every flag
real, and end to end against the local account — plan on the PR with release diffs, apply on
main, releases committed back (so the next PR's plan diffs against them) and handed on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_ci_recipe import Runner, assert_every_line_parses, assistctl_lines

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "examples" / "ci" / "github-actions-responses.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(RECIPE.read_text())


def test_jobs_and_what_they_run(workflow):
    assert set(workflow["jobs"]) == {
        "validate",
        "plan",
        "smoke-test-staging",
        "plan-production",
        "apply-production",
        "deploy-app",
    }
    lines = [line for _, line in assistctl_lines(workflow)]
    talking = [line for line in lines if not line.startswith("assistctl validate")]
    assert talking and all("--api responses" in line for line in talking)
    apply = workflow["jobs"]["apply-production"]
    assert apply["permissions"] == {"contents": "write"}
    uploaded = [s for s in apply["steps"] if s.get("uses", "").startswith("actions/upload")]
    assert uploaded[0]["with"]["name"] == "releases-prod"
    assert workflow["jobs"]["deploy-app"]["needs"] == "apply-production"
    assert "sk-" not in RECIPE.read_text()


def test_every_assistctl_line_parses_with_the_real_cli(workflow, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_every_line_parses(workflow, tmp_path)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def repository(workflow, tmp_path) -> tuple[Path, Path]:
    """A clone of a repository (its origin a bare one) holding the quickstart, two environments."""
    origin, clone = tmp_path / "origin.git", tmp_path / "clone"
    git(tmp_path, "init", "--bare", str(origin))
    git(tmp_path, "clone", str(origin), str(clone))
    manifests = clone / workflow["env"]["MANIFESTS"]
    shutil.copytree(ROOT / "examples" / "quickstart", manifests)
    shutil.rmtree(manifests / "releases", ignore_errors=True)
    (manifests / "stack.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: Stack\nmetadata: {name: support}\n"
        "spec:\n  api: responses\n  environments: {staging: {}, prod: {}}\n"
    )
    git(clone, "add", "-A")
    git(clone, "-c", "user.name=dev", "-c", "user.email=dev@example.test", "commit", "-qm", "stack")
    git(clone, "push", "-q", "origin", "HEAD:main")
    return origin, clone


def runner_for(workflow: dict, workspace: Path, account: str) -> Runner:
    runner = Runner(workflow, workspace, account)
    runner.values.update({"secrets.OPENAI_API_KEY": "test-key", "github.sha": "abc123"})
    return runner


@pytest.mark.timeout(300)  # a dozen assistctl runs, two with a sequential verdict each
def test_the_recipe_runs_end_to_end(workflow, repository, local_server, tmp_path):
    origin, clone = repository
    runner = runner_for(workflow, clone, local_server.base_url)
    release = f"{workflow['env']['MANIFESTS']}/releases/support/prod/support-bot.json"
    # the first pull request
    assert set(runner.job("validate")) == {0}
    assert set(runner.job("plan")) == {0}, runner.last_error
    assert "assistant.support-bot" in (clone / "plan.md").read_text()
    assert set(runner.job("smoke-test-staging")) == {0}, runner.last_error
    assert "<testsuite" in (clone / "junit.xml").read_text()
    # merged: plan, apply, test, commit the releases back
    assert set(runner.job("plan-production")) == {0}, runner.last_error
    assert set(runner.job("apply-production")) == {0}, runner.last_error
    assert '"release": ' in (clone / "outputs.json").read_text()
    committed = git(origin, "show", f"main:{release}")
    assert '"name": "support-bot"' in committed
    assert "staging" not in git(origin, "ls-tree", "-r", "--name-only", "main")

    # the next pull request, in a fresh checkout of main: its plan is a release diff
    change = tmp_path / "change"
    git(tmp_path, "clone", "-q", str(origin), str(change))
    prompt = change / workflow["env"]["MANIFESTS"] / "prompts" / "support.md"
    prompt.write_text(prompt.read_text() + "- Never promise refunds.\n")
    next_runner = runner_for(workflow, change, local_server.base_url)
    assert set(next_runner.job("plan")) == {0}, next_runner.last_error
    comment = (change / "plan.md").read_text()
    assert "assistant.support-bot" in comment and "update" in comment
    assert "+- Never promise refunds." in comment
    assert "vector_store.handbook" not in comment.split("Operations")[0]
