"""Reports on fixed results: the summary, JSON, JUnit XML and transcripts."""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET

import pytest

from assistctl.conversation import Citation, Reply, ToolCall
from assistctl.errors import AssistctlError
from assistctl.model import DesiredSmokeTest, Location
from assistctl.smoketest import reports
from assistctl.smoketest.expectations import evaluate_step
from assistctl.smoketest.results import AttemptResult, StepResult, SuiteResult, TestResult

ORDER_SPEC = {
    "assistant": "support-bot",
    "repeat": 3,
    "pass_threshold": 0.67,
    "steps": [{"user": "Where is my order 123?", "expect": [{"contains": "shipped"}]}],
}


def smoke_test(name: str, spec: dict) -> DesiredSmokeTest:
    return DesiredSmokeTest(name, spec["assistant"], spec, Location(f"tests/{name}.yaml", 4))


def attempt(name: str, index: int, text: str, *, expect=None, error=None) -> AttemptResult:
    reply = Reply(
        "completed",
        text,
        tool_calls=(ToolCall("function", "get_order", {"order_id": "123"}, '{"status":"x"}'),),
        citations=(Citation("file-9", "docs/returns.md", "returns.md", "30 days"),),
        latency_s=0.25,
        usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    )
    checks = evaluate_step(expect or [{"contains": "shipped"}], reply)
    steps = (
        () if error else (StepResult(1, "Where is my order 123?", reply, checks, None, "run_1"),)
    )
    return AttemptResult(name, index, steps, 1, 0.5, "thread_1", error)


def suite() -> SuiteResult:
    order = smoke_test("order-status", ORDER_SPEC)
    returns = smoke_test("returns", {**ORDER_SPEC, "repeat": 1, "pass_threshold": 1.0})
    broken = smoke_test("broken", {**ORDER_SPEC, "repeat": 1})
    return SuiteResult(
        owner="support/staging",
        tests=(
            TestResult(
                order,
                (
                    attempt("order-status", 1, "It has shipped."),
                    attempt("order-status", 2, "It is <lost> & \x01gone."),
                    attempt("order-status", 3, "It shipped."),
                ),
            ),
            TestResult(returns, (attempt("returns", 1, "Still processing."),)),
            TestResult(broken, (attempt("broken", 1, "", error="the account answered 500"),)),
        ),
        duration_s=8.34,
        deselected=("warranty",),
    )


def test_outcomes_and_exit_code():
    result = suite()
    assert [t.outcome for t in result.tests] == ["passed", "failed", "error"]
    assert result.tests[0].passes == 2 and result.tests[0].required == 2
    assert result.counts() == {"passed": 1, "failed": 1, "inconclusive": 0, "error": 1}
    assert result.exit_code == 1


def test_summary_explains_each_failure_and_ends_like_pytest():
    text = reports.summary(suite())
    assert text.splitlines()[-1] == "1 passed, 1 failed, 1 error, 1 flaky, 1 deselected in 8.3s"
    assert "FAILED returns - step 1: expected the reply to contain 'shipped'" in text
    assert 'got "Still processing."' in text
    assert 'tool calls: get_order({"order_id": "123"})' in text
    assert "ERROR broken - the account answered 500" in text
    assert "order-status" not in text.split("short test summary info")[1]


def test_attempt_line():
    result = suite()
    order = result.tests[0]
    assert reports.attempt_line(order.test, order.attempts[0]) == (
        "PASSED order-status [1/3] 0.50s"
    )
    assert reports.attempt_line(order.test, order.attempts[1]).startswith(
        "FAILED order-status [2/3] 0.50s - step 1: expected the reply to contain 'shipped'"
    )


def test_json_has_every_attempt_step_and_expectation():
    data = json.loads(json.dumps(reports.to_json(suite())))
    assert data["format_version"] == 2
    assert data["summary"] == {
        "passed": 1,
        "failed": 1,
        "inconclusive": 0,
        "errors": 1,
        "flaky": 1,
        "deselected": 1,
        "allow_inconclusive": False,
        "duration_s": 8.34,
        "exit_code": 1,
    }
    order = data["tests"][0]
    assert (order["passes"], order["required_passes"], order["outcome"]) == (2, 2, "passed")
    assert (order["verdict"], order["rule"], order["repeat"], order["flaky"]) == (
        "pass",
        "count",
        3,
        True,
    )
    assert order["rate"] == pytest.approx(2 / 3, abs=1e-6)
    assert order["interval"]["confidence"] == 0.95
    assert 0 < order["interval"]["lower"] < order["rate"] < order["interval"]["upper"] < 1
    assert [a["counted"] for a in order["attempts"]] == [True, True, True]
    assert data["tests"][2]["verdict"] is None and data["tests"][2]["rate"] is None
    step = order["attempts"][1]["steps"][0]
    assert step["usage"]["total_tokens"] == 15
    assert step["tool_calls"][0] == {
        "type": "function",
        "name": "get_order",
        "arguments": {"order_id": "123"},
        "output": '{"status":"x"}',
    }
    assert step["citations"][0]["path"] == "docs/returns.md"
    assert [(e["kind"], e["passed"], e["implicit"]) for e in step["expectations"]] == [
        ("status", True, True),
        ("contains", False, False),
    ]
    assert data["tests"][2]["attempts"][0]["error"] == "the account answered 500"


def test_junit_shape(tmp_path):
    path = tmp_path / "out" / "junit.xml"
    reports.write_junit(suite(), path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (testsuite,) = root.findall("testsuite")
    assert testsuite.get("name") == "assistctl.support.staging"
    assert (testsuite.get("tests"), testsuite.get("failures"), testsuite.get("errors")) == (
        "3",
        "1",
        "1",
    )
    assert float(testsuite.get("time")) == 8.34
    datetime.datetime.fromisoformat(testsuite.get("timestamp"))
    cases = {c.get("name"): c for c in testsuite.findall("testcase")}
    assert set(cases) == {"order-status", "returns", "broken"}
    assert cases["order-status"].find("failure") is None
    failure = cases["returns"].find("failure")
    assert failure.get("message").startswith("step 1: expected the reply to contain 'shipped'")
    assert "Still processing." in failure.text
    assert cases["broken"].find("error").get("message") == "the account answered 500"
    for case in cases.values():
        assert case.get("classname") == "assistctl.support.staging"
        assert float(case.get("time")) >= 0
    assert "\x01" not in path.read_text()


def test_transcripts_one_per_attempt(tmp_path):
    written = reports.write_transcripts(suite(), tmp_path)
    assert sorted(p.name for p in written) == [
        "broken-1.md",
        "order-status-1.md",
        "order-status-2.md",
        "order-status-3.md",
        "returns-1.md",
    ]
    text = (tmp_path / "returns-1.md").read_text()
    assert text.startswith("# returns — attempt 1 of 1: failed")
    assert "> Where is my order 123?" in text
    assert '**tool call:** `get_order({"order_id": "123"})`' in text
    assert "> Still processing." in text
    assert "- cites docs/returns.md (file-9): 30 days" in text
    assert '- ✗ contains: "shipped"' in text
    assert "error: the account answered 500" in (tmp_path / "broken-1.md").read_text()


def test_progress_prints_plain_lines_without_a_terminal():
    printed: list[str] = []
    result = suite()
    with reports.Progress(5, echo=printed.append, tty=False, color=False) as progress:
        for test in result.tests:
            for one in test.attempts:
                progress.attempt_finished(test.test, one)
                progress.attempt_reported(test.test, one)
    assert len(printed) == 5 and printed[0] == "PASSED order-status [1/3] 0.50s"


def test_a_report_path_that_cannot_be_written_is_an_error_naming_it(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a directory")
    for write, path in (
        (reports.write_json, tmp_path),
        (reports.write_junit, tmp_path),
        (reports.write_transcripts, blocker),
        (reports.write_json, blocker / "report.json"),
    ):
        with pytest.raises(AssistctlError, match=f"cannot write .*{tmp_path.name}"):
            write(suite(), path)


SEQUENTIAL_SPEC = {**ORDER_SPEC, "repeat": {"min": 3, "max": 30}, "pass_threshold": 0.8}


def sequential_suite(outcomes: str, *, allow_inconclusive: bool = False) -> SuiteResult:
    """One sequential test whose attempts passed (P), failed (F) or were cancelled (C)."""
    test = smoke_test("refund-tone", SEQUENTIAL_SPEC)
    attempts = tuple(
        AttemptResult("refund-tone", index, (), 1, 0.1, cancelled=True)
        if mark == "C"
        else attempt("refund-tone", index, "It has shipped." if mark == "P" else "Lost.")
        for index, mark in enumerate(outcomes, start=1)
    )
    return SuiteResult(
        "support", (TestResult(test, attempts),), 3.0, allow_inconclusive=allow_inconclusive
    )


def test_an_inconclusive_flaky_test_is_reported_as_such_everywhere(tmp_path):
    suite = sequential_suite("PPPF" * 7 + "PP")  # 23 of 30 pass: rate 0.77 straddles 0.8
    (test,) = suite.tests
    assert (test.outcome, test.passes, len(test.counted), test.flaky) == (
        "inconclusive",
        23,
        30,
        True,
    )
    text = reports.summary(suite)
    verdict_line = text.splitlines()[1]
    assert verdict_line.startswith("INCONCLUSIVE  refund-tone  23/30  rate 0.77, 97.8% interval")
    assert "flaky" in verdict_line and "straddling pass_threshold 0.8" in verdict_line
    assert "INCONCLUSIVE refund-tone - 23/30 attempts passed" in text
    assert text.splitlines()[-1] == "1 inconclusive, 1 flaky in 3.0s"
    assert suite.exit_code == 2
    data = reports.to_json(suite)
    assert data["summary"]["inconclusive"] == 1 and data["summary"]["flaky"] == 1
    assert data["tests"][0]["verdict"] == "inconclusive" and data["tests"][0]["flaky"]
    case = reports.to_junit(suite).find("testsuite/testcase")
    assert case.find("failure").get("type") == "SmokeTestInconclusive"
    assert "verdict: INCONCLUSIVE" in case.find("system-out").text


def test_allowed_inconclusive_exits_0_and_is_skipped_in_junit():
    suite = sequential_suite("PPPF" * 7 + "PP", allow_inconclusive=True)
    assert suite.exit_code == 0
    assert reports.summary_line(suite) == "1 inconclusive (allowed), 1 flaky in 3.0s"
    testsuite = reports.to_junit(suite).find("testsuite")
    assert (testsuite.get("failures"), testsuite.get("skipped")) == ("0", "1")
    skipped = testsuite.find("testcase/skipped")
    assert skipped.get("message").startswith("inconclusive: 23/30 attempts passed")


def test_attempts_past_the_verdict_are_kept_but_not_counted():
    suite = sequential_suite("P" * 19 + "PCC")
    (test,) = suite.tests
    assert (test.verdict.value, len(test.counted), test.stopped_early) == ("pass", 19, True)
    data = reports.to_json(suite)["tests"][0]
    assert data["attempts_counted"] == 19 and len(data["attempts"]) == 22
    assert [(a["outcome"], a["counted"]) for a in data["attempts"][18:]] == [
        ("passed", True),
        ("passed", False),
        ("cancelled", False),
        ("cancelled", False),
    ]
    assert data["interval"]["confidence"] == pytest.approx(0.9775, abs=1e-4)
    assert "decided at 19 of max 30" in reports.summary(suite)
    assert reports.attempt_line(test.test, test.attempts[-1]) == (
        "CANCELLED refund-tone [22/30] 0.10s - cancelled: verdict reached"
    )


def test_markdown_lists_every_verdict():
    text = reports.render_markdown(suite())
    assert text.startswith("### Smoke tests: `support/staging`\n")
    assert "| PASS (flaky) | `order-status` | 2/3 | rate 0.67, 95.0% interval 0.09–0.99 |" in text
    assert "| FAIL | `returns` | 0/1 |" in text
    assert "expected the reply to contain 'shipped'" in text
    assert "| ERROR | `broken` | 0/0 |  | the account answered 500 |" in text
