"""Smoke-test expectations: checks of one step's observed reply.

The runner turns a finished run into a ``Reply``; ``evaluate`` checks each expectation of the
step against it and returns a ``Check`` whose message says what was expected and what came
back, so a failing CI job explains itself without a rerun. Most checks are pure; ``rubric`` and
``similar`` ask the ``Judges`` they are given (a grader model, an embeddings endpoint), and
``any_of``, ``all_of`` and ``not`` combine any of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from assistctl.conversation import Reply, ToolCall
from assistctl.errors import SmokeTestError
from assistctl.grading import Embedder, Exchange, Grader, cosine

COMBINATORS = ("any_of", "all_of", "not")
GRADED = ("rubric", "similar")
KINDS = (
    "contains",
    "icontains",
    "not_contains",
    "equals",
    "regex",
    "json_schema",
    "tool_call",
    "no_tool_call",
    "cites",
    "status",
    "max_latency_s",
    "max_tokens",
    *GRADED,
    *COMBINATORS,
)
RUN_STATUSES = ("completed", "failed", "cancelled", "expired", "incomplete", "requires_action")
TRIM = 240
DEFAULT_SIMILARITY = 0.8
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Check:
    """The outcome of one expectation. ``message`` explains a failure (empty when passed)."""

    kind: str
    expected: Any
    passed: bool
    message: str = ""
    implicit: bool = False


@dataclass(frozen=True)
class Judges:
    """What graded expectations call: a grader model for ``rubric``, an embeddings endpoint
    for ``similar``; None where the suite has none (``check`` refuses such tests first)."""

    grader: Grader | None = None
    embedder: Embedder | None = None


NO_JUDGES = Judges()


def trimmed(text: str, limit: int = TRIM) -> str:
    """A reply shortened for a one-line message, quoted so empty and blank replies show."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return json.dumps(flat, ensure_ascii=False)


def describe_calls(calls: Sequence[ToolCall]) -> str:
    return ", ".join(str(c) for c in calls) if calls else "no tool calls"


def is_subset(expected: Any, actual: Any) -> bool:
    """``expected`` is contained in ``actual``: mappings by key (recursively), anything else by
    equality. Used for ``tool_call.arguments`` and the ``when`` of canned function outputs."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and is_subset(value, actual[key]) for key, value in expected.items()
        )
    return expected == actual and type(expected) is type(actual) or _same_number(expected, actual)


def _same_number(expected: Any, actual: Any) -> bool:
    numbers = (int, float)
    return (
        isinstance(expected, numbers)
        and isinstance(actual, numbers)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
        and expected == actual
    )


def split(expectation: Mapping[str, Any]) -> tuple[str, Any]:
    (kind, value), *_ = expectation.items()
    return kind, value


def problem(expectation: Any) -> tuple[FieldPath, str] | None:
    """Why an expectation can never be evaluated (bad regex, invalid JSON Schema, wrong value
    type), as ``(field path inside the expectation, phrase)``; None when it can. The one place
    expectations are validated: the manifest loader locates the phrase in the file, ``check``
    refuses a test built some other way. Combinators are checked all the way down."""
    if not isinstance(expectation, Mapping) or len(expectation) != 1:
        return (), f"an expectation is a mapping with exactly one of: {', '.join(KINDS)}"
    kind, value = split(expectation)
    if kind not in KINDS:
        return (), f"unknown expectation {kind!r}; use one of: {', '.join(KINDS)}"
    if kind in COMBINATORS:
        return _combinator_problem(kind, value)
    textual = ("contains", "icontains", "not_contains", "equals", "regex", "cites")
    if kind in textual and (not isinstance(value, str | int | float) or isinstance(value, bool)):
        return (kind,), "takes a string"
    if kind == "regex":
        try:
            re.compile(str(value))
        except re.error as exc:
            return (kind,), f"holds an invalid regular expression {value!r}: {exc}"
    elif kind == "json_schema":
        if not isinstance(value, Mapping | bool):
            return (kind,), "takes a JSON Schema (a mapping)"
        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            return (kind,), f"is not a valid JSON Schema: {exc.message}"
    elif kind == "tool_call":
        return _tool_call_problem(value)
    elif kind == "no_tool_call":
        if value is not True and not isinstance(value, str):
            return (kind,), "takes true or a tool name"
    elif kind == "status":
        if value not in RUN_STATUSES:
            return (kind,), f"takes one of: {', '.join(RUN_STATUSES)}"
    elif kind in ("max_latency_s", "max_tokens") and (
        not isinstance(value, int | float) or isinstance(value, bool) or value < 0
    ):
        return (kind,), "takes a number ≥ 0"
    elif kind == "rubric" and (not isinstance(value, str) or not value.strip()):
        return (kind,), "takes the criteria the reply must meet, as text"
    elif kind == "similar":
        return _similar_problem(value)
    return None


def _combinator_problem(kind: str, value: Any) -> tuple[FieldPath, str] | None:
    if kind == "not":
        if not isinstance(value, Mapping):
            return (kind,), "takes one expectation (a mapping with one key)"
        inner = problem(value)
        return None if inner is None else ((kind, *inner[0]), inner[1])
    if not isinstance(value, list) or not value:
        return (kind,), "takes a list of one or more expectations"
    for index, child in enumerate(value):
        inner = problem(child)
        if inner is not None:
            return (kind, index, *inner[0]), inner[1]
    return None


def _similar_problem(value: Any) -> tuple[FieldPath, str] | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("to"), str):
        return ("similar",), "takes {to: TEXT, threshold: NUMBER}"
    unknown = set(value) - {"to", "threshold"}
    if unknown:
        return ("similar",), f"has unknown key(s) {', '.join(sorted(unknown))}"
    threshold = value.get("threshold", DEFAULT_SIMILARITY)
    number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
    if not number or not -1 <= threshold <= 1:
        return ("similar", "threshold"), "takes a cosine similarity in [-1, 1]"
    return None


def _tool_call_problem(value: Any) -> tuple[FieldPath, str] | None:
    if isinstance(value, str) and value:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        return ("tool_call",), "takes a function name or {name, arguments, count}"
    unknown = set(value) - {"name", "arguments", "count"}
    if unknown:
        return ("tool_call",), f"has unknown key(s) {', '.join(sorted(unknown))}"
    if "arguments" in value and not isinstance(value["arguments"], Mapping):
        return ("tool_call", "arguments"), "takes a mapping"
    count = value.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return ("tool_call", "count"), "takes a whole number ≥ 0"
    return None


def leaves(
    expectation: Mapping[str, Any], path: FieldPath = ()
) -> Iterator[tuple[FieldPath, str, Any]]:
    """Every plain check inside an expectation, combinators opened, as ``(path to it, kind,
    value)``: what reference checks (functions, cited files) and grader needs look at."""
    kind, value = split(expectation)
    if kind == "not":
        yield from leaves(value, (*path, kind))
    elif kind in COMBINATORS:
        for index, child in enumerate(value):
            yield from leaves(child, (*path, kind, index))
    else:
        yield path, kind, value


def dotted(path: FieldPath) -> str:
    """``("any_of", 1, "regex")`` -> ``any_of[1].regex``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def check(expectation: Any, where: str, judges: Judges | None = None) -> None:
    """Refuse an expectation that can never be evaluated, before any conversation starts:
    an invalid one, or (when ``judges`` is given) a graded one the suite has no judge for.
    ``where`` locates it for the message."""
    found = problem(expectation)
    if found is not None:
        path, phrase = found
        raise SmokeTestError(f"{where}: {dotted(path) + ' ' if path else ''}{phrase}")
    if judges is None:
        return
    for path, kind, _ in leaves(expectation):
        missing = (kind == "rubric" and judges.grader is None) or (
            kind == "similar" and judges.embedder is None
        )
        if missing:
            raise SmokeTestError(
                f"{where}: {dotted((*path, kind))}: needs a grader account",
                hint="set spec.grader.account in the Stack, or pass --grader-account URL|openai",
            )


def evaluate_step(
    expectations: Iterable[Mapping[str, Any]],
    reply: Reply,
    *,
    user: str = "",
    judges: Judges = NO_JUDGES,
) -> tuple[Check, ...]:
    """Check every expectation of a step. A step without a ``status`` expectation also expects
    the run to complete: a failed run with a matching reply is still a failed step."""
    listed = list(expectations)
    checks = [evaluate(e, reply, user=user, judges=judges) for e in listed]
    if not any(split(e)[0] == "status" for e in listed):
        implicit = evaluate({"status": "completed"}, reply)
        checks.insert(0, Check(implicit.kind, "completed", implicit.passed, implicit.message, True))
    return tuple(checks)


def evaluate(
    expectation: Mapping[str, Any], reply: Reply, *, user: str = "", judges: Judges = NO_JUDGES
) -> Check:
    """One expectation's check. ``any_of`` stops at the first passing child and ``all_of`` at
    the first failing one, so a grader is not asked what cannot change the outcome."""
    kind, value = split(expectation)
    if kind == "not":
        inner = evaluate(value, reply, user=user, judges=judges)
        return _check(
            kind,
            value,
            not inner.passed,
            f"expected not ({describe(value)}), but it passed; got {trimmed(reply.text)}",
        )
    if kind == "any_of":
        failures = []
        for child in value:
            inner = evaluate(child, reply, user=user, judges=judges)
            if inner.passed:
                return _check(kind, value, True, "")
            failures.append(inner.message)
        numbered = "; ".join(f"({n}) {m}" for n, m in enumerate(failures, start=1))
        return _check(
            kind, value, False, f"expected any of {len(value)} checks to pass: {numbered}"
        )
    if kind == "all_of":
        for child in value:
            inner = evaluate(child, reply, user=user, judges=judges)
            if not inner.passed:
                return _check(kind, value, False, inner.message)
        return _check(kind, value, True, "")
    if kind == "rubric":
        return _rubric(value, reply, user, judges)
    if kind == "similar":
        return _similar(value, reply, judges)
    return _CHECKS[kind](value, reply)


def describe(expectation: Mapping[str, Any]) -> str:
    """An expectation in one line, as written: ``contains: 'refund'``."""
    kind, value = split(expectation)
    return f"{kind}: {json.dumps(value, ensure_ascii=False, default=str)}"


def _rubric(value: Any, reply: Reply, user: str, judges: Judges) -> Check:
    if judges.grader is None:
        raise SmokeTestError("a rubric expectation needs a grader account")
    grade = judges.grader.grade(str(value), Exchange(user, reply.text, reply.tool_calls))
    return _check(
        "rubric",
        value,
        grade.passed,
        f"expected the reply to meet the rubric {trimmed(str(value), 120)}; the grader said: "
        f"{grade.reason}; got {trimmed(reply.text)}",
    )


def _similar(value: Any, reply: Reply, judges: Judges) -> Check:
    if judges.embedder is None:
        raise SmokeTestError("a similar expectation needs an embeddings account")
    reference = str(value["to"])
    threshold = float(value.get("threshold", DEFAULT_SIMILARITY))
    reply_embedding, reference_embedding = judges.embedder.embed([reply.text, reference])
    similarity = cosine(reply_embedding, reference_embedding)
    return _check(
        "similar",
        value,
        similarity >= threshold,
        f"expected the reply to be similar to {trimmed(reference, 120)} (cosine ≥ "
        f"{threshold:g}); similarity {similarity:.3f}; got {trimmed(reply.text)}",
    )


def _check(kind: str, expected: Any, passed: bool, message: str) -> Check:
    return Check(kind, expected, passed, "" if passed else message)


def _contains(value: Any, reply: Reply) -> Check:
    needle = str(value)
    return _check(
        "contains",
        needle,
        needle in reply.text,
        f"expected the reply to contain {needle!r}; got {trimmed(reply.text)}",
    )


def _icontains(value: Any, reply: Reply) -> Check:
    needle = str(value)
    return _check(
        "icontains",
        needle,
        needle.casefold() in reply.text.casefold(),
        f"expected the reply to contain {needle!r} (any case); got {trimmed(reply.text)}",
    )


def _not_contains(value: Any, reply: Reply) -> Check:
    """Case-insensitive, unlike ``contains``: a word that must not appear must not appear in
    any case ("Refund" counts against ``not_contains: refund``)."""
    needle = str(value)
    return _check(
        "not_contains",
        needle,
        needle.casefold() not in reply.text.casefold(),
        f"expected the reply not to contain {needle!r} (any case); got {trimmed(reply.text)}",
    )


def _equals(value: Any, reply: Reply) -> Check:
    wanted = str(value)
    return _check(
        "equals",
        wanted,
        reply.text.strip() == wanted.strip(),
        f"expected the reply to equal {trimmed(wanted)}; got {trimmed(reply.text)}",
    )


def _regex(value: Any, reply: Reply) -> Check:
    pattern = str(value)
    return _check(
        "regex",
        pattern,
        re.search(pattern, reply.text) is not None,
        f"expected the reply to match /{pattern}/; got {trimmed(reply.text)}",
    )


_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*)\n```$", re.DOTALL)


def _json_schema(value: Any, reply: Reply) -> Check:
    text = reply.text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        document = json.loads(text)
    except ValueError as exc:
        return _check(
            "json_schema", value, False, f"expected a JSON reply ({exc}); got {trimmed(reply.text)}"
        )
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(value).iter_errors(document)
    )
    if error is None:
        return _check("json_schema", value, True, "")
    where = error.json_path
    return _check(
        "json_schema",
        value,
        False,
        f"expected the reply JSON to match the schema; at {where}: {error.message}; "
        f"got {trimmed(reply.text)}",
    )


def _tool_call(value: Any, reply: Reply) -> Check:
    spec = {"name": value} if isinstance(value, str) else dict(value)
    name = spec["name"]
    arguments = spec.get("arguments")
    count = spec.get("count")
    matching = [
        c
        for c in reply.tool_calls
        if c.name == name and (arguments is None or is_subset(arguments, c.arguments))
    ]
    passed = len(matching) == count if count is not None else bool(matching)
    calls = "a call" if count is None else f"{count} call{'s' if count != 1 else ''}"
    wanted = f"{calls} to {name}"
    if arguments is not None:
        wanted += f" with arguments {json.dumps(arguments, ensure_ascii=False)}"
    got = describe_calls(reply.tool_calls)
    if count is not None:
        got = f"{len(matching)} matching ({got})"
    return _check("tool_call", spec, passed, f"expected {wanted}; got {got}")


def _no_tool_call(value: Any, reply: Reply) -> Check:
    if value is True:
        return _check(
            "no_tool_call",
            value,
            not reply.tool_calls,
            f"expected no tool calls; got {describe_calls(reply.tool_calls)}",
        )
    offending = [c for c in reply.tool_calls if c.name == value]
    return _check(
        "no_tool_call",
        value,
        not offending,
        f"expected no call to {value}; got {describe_calls(offending)}",
    )


def _cites(value: Any, reply: Reply) -> Check:
    wanted = str(value)
    passed = any(
        wanted in (c.path, c.filename, c.file_id)
        or (c.path is not None and c.path.rsplit("/", 1)[-1] == wanted)
        for c in reply.citations
    )
    if reply.citations:
        got = "citations to " + ", ".join(sorted({c.label for c in reply.citations}))
    else:
        got = f"no citations in {trimmed(reply.text)}"
    return _check("cites", wanted, passed, f"expected a file_citation to {wanted}; got {got}")


def _status(value: Any, reply: Reply) -> Check:
    got = reply.status
    if reply.last_error:
        got += f" ({reply.last_error})"
    return _check(
        "status", value, reply.status == value, f"expected the run to end {value}; got {got}"
    )


def _max_latency_s(value: Any, reply: Reply) -> Check:
    return _check(
        "max_latency_s",
        value,
        reply.latency_s <= value,
        f"expected a reply within {value}s; took {reply.latency_s:.2f}s",
    )


def _max_tokens(value: Any, reply: Reply) -> Check:
    if not reply.usage or "total_tokens" not in reply.usage:
        return _check(
            "max_tokens", value, False, "expected a token count; the account reported no usage"
        )
    usage = reply.usage
    return _check(
        "max_tokens",
        value,
        usage["total_tokens"] <= value,
        f"expected at most {value} tokens; used {usage['total_tokens']} "
        f"(prompt {usage.get('prompt_tokens', '?')}, "
        f"completion {usage.get('completion_tokens', '?')})",
    )


_CHECKS = {
    "contains": _contains,
    "icontains": _icontains,
    "not_contains": _not_contains,
    "equals": _equals,
    "regex": _regex,
    "json_schema": _json_schema,
    "tool_call": _tool_call,
    "no_tool_call": _no_tool_call,
    "cites": _cites,
    "status": _status,
    "max_latency_s": _max_latency_s,
    "max_tokens": _max_tokens,
}
