"""Side by side: one suite run against two deployments (``--compare``), test by test.

The first side is the baseline (what runs today), the second the candidate (the change under
review). Each row pairs a test's results on both sides; rows whose verdict changed come first
(regressions, then improvements), then tests only one side has, then pass-rate changes
(largest first), then the unchanged, so a reviewer reads the differences before the rest. The
table renders as text for the log and as markdown for a pull-request comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistctl.smoketest.reports import VERDICT_WORDS, to_json
from assistctl.smoketest.results import SuiteResult, TestResult
from assistctl.smoketest.verdicts import Verdict

COMPARISON_FORMAT_VERSION = 1
# How good a test's outcome is, to tell a regression from an improvement.
_STANDING = {
    "error": 0,
    Verdict.FAIL: 1,
    Verdict.INCONCLUSIVE: 2,
    Verdict.PASS: 3,
}
_CHANGE_ORDER = ("regressed", "improved", "new", "removed", "rate changed", "same")
_CHANGE_MARKS = {
    "regressed": "❌ regressed",
    "improved": "✅ improved",
    "new": "🆕 new",
    "removed": "➖ removed",
    "rate changed": "↕ rate changed",
    "same": "same",
}


def standing(test: TestResult) -> int:
    return _STANDING[test.verdict if test.verdict is not None else "error"]


def cell(test: TestResult | None) -> str:
    """``PASS 17/17 (1.00)``, ``ERROR`` or ``—`` for a test this side does not have."""
    if test is None:
        return "—"
    if test.verdict is None:
        return "ERROR"
    judgement = test.judgement
    rate = f" ({judgement.rate:.2f})" if judgement is not None else ""
    flaky = ", flaky" if test.flaky else ""
    return f"{VERDICT_WORDS[test.verdict]} {test.passes}/{len(test.counted)}{rate}{flaky}"


@dataclass(frozen=True)
class Row:
    """One test on both sides (None where a side does not have it)."""

    name: str
    baseline: TestResult | None
    candidate: TestResult | None

    @property
    def change(self) -> str:
        if self.baseline is None:
            return "new"
        if self.candidate is None:
            return "removed"
        before, after = standing(self.baseline), standing(self.candidate)
        if after < before:
            return "regressed"
        if after > before:
            return "improved"
        return "rate changed" if self.rate_delta else "same"

    @property
    def rate_delta(self) -> float:
        """Candidate rate minus baseline rate (0 when either has none)."""
        if self.baseline is None or self.candidate is None:
            return 0.0
        before, after = self.baseline.judgement, self.candidate.judgement
        if before is None or after is None:
            return 0.0
        return after.rate - before.rate

    def sort_key(self) -> tuple[int, float, str]:
        return (_CHANGE_ORDER.index(self.change), -abs(self.rate_delta), self.name)


@dataclass(frozen=True)
class Comparison:
    baseline_label: str
    candidate_label: str
    baseline: SuiteResult
    candidate: SuiteResult

    @property
    def rows(self) -> list[Row]:
        before = {t.name: t for t in self.baseline.tests}
        after = {t.name: t for t in self.candidate.tests}
        names = list(dict.fromkeys([*before, *after]))
        rows = [Row(name, before.get(name), after.get(name)) for name in names]
        return sorted(rows, key=Row.sort_key)

    @property
    def differences(self) -> int:
        return sum(1 for row in self.rows if row.change != "same")

    @property
    def exit_code(self) -> int:
        """The candidate decides (it is what would ship), except that an error on either side
        makes the comparison itself unreliable: 1."""
        if self.baseline.counts()["error"] or self.candidate.counts()["error"]:
            return 1
        return self.candidate.exit_code

    def headline(self) -> str:
        count = self.differences
        what = f"{count} difference{'s' if count != 1 else ''}" if count else "no differences"
        return (
            f"{self.baseline_label} (baseline) → {self.candidate_label} (candidate): {what} "
            f"in {len(self.rows)} test{'s' if len(self.rows) != 1 else ''}"
        )

    def render_text(self) -> str:
        header = ("change", "test", self.baseline_label, self.candidate_label, "Δ rate")
        rows = [header] + [
            (
                row.change,
                row.name,
                cell(row.baseline),
                cell(row.candidate),
                f"{row.rate_delta:+.2f}" if row.rate_delta else "",
            )
            for row in self.rows
        ]
        widths = [max(len(r[column]) for r in rows) for column in range(len(header))]
        lines = [self.headline()]
        for row_cells in rows:
            padded = [value.ljust(width) for value, width in zip(row_cells, widths, strict=True)]
            lines.append("  ".join(padded).rstrip())
        return "\n".join(lines) + "\n"

    def render_markdown(self) -> str:
        lines = [
            f"### Smoke tests: `{self.baseline_label}` → `{self.candidate_label}`",
            "",
            self.headline()
            .replace(f"{self.baseline_label} (baseline) → {self.candidate_label} (candidate): ", "")
            .capitalize()
            + ".",
            "",
            f"| change | test | `{self.baseline_label}` | `{self.candidate_label}` | Δ rate |",
            "|---|---|---|---|---|",
        ]
        for row in self.rows:
            delta = f"{row.rate_delta:+.2f}" if row.rate_delta else ""
            lines.append(
                f"| {_CHANGE_MARKS[row.change]} | `{_escape(row.name)}` | "
                f"{_escape(cell(row.baseline))} | {_escape(cell(row.candidate))} | {delta} |"
            )
        confidence = {t.confidence for t in (*self.baseline.tests, *self.candidate.tests)}
        shown = ", ".join(f"{c:.0%}" for c in sorted(confidence))
        lines += [
            "",
            f"Verdicts at {shown} confidence; a cell reads verdict, passes/attempts counted "
            "(pass rate). Exit code follows the candidate.",
        ]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": COMPARISON_FORMAT_VERSION,
            "baseline": {"label": self.baseline_label, **to_json(self.baseline)},
            "candidate": {"label": self.candidate_label, **to_json(self.candidate)},
            "rows": [
                {
                    "name": row.name,
                    "change": row.change,
                    "rate_delta": round(row.rate_delta, 6),
                    "baseline": _side_json(row.baseline),
                    "candidate": _side_json(row.candidate),
                }
                for row in self.rows
            ],
            "exit_code": self.exit_code,
        }


def _side_json(test: TestResult | None) -> dict[str, Any] | None:
    if test is None:
        return None
    judgement = test.judgement
    return {
        "outcome": test.outcome,
        "verdict": test.verdict.value if test.verdict is not None else None,
        "passes": test.passes,
        "attempts_counted": len(test.counted),
        "rate": round(judgement.rate, 6) if judgement is not None else None,
        "flaky": test.flaky,
    }


def _escape(text: str) -> str:
    """Text for a markdown table cell: pipes escaped, no line breaks."""
    return text.replace("|", "\\|").replace("\n", " ")
