"""The side-by-side table on plain results: rows classified and ordered differences first,
rendered as text and as a PR comment, and the exit code the candidate decides."""

from __future__ import annotations

import json

from assistctl.conversation import Reply
from assistctl.model import DesiredSmokeTest, Location
from assistctl.smoketest.comparison import Comparison
from assistctl.smoketest.results import AttemptResult, StepResult, SuiteResult, TestResult

SPEC = {"assistant": "bot", "steps": [{"user": "hi", "expect": []}]}


def result(name: str, outcomes: str, **spec) -> TestResult:
    """A test whose attempts passed (P), failed (F) or hit an account error (E)."""
    test = DesiredSmokeTest(name, "bot", {**SPEC, **spec}, Location(f"tests/{name}.yaml", 1))
    attempts = []
    for index, mark in enumerate(outcomes, start=1):
        failure = "the run failed" if mark == "F" else None
        step = StepResult(1, "hi", Reply("completed", "x"), failure=failure)
        if mark == "E":
            attempts.append(AttemptResult(name, index, (), 1, 0.1, error="the account said 500"))
        else:
            attempts.append(AttemptResult(name, index, (step,), 1, 0.1))
    return TestResult(test, tuple(attempts))


def suite(owner: str, *tests: TestResult) -> SuiteResult:
    return SuiteResult(owner, tests, 1.0)


REPEAT = {"repeat": 10, "pass_threshold": 0.8}


def comparison() -> Comparison:
    baseline = suite(
        "support/staging",
        result("same", "P"),
        result("rate", "PPPPPPPPPP", **REPEAT),
        result("worse", "P"),
        result("better", "F"),
        result("gone", "P"),
    )
    candidate = suite(
        "support/preview",
        result("same", "P"),
        result("rate", "PPPPPPPPPF", **REPEAT),
        result("worse", "F"),
        result("better", "P"),
        result("fresh", "P"),
    )
    return Comparison("staging", "preview", baseline, candidate)


def test_rows_come_differences_first():
    rows = comparison().rows
    assert [(row.name, row.change) for row in rows] == [
        ("worse", "regressed"),
        ("better", "improved"),
        ("fresh", "new"),
        ("gone", "removed"),
        ("rate", "rate changed"),
        ("same", "same"),
    ]
    assert abs(rows[4].rate_delta + 0.1) < 1e-9


def test_text_table():
    text = comparison().render_text()
    lines = text.splitlines()
    assert lines[0] == "staging (baseline) → preview (candidate): 5 differences in 6 tests"
    assert lines[1].split() == ["change", "test", "staging", "preview", "Δ", "rate"]
    assert lines[2] == "regressed     worse   PASS 1/1 (1.00)    FAIL 0/1 (0.00)          -1.00"
    assert "rate changed  rate    PASS 10/10 (1.00)  PASS 9/10 (0.90), flaky  -0.10" in text
    assert (
        lines[5].split()[:4] == ["removed", "gone", "PASS", "1/1"] and lines[5].split()[-1] == "—"
    )


def test_markdown_table_for_a_pull_request():
    text = comparison().render_markdown()
    assert text.startswith("### Smoke tests: `staging` → `preview`\n\n5 differences in 6 tests.\n")
    assert "| change | test | `staging` | `preview` | Δ rate |" in text
    assert "| ❌ regressed | `worse` | PASS 1/1 (1.00) | FAIL 0/1 (0.00) | -1.00 |" in text
    assert "| 🆕 new | `fresh` | — | PASS 1/1 (1.00) |  |" in text
    assert text.index("regressed") < text.index("improved") < text.index("| same |")
    assert "Verdicts at 95% confidence" in text


def test_the_candidate_decides_the_exit_code_and_errors_make_it_1():
    assert comparison().exit_code == 2  # "worse" fails on the candidate
    fixed = Comparison("a", "b", suite("s/a", result("t", "F")), suite("s/b", result("t", "P")))
    assert fixed.exit_code == 0
    broken_baseline = Comparison(
        "a", "b", suite("s/a", result("t", "E")), suite("s/b", result("t", "P"))
    )
    assert broken_baseline.exit_code == 1
    assert broken_baseline.rows[0].change == "improved"
    assert "ERROR" in broken_baseline.render_text()


def test_json_has_both_runs_and_the_rows():
    data = json.loads(json.dumps(comparison().to_json()))
    assert (
        data["baseline"]["label"] == "staging" and data["candidate"]["stack"] == "support/preview"
    )
    assert data["baseline"]["format_version"] == 2
    assert data["rows"][0] == {
        "name": "worse",
        "change": "regressed",
        "rate_delta": -1.0,
        "baseline": {
            "outcome": "passed",
            "verdict": "pass",
            "passes": 1,
            "attempts_counted": 1,
            "rate": 1.0,
            "flaky": False,
        },
        "candidate": {
            "outcome": "failed",
            "verdict": "fail",
            "passes": 0,
            "attempts_counted": 1,
            "rate": 0.0,
            "flaky": False,
        },
    }
    assert data["exit_code"] == 2
