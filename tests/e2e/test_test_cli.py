"""`assistctl test` end to end: apply the quickstart, run its smoke tests through the CLI, and
check exit codes, the summary and the JUnit / JSON / transcript reports."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from assistctl.cli import cli
from assistctl.smoketest.verdicts import Verdict, judge_sequentially, sequential_rule
from tests.smoketest.fake_models import FakeModels, serve

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


def test_quickstart_passes_with_verdicts_and_reports(local_server, stack, tmp_path, admin):
    account = applied(local_server, stack)
    junit, report, transcripts = tmp_path / "junit.xml", tmp_path / "r.json", tmp_path / "tr"
    result = invoke(
        "--account", account, "test", str(stack),
        "--junit", str(junit), "--json", str(report), "--transcripts", str(transcripts),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    attempts = [line for line in lines if line.startswith("PASSED ")]
    assert {line.split(" ")[1] for line in attempts} == {
        "order-status",
        "returns-policy",
        "warranty",
    }
    verdicts = lines.index(" verdicts ".center(72, "="))
    assert lines[verdicts + 1].startswith(
        "PASS  order-status  17/17  rate 1.00, 96.7% interval 0.80–1.00"
    )
    assert lines[verdicts + 1].endswith("decided at 17 of max 20")
    assert lines[-1].startswith("3 passed in ")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "assistctl.support",
        "3",
        "0",
    )
    data = json.loads(report.read_text())
    assert data["summary"]["passed"] == 3
    order = next(t for t in data["tests"] if t["name"] == "order-status")
    assert (order["verdict"], order["attempts_counted"], order["interval"]["lower"]) == (
        "pass",
        17,
        pytest.approx(0.8049, abs=1e-4),
    )
    conversations = len(order["attempts"]) + 2
    assert len(list(transcripts.iterdir())) == conversations
    assert (transcripts / "warranty-1.md").exists() and (
        transcripts / "order-status-17.md"
    ).exists()
    requests = admin.stats()["requests"]
    assert requests["POST /v1/threads"] == requests["DELETE /v1/threads/{thread_id}"]
    assert 19 <= requests["POST /v1/threads"] <= conversations


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
        "0/2 attempts passed (needs 2 of 2), rate 0.00, 95.0% interval 0.00–0.84; "
        "attempt 1: step 1:"
    )
    assert "tool calls: get_order" in failure.text


def test_not_applied_is_an_error_that_says_what_to_run(local_server, stack):
    applied(local_server, stack)
    with (stack / "stack.yaml").open("a") as handle:
        handle.write("spec: {environments: {staging: {vars: {}}}}\n")
    result = invoke("--account", local_server.base_url, "test", str(stack), "--env", "staging")
    assert result.exit_code == 1
    assert "which is not deployed for stack 'support/staging' on this account" in result.stderr
    account = local_server.base_url
    assert f"Hint: deploy it first: assistctl --account {account} apply {stack} --env staging" in (
        result.stderr
    )


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


# --- verdicts, graders, comparisons (issue 19) ------------------------------------------------

RUBRIC_TEST = """\
apiVersion: assistctl/v1
kind: SmokeTest
metadata: {name: returns-graded}
spec:
  assistant: support-bot
  repeat: {min: 3, max: 30}
  pass_threshold: 0.8
  steps:
    - user: How many days do I have to return an item for a refund?
      expect:
        - rubric: 'Says the customer has "30 days" to return an item.'
        - similar: {to: "You can return any item within 30 days of delivery.", threshold: 0.6}
"""


def write_test(stack: Path, name: str, text: str) -> None:
    (stack / "tests" / f"{name}.yaml").write_text(text)


def test_a_flaky_graded_test_is_reported_flaky_with_the_verdict_its_numbers_give(
    local_server, stack, tmp_path
):
    """The grader passes each rubric with probability 0.6 (seeded): the assistant looks flaky.
    With one conversation at a time the grader's coins fall on attempts 1, 2, 3… in order, so
    the expected verdict is the sequential rule applied to that same sequence."""
    account = applied(local_server, stack)
    write_test(stack, "returns-graded", RUBRIC_TEST)
    report = tmp_path / "report.json"
    with serve(FakeModels(pass_probability=0.6, seed=4)) as models:
        result = invoke(
            "--account", account, "test", str(stack), "-k", "returns-graded",
            "--grader-account", models.url, "--parallel", "1", "--json", str(report),
        )  # fmt: skip
    coins = random.Random(4)
    expected = judge_sequentially(
        sequential_rule(0.8, 3, 30), iter(lambda: coins.random() < 0.6, None)
    )
    assert expected.verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE) and expected.flaky
    assert result.exit_code == 2, result.output
    data = json.loads(report.read_text())["tests"][0]
    assert (data["verdict"], data["passes"], data["attempts_counted"], data["flaky"]) == (
        expected.verdict.value,
        expected.passes,
        expected.attempts,
        True,
    )
    word = expected.verdict.name
    assert f"{word}  returns-graded  {expected.passes}/{expected.attempts}  rate " in result.stdout
    assert "flaky" in result.stdout.split(" verdicts ")[1].splitlines()[1]
    assert result.stdout.splitlines()[-1].startswith(
        f"1 {'failed' if word == 'FAIL' else 'inconclusive'}, 1 flaky, 3 deselected in "
    )
    assert "the grader said: the coin said so" in result.stdout


def test_graded_checks_use_the_stacks_grader_and_never_show_its_key(
    local_server, stack, tmp_path, monkeypatch
):
    account = applied(local_server, stack)
    write_test(stack, "returns-graded", RUBRIC_TEST)
    monkeypatch.setenv("TEAM_GRADER_KEY", "sk-very-secret")
    report, transcripts = tmp_path / "report.json", tmp_path / "tr"
    with serve(FakeModels()) as models:
        with (stack / "stack.yaml").open("a") as handle:
            handle.write(
                f"spec:\n  grader: {{account: '{models.url}', model: judge-1, "
                "api: responses, embeddings_model: embed-1, api_key_env: TEAM_GRADER_KEY}\n"
            )
        result = invoke(
            "--account", account, "test", str(stack), "-k", "returns-graded",
            "--json", str(report), "--transcripts", str(transcripts),
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "PASS  returns-graded  19/19" in result.stdout
    paths = set(models.paths())
    assert paths == {"/v1/responses", "/v1/embeddings"}
    assert {r["headers"]["authorization"] for r in models.requests} == {"Bearer sk-very-secret"}
    assert {r["body"]["model"] for r in models.requests} == {"judge-1", "embed-1"}
    written = report.read_text() + "".join(p.read_text() for p in transcripts.iterdir())
    assert "sk-very-secret" not in result.output + written


def test_a_grader_that_cannot_answer_is_an_error_not_a_failure(local_server, stack):
    account = applied(local_server, stack)
    write_test(stack, "returns-graded", RUBRIC_TEST)
    with serve(FakeModels()) as models:
        models.answer = "Yes, it does."
        result = invoke(
            "--account", account, "test", str(stack), "-k", "returns-graded",
            "--grader-account", models.url,
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "ERROR returns-graded - " in result.stdout
    assert 'the answer is not the JSON object {pass, reason} it was asked for: "Yes, it does."' in (
        result.stdout
    )
    assert result.stdout.splitlines()[-1].startswith("1 error, 3 deselected in ")


def test_a_graded_test_without_a_grader_is_refused_before_any_conversation(
    local_server, stack, admin
):
    account = applied(local_server, stack)
    write_test(stack, "returns-graded", RUBRIC_TEST)
    admin.reset_stats()
    result = invoke("--account", account, "test", str(stack), "-k", "returns-graded")
    assert result.exit_code == 1
    assert "returns-graded.yaml:1: spec.steps[0].expect[0]: rubric: needs a grader account" in (
        result.stderr
    )
    assert "--grader-account" in result.stderr
    assert "POST /v1/threads" not in admin.stats()["requests"]


def test_a_max_that_cannot_reach_pass_is_refused_by_validate_and_by_test(
    local_server, stack, admin
):
    order = stack / "tests" / "order-status.yaml"
    order.write_text(order.read_text().replace("max: 20", "max: 12"))
    result = invoke("validate", str(stack))
    assert result.exit_code == 1
    assert (
        "order-status.yaml:10: spec.repeat.max: max 12 can never reach PASS at pass_threshold 0.8 "
        "and confidence 0.95: even with every attempt passing it needs max ≥ 17"
    ) in result.stderr
    order.write_text(order.read_text().replace("max: 12", "max: 20"))
    account = applied(local_server, stack)
    admin.reset_stats()
    result = invoke("--account", account, "test", str(stack), "--confidence", "0.99")
    assert result.exit_code == 1
    assert (
        "spec.repeat.max: max 20 can never reach PASS at pass_threshold 0.8 and confidence 0.99"
        in (result.stderr)
    )
    assert "POST /v1/threads" not in admin.stats()["requests"]


GREETING_TEST = """\
apiVersion: assistctl/v1
kind: SmokeTest
metadata: {name: greeting}
spec:
  assistant: support-bot
  steps:
    - user: Hello there
      expect:
        - contains: "[Support Bot]"
"""


def two_environments(stack: Path) -> None:
    """staging deploys the bot as "Support Bot", preview renames it (the change under review):
    the deterministic engine signs its echo with the name, so the greeting test tells them
    apart."""
    bot = stack / "support-bot.yaml"
    bot.write_text(bot.read_text().replace("name: Support Bot", "name: ${BOT_NAME}"))
    with (stack / "stack.yaml").open("a") as handle:
        handle.write(
            "spec:\n  environments:\n"
            "    staging: {vars: {BOT_NAME: Support Bot}}\n"
            "    preview: {vars: {BOT_NAME: Helper Bot}}\n"
        )
    write_test(stack, "greeting", GREETING_TEST)


def test_compare_two_environments_differences_first(local_server, stack, tmp_path):
    two_environments(stack)
    account = local_server.base_url
    for env in ("staging", "preview"):
        applied_env = invoke("--account", account, "apply", str(stack), "--env", env, "--yes")
        assert applied_env.exit_code == 0, applied_env.output
    markdown, report = tmp_path / "comparison.md", tmp_path / "comparison.json"
    result = invoke(
        "--account", account, "test", str(stack), "--compare", "staging", "preview",
        "-k", "greeting", "--markdown", str(markdown), "--json", str(report),
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    out = result.stdout.splitlines()
    assert "[staging] PASSED greeting [1/1]" in result.stdout
    assert "[preview] FAILED greeting [1/1]" in result.stdout
    header = out.index("staging (baseline) → preview (candidate): 1 difference in 1 test")
    assert out[header + 2].split()[:2] == ["regressed", "greeting"]
    assert out[-1].startswith("preview: 1 failed, 3 deselected in ")
    assert out[-2].startswith("staging: 1 passed, 3 deselected in ")
    text = markdown.read_text()
    assert text.startswith("### Smoke tests: `staging` → `preview`")
    assert "| ❌ regressed | `greeting` | PASS 1/1 (1.00) | FAIL 0/1 (0.00) | -1.00 |" in text
    data = json.loads(report.read_text())
    assert data["baseline"]["stack"] == "support/staging"
    assert data["candidate"]["stack"] == "support/preview"
    assert data["rows"][0]["change"] == "regressed" and data["exit_code"] == 2


def test_compare_two_accounts(local_server, stack, tmp_path):
    from assistctl.local import LocalConfig, start_in_process

    account = applied(local_server, stack)
    other_stack = tmp_path / "renamed"
    shutil.copytree(stack, other_stack)
    bot = other_stack / "support-bot.yaml"
    bot.write_text(bot.read_text().replace("name: Support Bot", "name: Helper Bot"))
    other = start_in_process(tmp_path / "other-account", config=LocalConfig())
    try:
        assert (
            invoke("--account", other.base_url, "apply", str(other_stack), "--yes").exit_code == 0
        )
        write_test(stack, "greeting", GREETING_TEST)
        result = invoke(
            "--account", account, "test", str(stack), "-k", "greeting",
            "--compare-account", account, other.base_url,
        )  # fmt: skip
    finally:
        other.stop()
    assert result.exit_code == 2, result.output
    assert f"{account} (baseline) → {other.base_url} (candidate): 1 difference" in result.stdout


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--compare", "a", "b", "--compare-account", "x", "y"], "cannot be combined"),
        (["--compare", "a", "b", "--env", "c"], "--compare names both environments"),
        (["--export", "promptfoo", "--compare", "a", "b"], "--export writes one suite"),
        (["-o", "x.yaml"], "-o/--output goes with --export"),
        (["--confidence", "1"], "Invalid value for '--confidence'"),
    ],
)
def test_flags_that_cannot_go_together_are_refused(stack, flags, message):
    result = invoke("test", str(stack), *flags)
    assert result.exit_code == 1
    assert message in result.stderr


def test_export_to_promptfoo_writes_the_deployed_suite(local_server, stack, tmp_path):
    account = applied(local_server, stack)
    target = tmp_path / "promptfooconfig.yaml"
    result = invoke(
        "--account", account, "test", str(stack), "--export", "promptfoo", "-o", str(target)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Wrote {target}: 3 tests of stack support for promptfoo; ")
    assert "not exported: returns-policy: step 1, expect[1] cites" in result.stderr
    text = target.read_text()
    config = yaml.safe_load(text)
    assert {p["config"]["apiBaseUrl"] for p in config["providers"]} == {account}
    assert all(p["id"].startswith("openai:assistant:asst_") for p in config["providers"])
    assert [t["description"] for t in config["tests"]] == [
        "order-status",
        "returns-policy",
        "warranty",
    ]
    assert "#   order-status: repeat {min: 3, max: 20} at pass_threshold 0.8" in text


def test_export_refuses_the_embedded_account_that_dies_with_the_command(stack, tmp_path):
    result = invoke(
        "--account", f"local:{tmp_path / 'acct'}", "test", str(stack), "--export", "promptfoo"
    )
    assert result.exit_code == 1
    assert "the embedded local account stops with this command" in result.stderr
    assert "assistctl local serve" in result.stderr


def test_built_in_tool_calls_can_be_expected_and_refused(local_server, stack):
    """`tool_call: file_search` and `no_tool_call: code_interpreter` are checked on the run's
    steps, as the README documents; a wrong expectation about them fails with what was called."""
    write_test(
        stack,
        "search-expected",
        """\
        apiVersion: assistctl/v1
        kind: SmokeTest
        metadata: {name: search-expected}
        spec:
          assistant: support-bot
          steps:
            - user: How many days do I have to return an item?
              expect:
                - tool_call: file_search
                - tool_call: {name: file_search, count: 1}
                - no_tool_call: get_order
        """,
    )
    write_test(
        stack,
        "search-refused",
        """\
        apiVersion: assistctl/v1
        kind: SmokeTest
        metadata: {name: search-refused}
        spec:
          assistant: support-bot
          steps:
            - user: How many days do I have to return an item?
              expect:
                - no_tool_call: file_search
        """,
    )
    account = applied(local_server, stack)
    passed = invoke("--account", account, "test", str(stack), "-k", "search-expected")
    assert passed.exit_code == 0, passed.output
    failed = invoke("--account", account, "test", str(stack), "-k", "search-refused")
    assert failed.exit_code == 2, failed.output
    assert "expected no call to file_search; got file_search" in failed.output


def test_result_lines_come_in_the_same_order_whatever_the_parallelism(local_server, stack):
    """The README promises it; with `--parallel` the lines used to come as attempts finished."""
    write_test(stack, "failing", FAILING_TEST)
    account = applied(local_server, stack)

    def result_lines(parallel: str) -> list[str]:
        result = invoke("--account", account, "test", str(stack), "--parallel", parallel)
        assert result.exit_code == 2, result.output
        return [
            " ".join(line.split(" ")[:3])
            for line in result.stdout.splitlines()
            if line.startswith(("PASSED ", "FAILED ", "ERROR "))
        ]

    sequential = result_lines("1")
    assert len(sequential) >= 4
    for _ in range(3):
        assert result_lines("8") == sequential
