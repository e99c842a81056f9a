"""`assistctl test` end to end: apply the quickstart, run its smoke tests through the CLI, and
check exit codes, the summary and the JUnit / JSON / transcript reports."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistctl.cli import cli

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"

FAILING_TEST = """\
apiVersion: assistctl/v1
kind: SmokeTest
metadata: {name: wrong-eta}
spec:
  assistant: support-bot
  repeat: 2
  functions:
    get_order:
      - output: {status: shipped, eta: "2026-12-01"}
  steps:
    - user: Where is my order 123?
      expect:
        - contains: "2027"
"""


@pytest.fixture
def stack(tmp_path) -> Path:
    copy = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, copy)
    return copy


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def applied(local_server, stack: Path) -> str:
    result = invoke("--account", local_server.base_url, "apply", str(stack), "--yes")
    assert result.exit_code == 0, result.output
    return local_server.base_url


def test_quickstart_passes_with_reports(local_server, stack, tmp_path, admin):
    account = applied(local_server, stack)
    junit, report, transcripts = tmp_path / "junit.xml", tmp_path / "r.json", tmp_path / "tr"
    result = invoke(
        "--account", account, "test", str(stack),
        "--junit", str(junit), "--json", str(report), "--transcripts", str(transcripts),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sorted(line.split(" ")[0:2][1] for line in lines[:-1]) == [
        "order-status",
        "returns-policy",
        "warranty",
    ]
    assert lines[-1].startswith("3 passed in ")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "assistctl.support",
        "3",
        "0",
    )
    assert json.loads(report.read_text())["summary"]["passed"] == 3
    assert sorted(p.name for p in transcripts.iterdir()) == [
        "order-status-1.md",
        "returns-policy-1.md",
        "warranty-1.md",
    ]
    requests = admin.stats()["requests"]
    assert requests["POST /v1/threads"] == requests["DELETE /v1/threads/{thread_id}"] == 3


def test_failures_exit_2_and_are_explained_in_junit(local_server, stack, tmp_path):
    account = applied(local_server, stack)
    (stack / "tests" / "wrong-eta.yaml").write_text(FAILING_TEST)
    junit = tmp_path / "junit.xml"
    result = invoke("--account", account, "test", str(stack), "-k", "*eta", "--junit", str(junit))
    assert result.exit_code == 2, result.output
    out = result.stdout
    assert "FAILED wrong-eta [1/2]" in out and "FAILED wrong-eta [2/2]" in out
    assert "0/2 attempts passed, needs 2 of 2 (repeat 2, pass_threshold 1)" in out
    assert "FAIL  wrong-eta  0/2  rate 0.00, 95.0% interval 0.00–0.84" in out
    assert (
        "✗ expected the reply to contain '2027'; got \"Here is what get_order returned: "
        'status: shipped, eta: 2026-12-01."' in out
    )
    assert out.splitlines()[-1].startswith("1 failed, 3 deselected in ")
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case.get("name") == "wrong-eta"
    failure = case.find("failure")
    assert failure.get("message").startswith(
        "0/2 attempts passed (needs 2 of 2), rate 0.00, 95.0% interval 0.00–0.84; attempt 1: step 1:"
    )
    assert "tool calls: get_order" in failure.text


def test_not_applied_is_an_error_that_says_what_to_run(local_server, stack):
    applied(local_server, stack)
    with (stack / "stack.yaml").open("a") as handle:
        handle.write("spec: {environments: {staging: {vars: {}}}}\n")
    result = invoke("--account", local_server.base_url, "test", str(stack), "--env", "staging")
    assert result.exit_code == 1
    assert "which is not deployed for stack 'support/staging' on this account" in result.stderr
    assert f"Hint: deploy it first: assistctl apply {stack} --env staging" in result.stderr


def test_invalid_test_file_is_located(local_server, stack):
    bad = stack / "tests" / "bad.yaml"
    bad.write_text(
        textwrap.dedent(
            """\
            apiVersion: assistctl/v1
            kind: SmokeTest
            metadata: {name: bad}
            spec:
              assistant: support-bot
              steps:
                - user: hi
                  expect:
                    - smells_like: roses
            """
        )
    )
    result = invoke("--account", local_server.base_url, "test", str(stack))
    assert result.exit_code == 1
    assert "bad.yaml:9" in result.stderr and "smells_like" in result.stderr
    assert "Traceback" not in result.output


def test_selecting_nothing_is_an_error(local_server, stack):
    result = invoke("--account", local_server.base_url, "test", str(stack), "-k", "nope")
    assert result.exit_code == 1
    assert "-k 'nope' selects none of the smoke tests (" in result.stderr


def test_a_report_path_that_is_a_directory_is_refused_before_any_conversation(
    local_server, stack, tmp_path, admin
):
    for flag in ("--junit", "--json"):
        admin.reset_stats()
        result = invoke("--account", local_server.base_url, "test", str(stack), flag, str(tmp_path))
        assert result.exit_code == 1, result.output
        assert "is a directory" in result.stderr
        assert admin.stats()["total"] == 0


def test_ctrl_c_deletes_the_threads_of_conversations_in_flight(local_server, stack, admin):
    account = applied(local_server, stack)
    (stack / "tests" / "many.yaml").write_text(
        FAILING_TEST.replace("repeat: 2", "repeat: 12").replace("wrong-eta", "many")
    )
    admin.set_faults(latency_ms=60)
    process = subprocess.Popen(
        [sys.executable, "-m", "assistctl", "--account", account, "test", str(stack)]
        + ["-k", "many", "--parallel", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = process.stdout.readline()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert first.startswith("FAILED many [")
    assert process.returncode == 130, err
    assert "Interrupted." in err and "Traceback" not in err
    requests = admin.stats()["requests"]
    created = requests["POST /v1/threads"]
    assert created < 12 and requests["DELETE /v1/threads/{thread_id}"] == created
