"""Smoke-test reports: progress lines, the pytest-like summary, JSON, JUnit XML, transcripts.

Pure rendering of a ``SuiteResult`` (plus one small live-progress printer); nothing here talks
to the account. JUnit is built with ``xml.etree`` so the output is always well-formed XML that
CI systems (GitHub Actions, GitLab, Jenkins) can publish.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistctl.conversation import Reply
from assistctl.errors import AssistctlError
from assistctl.model import DesiredSmokeTest
from assistctl.smoketest.expectations import describe_calls, trimmed
from assistctl.smoketest.repeats import Repeat
from assistctl.smoketest.results import AttemptResult, StepResult, SuiteResult, TestResult
from assistctl.smoketest.verdicts import Verdict

JSON_FORMAT_VERSION = 2
OUTCOME_WORDS = {
    "passed": "PASSED",
    "failed": "FAILED",
    "inconclusive": "INCONCLUSIVE",
    "error": "ERROR",
    "cancelled": "CANCELLED",
}
OUTCOME_STYLES = {
    "passed": "green",
    "failed": "red",
    "inconclusive": "yellow",
    "error": "red",
    "cancelled": "dim",
}
VERDICT_WORDS = {Verdict.PASS: "PASS", Verdict.FAIL: "FAIL", Verdict.INCONCLUSIVE: "INCONCLUSIVE"}


# --- live progress --------------------------------------------------------------------------


def attempt_line(test: DesiredSmokeTest, attempt: AttemptResult) -> str:
    """One line per finished conversation: ``PASSED order-status [2/3] 1.24s`` (out of the
    most attempts the test may run)."""
    most = Repeat.of(test.spec).max_attempts
    line = f"{OUTCOME_WORDS[attempt.outcome]} {test.name} [{attempt.index}/{most}]"
    line += f" {attempt.duration_s:.2f}s"
    if attempt.outcome != "passed":
        line += f" - {attempt.first_problem}"
    return line


class Progress:
    """Prints ``attempt_line`` for each attempt the report will show, in the report's order
    (from worker threads, so locked); on a terminal a rich progress bar counts every
    conversation down underneath as it finishes."""

    def __init__(
        self,
        total: int,
        *,
        echo: Callable[[str], None],
        tty: bool,
        color: bool,
        prefix: str = "",
    ):
        self.total = total
        self.echo = echo
        self.prefix = prefix
        self.lock = threading.Lock()
        self.bar = None
        if tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            console = Console(stderr=False, no_color=not color, highlight=False)
            self.bar = RichProgress(
                TextColumn("testing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self.task = self.bar.add_task("conversations", total=total)

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def attempt_finished(self, test: DesiredSmokeTest, attempt: AttemptResult) -> None:
        """Any conversation that ended, in whatever order: the bar moves on."""
        if self.bar is not None:
            with self.lock:
                self.bar.advance(self.task)

    def attempt_reported(self, test: DesiredSmokeTest, attempt: AttemptResult) -> None:
        line = self.prefix + attempt_line(test, attempt)
        with self.lock:
            if self.bar is None:
                self.echo(line)
                return
            from rich.text import Text

            word = OUTCOME_WORDS[attempt.outcome]
            text = Text(line)
            start = len(self.prefix)
            text.stylize(OUTCOME_STYLES[attempt.outcome], start, start + len(word))
            self.bar.console.print(text)


# --- the human summary ----------------------------------------------------------------------


def interval_text(test: TestResult) -> str:
    """``rate 0.70, 97.8% interval 0.44–0.88``; empty before any attempt counted."""
    judgement = test.judgement
    if judgement is None:
        return ""
    interval = judgement.interval
    return (
        f"rate {judgement.rate:.2f}, {interval.confidence:.1%} interval "
        f"{interval.lower:.2f}–{interval.upper:.2f}"
    )


def rule_text(test: TestResult) -> str:
    """What decided: ``needs 2 of 3`` for the count rule; for a sequential repeat where the
    interval lies against ``pass_threshold`` and when it stopped."""
    repeat = test.repeat
    counted = len(test.counted)
    if not repeat.sequential:
        return f"needs {test.required} of {repeat.max_attempts}"
    placement = {
        Verdict.PASS: "at or above",
        Verdict.FAIL: "below",
        Verdict.INCONCLUSIVE: "straddling",
    }
    verdict = test.verdict
    where = f"{placement[verdict]} " if verdict is not None else "against "
    stopped = (
        f"decided at {counted} of max {repeat.max_attempts}"
        if test.stopped_early
        else f"all {repeat.max_attempts} attempts run"
    )
    return f"interval {where}pass_threshold {repeat.threshold:g}; {stopped}"


def verdict_of(test: TestResult) -> str:
    """One line on a test's outcome: for a single attempt its first problem; for a repeated
    test ``2/3 attempts passed (needs 2), rate 0.67, 95.0% interval 0.09–0.99`` and the first
    failing attempt's problem."""
    if not test.repeat.repeated:
        return test.attempts[0].first_problem if test.attempts else ""
    counted = len(test.counted)
    text = f"{test.passes}/{counted} attempts passed ({rule_text(test)})"
    if test.judgement is not None:
        text += f", {interval_text(test)}"
    if test.flaky:
        text += ", flaky"
    failing = next((a for a in test.attempts if a.outcome in ("failed", "error")), None)
    if failing is not None and test.outcome != "passed":
        text += f"; attempt {failing.index}: {failing.first_problem}"
    return text


def summary_line(suite: SuiteResult) -> str:
    """``12 passed, 1 failed, 1 inconclusive, 2 flaky in 8.3s`` (pytest's wording)."""
    counts = suite.counts()
    parts = [f"{counts['passed']} passed"] if counts["passed"] or not suite.tests else []
    if counts["failed"]:
        parts.append(f"{counts['failed']} failed")
    if counts["inconclusive"]:
        allowed = " (allowed)" if suite.allow_inconclusive else ""
        parts.append(f"{counts['inconclusive']} inconclusive{allowed}")
    if counts["error"]:
        parts.append(f"{counts['error']} error{'s' if counts['error'] != 1 else ''}")
    if suite.flaky:
        parts.append(f"{len(suite.flaky)} flaky")
    if suite.deselected:
        parts.append(f"{len(suite.deselected)} deselected")
    return f"{', '.join(parts)} in {suite.duration_s:.1f}s"


def verdict_lines(suite: SuiteResult) -> list[str]:
    """The verdict of every repeated test, aligned: verdict, name, passes, rate, interval,
    flakiness and the rule."""
    repeated = [t for t in suite.tests if t.repeat.repeated]
    if not repeated:
        return []
    rows = [
        (
            VERDICT_WORDS[t.verdict] if t.verdict is not None else "ERROR",
            t.name,
            f"{t.passes}/{len(t.counted)}",
            interval_text(t),
            "flaky" if t.flaky else "",
            f"{t.repeat.rule_name} {t.repeat.shown}: {rule_text(t)}",
        )
        for t in repeated
    ]
    shown = [c for c in range(len(rows[0])) if any(row[c] for row in rows)]  # no empty column
    widths = {c: max(len(row[c]) for row in rows) for c in shown[:-1]}
    lines = [_rule("verdicts")]
    for row in rows:
        cells = [row[c].ljust(widths[c]) if c in widths else row[c] for c in shown]
        lines.append("  ".join(cells).rstrip())
    return lines


def summary(suite: SuiteResult) -> str:
    """The verdicts of repeated tests, the failures explained, then the short summary and the
    count line."""
    lines = verdict_lines(suite)
    bad = [t for t in suite.tests if t.outcome != "passed"]
    if bad:
        lines.append(_rule("FAILURES"))
        for test in bad:
            lines.extend(_explain(test))
        lines.append(_rule("short test summary info"))
        for test in bad:
            lines.append(f"{OUTCOME_WORDS[test.outcome]} {test.name} - {verdict_of(test)}")
    for test in suite.tests:
        for attempt in test.attempts:
            if attempt.cleanup_error:
                lines.append(f"warning: {attempt.cleanup_error}")
    lines.append(summary_line(suite))
    return "\n".join(lines)


def _rule(title: str, width: int = 72) -> str:
    return f" {title} ".center(width, "=")


def _explain(test: TestResult) -> list[str]:
    header = f"{test.name} ({test.test.location}, assistant {test.test.assistant})"
    lines = [f" {header} ".center(72, "_") if len(header) < 64 else f"___ {header} ___"]
    repeated = test.repeat.repeated
    if repeated:
        lines.append(
            f"{test.passes}/{len(test.counted)} attempts passed, {rule_text(test)} "
            f"(repeat {test.repeat.shown}, pass_threshold {test.pass_threshold:g})"
        )
        if test.judgement is not None:
            lines.append(interval_text(test) + (", flaky" if test.flaky else ""))
    counted = {a.index for a in test.counted}
    for attempt in test.attempts:
        if attempt.outcome in ("passed", "cancelled"):
            continue
        if repeated:
            note = "" if attempt.index in counted or attempt.error else " (not counted)"
            lines.append(f"attempt {attempt.index}: {attempt.outcome}{note}")
        if attempt.error:
            lines.append(f"  error: {attempt.error}")
        for step in attempt.steps:
            if not step.passed:
                lines.extend(_explain_step(step))
        if attempt.error is None and _not_run(attempt):
            lines.append(f"  ({_not_run(attempt)})")
    return lines


def _explain_step(step: StepResult) -> list[str]:
    lines = [f"  step {step.index}: user: {trimmed(step.user, 120)}"]
    lines.extend(f"    ✗ {problem}" for problem in step.problems)
    reply = step.reply
    if reply is not None:
        lines.append(f"    run: {_run_summary(reply)}")
        lines.append(f"    reply: {trimmed(reply.text)}")
        lines.append(f"    tool calls: {describe_calls(reply.tool_calls)}")
        if reply.citations:
            cited = ", ".join(sorted({c.label for c in reply.citations}))
            lines.append(f"    citations: {cited}")
    return lines


def _run_summary(reply: Reply) -> str:
    text = f"{reply.status} in {reply.latency_s:.2f}s"
    if reply.usage and "total_tokens" in reply.usage:
        text += f", {reply.usage['total_tokens']} tokens"
    if reply.last_error:
        text += f" ({reply.last_error})"
    return text


# --- markdown -------------------------------------------------------------------------------


def render_markdown(suite: SuiteResult) -> str:
    """The suite's verdicts as a markdown table, for a pull-request comment or a job summary."""
    lines = [
        f"### Smoke tests: `{suite.owner}`",
        "",
        summary_line(suite) + ".",
        "",
        "| verdict | test | passed | rate and interval | first problem |",
        "|---|---|---|---|---|",
    ]
    for test in suite.tests:
        verdict = VERDICT_WORDS[test.verdict] if test.verdict is not None else "ERROR"
        flaky = " (flaky)" if test.flaky else ""
        failing = next((a for a in test.attempts if a.outcome in ("failed", "error")), None)
        problem = failing.first_problem if failing is not None else ""
        cells = (
            f"{verdict}{flaky}",
            f"`{test.name}`",
            f"{test.passes}/{len(test.counted)}",
            interval_text(test),
            trimmed(problem, 120)[1:-1] if problem else "",
        )
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_text(text: str, path: str | Path, what: str) -> None:
    _write(path, what, lambda target: target.write_text(text, encoding="utf-8"))


# --- JSON -----------------------------------------------------------------------------------


def to_json(suite: SuiteResult) -> dict[str, Any]:
    """Every test with its verdict, and every attempt, step and expectation, with latency and
    usage (attempts past a sequential test's verdict included, marked not counted)."""
    counts = suite.counts()
    return {
        "format_version": JSON_FORMAT_VERSION,
        "stack": suite.owner,
        "summary": {
            "passed": counts["passed"],
            "failed": counts["failed"],
            "inconclusive": counts["inconclusive"],
            "errors": counts["error"],
            "flaky": len(suite.flaky),
            "deselected": len(suite.deselected),
            "allow_inconclusive": suite.allow_inconclusive,
            "duration_s": round(suite.duration_s, 3),
            "exit_code": suite.exit_code,
        },
        "deselected": list(suite.deselected),
        "tests": [_test_json(t) for t in suite.tests],
    }


def write_json(suite: SuiteResult, path: str | Path) -> None:
    write_document(to_json(suite), path)


def write_document(document: Any, path: str | Path) -> None:
    """A JSON document, indented, to ``path``."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    _write(path, "the JSON report", lambda target: target.write_text(text, encoding="utf-8"))


def _test_json(test: TestResult) -> dict[str, Any]:
    judgement = test.judgement
    counted = {a.index for a in test.counted}
    return {
        "name": test.name,
        "assistant": test.test.assistant,
        "file": test.test.location.file,
        "line": test.test.location.line,
        "vars": dict(test.test.spec.get("vars") or {}),
        "outcome": test.outcome,
        "verdict": test.verdict.value if test.verdict is not None else None,
        "rule": test.repeat.rule_name,
        "repeat": test.repeat.as_json(),
        "pass_threshold": test.pass_threshold,
        "required_passes": test.required,
        "passes": test.passes,
        "attempts_counted": len(test.counted),
        "rate": round(judgement.rate, 6) if judgement is not None else None,
        "interval": {
            "lower": round(judgement.interval.lower, 6),
            "upper": round(judgement.interval.upper, 6),
            "confidence": round(judgement.interval.confidence, 6),
        }
        if judgement is not None
        else None,
        "confidence": test.confidence,
        "flaky": test.flaky,
        "stopped_early": test.stopped_early,
        "duration_s": round(test.duration_s, 3),
        "attempts": [_attempt_json(a, a.index in counted) for a in test.attempts],
    }


def _attempt_json(attempt: AttemptResult, counted: bool) -> dict[str, Any]:
    return {
        "index": attempt.index,
        "outcome": attempt.outcome,
        "counted": counted,
        "duration_s": round(attempt.duration_s, 3),
        "thread_id": attempt.thread_id,
        "error": attempt.error,
        "cleanup_error": attempt.cleanup_error,
        "steps_run": len(attempt.steps),
        "steps_total": attempt.total_steps,
        "steps": [_step_json(s) for s in attempt.steps],
    }


def _step_json(step: StepResult) -> dict[str, Any]:
    reply = step.reply
    return {
        "index": step.index,
        "user": step.user,
        "passed": step.passed,
        "failure": step.failure,
        "run_id": step.run_id,
        "status": reply.status if reply else None,
        "reply": reply.text if reply else None,
        "latency_s": round(reply.latency_s, 3) if reply else None,
        "usage": dict(reply.usage) if reply and reply.usage else None,
        "last_error": reply.last_error if reply else None,
        "tool_calls": [
            {"type": c.type, "name": c.name, "arguments": dict(c.arguments), "output": c.output}
            for c in (reply.tool_calls if reply else ())
        ],
        "citations": [
            {"file_id": c.file_id, "path": c.path, "filename": c.filename, "quote": c.quote}
            for c in (reply.citations if reply else ())
        ],
        "expectations": [
            {
                "kind": c.kind,
                "expected": c.expected,
                "passed": c.passed,
                "message": c.message,
                "implicit": c.implicit,
            }
            for c in step.checks
        ],
    }


# --- JUnit XML ------------------------------------------------------------------------------


_JUNIT_TAGS = {
    "failed": ("failure", "SmokeTestFailure"),
    "inconclusive": ("failure", "SmokeTestInconclusive"),
    "error": ("error", "SmokeTestError"),
}


def to_junit(suite: SuiteResult, *, timestamp: datetime.datetime | None = None) -> ET.Element:
    """``testsuites/testsuite/testcase`` with ``failure``/``error`` children: one testcase per
    SmokeTest (its attempts are detail, not separate cases, so repeat does not inflate counts).
    An inconclusive test is a failure of type ``SmokeTestInconclusive``, or ``skipped`` when
    ``--allow-inconclusive`` lets it through."""
    counts = suite.counts()
    allowed = counts["inconclusive"] if suite.allow_inconclusive else 0
    totals = {
        "tests": str(len(suite.tests)),
        "failures": str(counts["failed"] + counts["inconclusive"] - allowed),
        "errors": str(counts["error"]),
        "skipped": str(allowed),
        "time": f"{suite.duration_s:.3f}",
    }
    root = ET.Element("testsuites", {"name": "assistctl test", **totals})
    when = (timestamp or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    classname = "assistctl." + suite.owner.replace("/", ".")
    testsuite = ET.SubElement(root, "testsuite", {"name": classname, **totals, "timestamp": when})
    for test in suite.tests:
        case = ET.SubElement(
            testsuite,
            "testcase",
            {
                "name": test.name,
                "classname": classname,
                "time": f"{test.duration_s:.3f}",
                "file": test.test.location.file,
                "line": str(test.test.location.line),
            },
        )
        if test.outcome == "inconclusive" and suite.allow_inconclusive:
            ET.SubElement(
                case, "skipped", {"message": _xml_safe("inconclusive: " + verdict_of(test))}
            )
        elif test.outcome != "passed":
            tag, kind = _JUNIT_TAGS[test.outcome]
            element = ET.SubElement(
                case, tag, {"message": _xml_safe(verdict_of(test)), "type": kind}
            )
            element.text = _xml_safe("\n".join(_explain(test)))
        out = ET.SubElement(case, "system-out")
        lines = [attempt_line(test.test, a) for a in test.attempts]
        if test.repeat.repeated:
            verdict = VERDICT_WORDS[test.verdict] if test.verdict is not None else "ERROR"
            lines.append(f"verdict: {verdict} - {verdict_of(test)}")
        out.text = _xml_safe("\n".join(lines))
    return root


def write_junit(suite: SuiteResult, path: str | Path) -> None:
    tree = ET.ElementTree(to_junit(suite))
    ET.indent(tree)
    _write(path, "JUnit XML", lambda target: tree.write(target, "utf-8", xml_declaration=True))


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot carry most control characters, and a reply may contain any."""
    return _XML_INVALID.sub("\ufffd", text)


# --- transcripts ----------------------------------------------------------------------------


def transcript_name(test: str, index: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", test)
    return f"{safe}-{index}.md"


def transcript(test: TestResult, attempt: AttemptResult) -> str:
    """One conversation as readable markdown: every message, tool call, citation and check."""
    spec = test.test.spec
    lines = [
        f"# {test.name} — attempt {attempt.index} of {test.repeat.max_attempts}: {attempt.outcome}",
        "",
        f"- assistant: {test.test.assistant}",
        f"- test file: {test.test.location}",
        f"- thread: {attempt.thread_id or '(not created)'}",
        f"- duration: {attempt.duration_s:.2f}s",
    ]
    if attempt.error:
        lines.append(f"- error: {attempt.error}")
    if attempt.cleanup_error:
        lines.append(f"- cleanup: {attempt.cleanup_error}")
    steps_spec = list(spec.get("steps") or ())
    for step in attempt.steps:
        lines.extend(["", f"## Step {step.index}", ""])
        additional = steps_spec[step.index - 1].get("additional_instructions")
        if additional:
            lines.extend([f"*additional instructions:* {additional}", ""])
        lines.extend(["**user:**", "", _quote(step.user), ""])
        reply = step.reply
        if reply is not None:
            for call in reply.tool_calls:
                lines.append(f"**tool call:** `{call}`")
                if call.output is not None:
                    lines.append(f"  → output: `{call.output}`")
            if reply.tool_calls:
                lines.append("")
            lines.extend(["**assistant:**", "", _quote(reply.text or "(no reply)"), ""])
            for citation in reply.citations:
                lines.append(f"- cites {citation.label} ({citation.file_id}): {citation.quote}")
            lines.append(f"- run {step.run_id}: {_run_summary(reply)}")
        if step.failure:
            lines.append(f"- ✗ {step.failure}")
        for check in step.checks:
            mark = "✓" if check.passed else "✗"
            shown = json.dumps(check.expected, ensure_ascii=False, default=str)
            implicit = " (implicit)" if check.implicit else ""
            lines.append(f"- {mark} {check.kind}: {shown}{implicit}")
            if not check.passed:
                lines.append(f"  {check.message}")
    if _not_run(attempt):
        lines.extend(["", f"({_not_run(attempt)})"])
    return "\n".join(lines) + "\n"


def _not_run(attempt: AttemptResult) -> str:
    """``2 later steps not run`` (or ``1 step not run`` when none ran), or empty."""
    missing = attempt.total_steps - len(attempt.steps)
    if not missing:
        return ""
    later = "later " if attempt.steps else ""
    return f"{missing} {later}step{'s' if missing != 1 else ''} not run"


def _text_writer(text: str) -> Callable[[Path], object]:
    return lambda path: path.write_text(text, encoding="utf-8")


def write_transcripts(suite: SuiteResult, directory: str | Path) -> list[Path]:
    target = Path(directory)
    _write(target, "transcripts", lambda _: target.mkdir(exist_ok=True))
    written = []
    for test in suite.tests:
        for attempt in test.attempts:
            text = transcript(test, attempt)
            path = target / transcript_name(test.name, attempt.index)
            written.append(_write(path, "a transcript", _text_writer(text)))
    return written


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def _write(path: str | Path, what: str, write: Callable[[Path], object]) -> Path:
    """Create the parent directories and write; a path that cannot be written is the user's
    to fix, so it is an error naming it, not a traceback."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write(target)
    except OSError as exc:
        raise AssistctlError(f"cannot write {what} to {target}: {exc.strerror or exc}") from exc
    return target
