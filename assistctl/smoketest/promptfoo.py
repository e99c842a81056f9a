"""``assistctl test --export promptfoo``: a suite as a promptfoo configuration.

Each test (each matrix case) becomes a promptfoo test of one prompt, ``{{message}}``, sent to
an ``openai:assistant:asst_…`` provider pointed at the account's base URL; canned function
outputs become the provider's ``functionToolCallbacks``. promptfoo's assistant provider answers
with blocks (``[Assistant] …``, ``[Call function NAME with arguments …]``, ``[Function output:
…]``, ``[Ran file search]``), so checks on the reply read the assistant's blocks through a
``transform`` and checks on tool calls parse the call blocks in a ``javascript`` assertion.

What promptfoo cannot express is listed at the top of the file instead of being dropped
silently: multi-step conversations (the provider runs one message per thread), verdict
statistics (``repeat``, ``pass_threshold``), citations (the provider leaves them out of its
output), run statuses other than ``completed``, Python-only regular expressions, and
combinators promptfoo's one-level ``assert-set`` cannot hold.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from assistctl.errors import SmokeTestError
from assistctl.grading import GraderSettings
from assistctl.model import DesiredSmokeTest
from assistctl.smoketest import expectations
from assistctl.smoketest.repeats import Repeat

DEFAULT_OUTPUT = "promptfooconfig.yaml"
PROMPT = "{{message}}"
OPENAI_BASE_URL = "https://api.openai.com/v1"
ACCOUNT_KEY_ENV = "ASSISTCTL_API_KEY"
DEFAULT_TIMEOUT_S = 60

# The assistant's reply: the provider's ``[Assistant] `` blocks, joined as assistctl joins
# the messages of a run.
REPLY = (
    r"output.split(/\n\n(?=\[(?:Assistant|User|Call function |Function output: "
    r"|Ran file search\]|Code interpreter (?:input|output)\]|Unknown ))/)"
    r".filter((block) => block.startsWith('[Assistant] '))"
    r".map((block) => block.slice(12)).join('\n\n')"
)
# The same, with one fenced ```json block unwrapped, as the json_schema check does.
REPLY_UNFENCED = (
    "(() => { const text = (" + REPLY + ").trim(); "
    r"const fenced = text.match(/^```[A-Za-z0-9_-]*\s*\n([\s\S]*)\n```$/); "
    "return fenced ? fenced[1].trim() : text; })()"
)
# Arguments match as in assistctl: mappings by key, recursively; anything else by equality.
SUBSET_JS = (
    "const subset = (expected, actual) => {\n"
    "  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {\n"
    "    return actual !== null && typeof actual === 'object' && !Array.isArray(actual)\n"
    "      && Object.keys(expected).every((key) => key in actual"
    " && subset(expected[key], actual[key]));\n"
    "  }\n"
    "  return JSON.stringify(expected) === JSON.stringify(actual);\n"
    "};\n"
)
CALLS_JS = (
    "const calls = [];\n"
    r"const called = /\[Call function (\S+) with arguments ([\s\S]*?)\]\n\n\[Function output: /g;"
    "\n"
    "for (const match of output.matchAll(called)) {\n"
    "  let parsed;\n"
    "  try { parsed = JSON.parse(match[2]); } catch (error) { parsed = { _raw: match[2] }; }\n"
    "  calls.push({ name: match[1], arguments: parsed });\n"
    "}\n"
    r"for (const _ of output.matchAll(/\[Ran file search\]/g))"
    " calls.push({ name: 'file_search', arguments: {} });\n"
    r"for (const _ of output.matchAll(/\[Code interpreter input\]/g))"
    " calls.push({ name: 'code_interpreter', arguments: {} });\n"
)
# Regular-expression syntax Python has and JavaScript does not.
PYTHON_ONLY_REGEX = re.compile(r"\(\?P[<=]|\\[AZ]|\(\?[aiLmsux-]+\)|\(\?#|\(\?>|[*+?}]\+")
# Where nunjucks, which promptfoo renders assertion values with, would see a template.
NUNJUCKS = re.compile(r"\{[{%#]")


class Unmappable(Exception):
    """An expectation promptfoo has no equivalent for; the message says why."""


@dataclass(frozen=True)
class Unmapped:
    """Something of the suite the configuration leaves out, and why."""

    test: str
    what: str
    why: str

    def __str__(self) -> str:
        return f"{self.test}: {self.what} — {self.why}"


@dataclass(frozen=True)
class Export:
    """The configuration, and what it could not hold."""

    config: Mapping[str, Any]
    unmapped: tuple[Unmapped, ...]
    stack: str

    @property
    def exported(self) -> int:
        return len(self.config["tests"])

    @property
    def text(self) -> str:
        header = [
            f"# promptfoo configuration of the smoke tests of stack {self.stack}, written by "
            "`assistctl test --export promptfoo`.",
            "# Run it with: npx promptfoo@latest eval -c <this file> --no-cache",
            f"# The assistant provider reads its key from {ACCOUNT_KEY_ENV}, else OPENAI_API_KEY.",
        ]
        if self.unmapped:
            header += ["#", "# Not exported (promptfoo has no equivalent):"]
            header += [f"#   {item}" for item in self.unmapped]
        body = yaml.dump(
            dict(self.config),
            Dumper=_BlockDumper,
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
        return "\n".join(header) + "\n" + body

    def headline(self, target: str) -> str:
        text = f"Wrote {target}: {self.exported} test{'s' if self.exported != 1 else ''}"
        text += f" of stack {self.stack} for promptfoo"
        if self.unmapped:
            count = len(self.unmapped)
            text += f"; {count} thing{'s' if count != 1 else ''} not exported (listed in the file)"
        return text + "."

    def unmapped_lines(self) -> list[str]:
        return [f"not exported: {item}" for item in self.unmapped]


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (JavaScript) as literal blocks, so the file reads like code."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text and not text.endswith((" ", "\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _represent_text)


def account_base_url(kind: str, label: str, environ: Mapping[str, str] | None = None) -> str:
    """The base URL promptfoo should call for the account: an ``http(s)://…/v1`` account as
    given; OpenAI's (or ``OPENAI_BASE_URL``). The embedded ``local`` account lives only as long
    as the command that starts it, so it cannot be exported; serve it first."""
    if kind == "url":
        return label
    if kind == "openai":
        return (os.environ if environ is None else environ).get("OPENAI_BASE_URL") or (
            OPENAI_BASE_URL
        )
    raise SmokeTestError(
        "--export promptfoo needs an account promptfoo can reach after assistctl exits; "
        "the embedded local account stops with this command",
        hint="serve it with `assistctl local serve --data .assistctl` and export with "
        "--account http://127.0.0.1:8080/v1",
    )


def export(
    tests: Sequence[DesiredSmokeTest],
    assistant_ids: Mapping[str, str],
    *,
    base_url: str,
    grader: GraderSettings,
    stack: str,
) -> Export:
    """The promptfoo configuration of ``tests`` (already expanded into matrix cases), each
    sent to the deployed assistant ``assistant_ids[test.name]``."""
    unmapped: list[Unmapped] = []
    providers: dict[str, dict[str, Any]] = {}
    exported: list[dict[str, Any]] = []
    graded = False
    for test in tests:
        steps = list(test.spec.get("steps") or ())
        if len(steps) != 1:
            unmapped.append(
                Unmapped(
                    test.name,
                    f"the whole test ({len(steps)} steps)",
                    "promptfoo's assistant provider starts a new thread for every prompt, so "
                    "only one-step conversations can be exported",
                )
            )
            continue
        unmapped.extend(_test_notes(test))
        step = steps[0]
        provider = _provider(test, assistant_ids[test.name], base_url, providers)
        asserts: list[dict[str, Any]] = []
        for index, expectation in enumerate(step.get("expect") or ()):
            try:
                mapped = assertion(expectation, grader)
            except Unmappable as exc:
                where = f"step 1, expect[{index}] {expectations.describe(expectation)}"
                unmapped.append(Unmapped(test.name, where, str(exc)))
                continue
            if mapped is not None:
                graded = graded or _grades(mapped)
                asserts.append(mapped)
        exported.append(
            {
                "description": test.name,
                "providers": [provider],
                "vars": {"message": str(step["user"])},
                "assert": asserts,
                "metadata": {"assistctl_test": test.name, "source": str(test.location)},
            }
        )
    config: dict[str, Any] = {
        "description": f"assistctl smoke tests of {stack}",
        "prompts": [PROMPT],
        "providers": list(providers.values()),
        "evaluateOptions": {"cache": False},
        "tests": exported,
    }
    if graded and grader.account is not None:
        config["defaultTest"] = {"options": {"provider": _grading_providers(grader)}}
    return Export(config=config, unmapped=tuple(unmapped), stack=stack)


def _test_notes(test: DesiredSmokeTest) -> list[Unmapped]:
    """What of a one-step test's settings promptfoo leaves out."""
    notes = []
    spec = test.spec
    repeat = Repeat.of(spec)
    if repeat.repeated or repeat.threshold < 1:
        notes.append(
            Unmapped(
                test.name,
                f"repeat {repeat.shown} at pass_threshold {repeat.threshold:g}",
                "promptfoo runs each test once and has no pass-rate verdict "
                "(`promptfoo eval --repeat N` repeats without one)",
            )
        )
    step = spec["steps"][0]
    if step.get("additional_instructions"):
        notes.append(
            Unmapped(
                test.name,
                "step 1 additional_instructions",
                "the assistant provider can only replace the instructions, not add to them",
            )
        )
    if float(spec.get("timeout_s", DEFAULT_TIMEOUT_S)) != DEFAULT_TIMEOUT_S:
        notes.append(
            Unmapped(
                test.name,
                f"timeout_s {spec['timeout_s']}",
                "set PROMPTFOO_REQUEST_TIMEOUT_MS",
            )
        )
    if str(step["user"]).lstrip().startswith(("[", "{")):
        notes.append(
            Unmapped(
                test.name,
                "step 1 user message",
                "promptfoo reads a prompt that looks like JSON as a list of chat messages",
            )
        )
    return notes


def _provider(
    test: DesiredSmokeTest,
    assistant_id: str,
    base_url: str,
    providers: dict[str, dict[str, Any]],
) -> str:
    """The label of the provider for this test's assistant and canned outputs (one provider
    per distinct pair: promptfoo's callbacks belong to the provider, not the test)."""
    functions = test.spec.get("functions") or {}
    config: dict[str, Any] = {"apiBaseUrl": base_url}
    if not base_url.startswith(OPENAI_BASE_URL):
        config["apiKeyEnvar"] = ACCOUNT_KEY_ENV
    if functions:
        config["functionToolCallbacks"] = {
            name: _callback(name, entries) for name, entries in functions.items()
        }
    for label, existing in providers.items():
        if existing["id"] == f"openai:assistant:{assistant_id}" and existing["config"] == config:
            return label
    label = test.assistant
    number = 2
    while label in providers:
        label = f"{test.assistant}-{number}"
        number += 1
    providers[label] = {"id": f"openai:assistant:{assistant_id}", "label": label, "config": config}
    return label


def _callback(name: str, entries: Sequence[Mapping[str, Any]]) -> str:
    """A function callback answering like assistctl's canned outputs: the first entry whose
    ``when`` is a subset of the arguments; strings as they are, anything else as JSON."""
    missing = f"no canned output of {name} matches these arguments"
    canned = [
        {
            "when": entry.get("when"),
            "output": entry.get("output", "")
            if isinstance(entry.get("output", ""), str)
            else json.dumps(entry["output"], ensure_ascii=False),
        }
        for entry in entries
    ]
    return (
        "(args) => {\n"
        + _indent(SUBSET_JS)
        + f"  const canned = {json.dumps(canned, ensure_ascii=False)};\n"
        + "  for (const entry of canned) {\n"
        + "    if (entry.when === null || subset(entry.when, args)) return entry.output;\n"
        + "  }\n"
        + f"  throw new Error({json.dumps(missing)});\n"
        + "}"
    )


def _indent(code: str) -> str:
    return "".join(f"  {line}\n" for line in code.splitlines())


def _grades(mapped: Mapping[str, Any]) -> bool:
    kind = str(mapped.get("type", ""))
    if kind == "assert-set":
        return any(_grades(child) for child in mapped["assert"])
    return kind.removeprefix("not-") in ("llm-rubric", "similar")


def _grading_providers(grader: GraderSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "apiBaseUrl": OPENAI_BASE_URL if grader.account == "openai" else grader.account,
        "apiKeyEnvar": grader.key_variable,
    }
    text_config = dict(config)
    if grader.temperature is not None:
        text_config["temperature"] = grader.temperature
    endpoint = "responses" if grader.api == "responses" else "chat"
    return {
        "text": {"id": f"openai:{endpoint}:{grader.model}", "config": text_config},
        "embedding": {"id": f"openai:embeddings:{grader.embeddings_model}", "config": config},
    }


# --- expectations -> assertions -------------------------------------------------------------


def assertion(expectation: Mapping[str, Any], grader: GraderSettings) -> dict[str, Any] | None:
    """The promptfoo assertion for one expectation; None for ``status: completed``, which
    promptfoo checks by itself (a run that does not complete is an error there). Raises
    ``Unmappable`` with the reason for the rest."""
    kind, value = expectations.split(expectation)
    if kind == "status":
        if value == "completed":
            return None
        raise Unmappable(
            "promptfoo's assistant provider turns a run that does not complete into an error"
        )
    if kind == "any_of" or kind == "all_of":
        return _assert_set(kind, value, grader)
    if kind == "not":
        return _negated(value, grader)
    return _leaf(kind, value, grader)


def _leaf(kind: str, value: Any, grader: GraderSettings) -> dict[str, Any]:
    if kind in ("contains", "icontains", "not_contains"):
        promptfoo_kind = {"not_contains": "not-icontains"}.get(kind, kind)
        return {"type": promptfoo_kind, "value": _text(value), "transform": REPLY}
    if kind == "equals":
        return {
            "type": "equals",
            "value": _text(str(value).strip()),
            "transform": f"({REPLY}).trim()",
        }
    if kind == "regex":
        if PYTHON_ONLY_REGEX.search(str(value)):
            raise Unmappable(
                "the pattern uses Python-only syntax JavaScript regular expressions lack"
            )
        return {"type": "regex", "value": _text(value), "transform": REPLY}
    if kind == "json_schema":
        return {"type": "is-json", "value": value, "transform": REPLY_UNFENCED}
    if kind == "tool_call":
        return {"type": "javascript", "value": _tool_call_js(value)}
    if kind == "no_tool_call":
        name = None if value is True else str(value)
        check = (
            "calls.length === 0"
            if name is None
            else f"!calls.some((c) => c.name === {json.dumps(name)})"
        )
        return {"type": "javascript", "value": CALLS_JS + f"return {check};"}
    if kind == "cites":
        raise Unmappable("promptfoo's assistant provider leaves file citations out of its output")
    if kind == "max_latency_s":
        return {"type": "latency", "threshold": round(float(value) * 1000)}
    if kind == "max_tokens":
        return {
            "type": "javascript",
            "value": f"(context.providerResponse?.tokenUsage?.total ?? Infinity) <= {value}",
        }
    if kind in expectations.GRADED and grader.account is None:
        raise Unmappable("no grader account is configured (spec.grader or --grader-account)")
    if kind == "rubric":
        return {"type": "llm-rubric", "value": _text(value), "transform": REPLY}
    if kind == "similar":
        threshold = float(value.get("threshold", expectations.DEFAULT_SIMILARITY))
        return {
            "type": "similar",
            "value": _text(value["to"]),
            "threshold": threshold,
            "transform": REPLY,
        }
    raise Unmappable(f"{kind} has no promptfoo equivalent")


def _tool_call_js(value: Any) -> str:
    spec = {"name": value} if isinstance(value, str) else dict(value)
    arguments = spec.get("arguments")
    count = spec.get("count")
    matching = (
        f"calls.filter((c) => c.name === {json.dumps(spec['name'])}"
        + (
            f" && subset({json.dumps(arguments, ensure_ascii=False)}, c.arguments)"
            if arguments is not None
            else ""
        )
        + ")"
    )
    outcome = f"matching.length === {count}" if count is not None else "matching.length > 0"
    return SUBSET_JS + CALLS_JS + f"const matching = {matching};\nreturn {outcome};"


def _negated(inner: Mapping[str, Any], grader: GraderSettings) -> dict[str, Any]:
    kind, value = expectations.split(inner)
    if kind in expectations.COMBINATORS or kind == "status":
        raise Unmappable("promptfoo negates single assertions only")
    mapped = _leaf(kind, value, grader)
    if mapped["type"] == "javascript":
        return {**mapped, "value": _negated_javascript(str(mapped["value"]))}
    promptfoo_kind = str(mapped["type"])
    flipped = (
        promptfoo_kind.removeprefix("not-")
        if promptfoo_kind.startswith("not-")
        else f"not-{promptfoo_kind}"
    )
    return {**mapped, "type": flipped}


def _negated_javascript(code: str) -> str:
    """promptfoo runs one line as an expression and several as a function body: negate the
    expression, or the body's final ``return``."""
    if "\n" not in code:
        return f"!({code})"
    body, _, last = code.rpartition("\nreturn ")
    return f"{body}\nreturn !({last.rstrip().removesuffix(';')});"


def _assert_set(
    kind: str, children: Sequence[Mapping[str, Any]], grader: GraderSettings
) -> dict[str, Any]:
    """``all_of``/``any_of`` as an ``assert-set`` (promptfoo allows one level). ``any_of``
    passes at a score of 1/n, exact only when every child scores 0 or 1, which graded ones do
    not."""
    mapped = []
    for child in children:
        child_kind, _ = expectations.split(child)
        if child_kind in ("any_of", "all_of"):
            raise Unmappable("promptfoo's assert-set cannot hold another one")
        one = assertion(child, grader)
        if one is None:
            continue
        if kind == "any_of" and _grades(one):
            raise Unmappable(
                "promptfoo scores graded checks between 0 and 1, so any_of over them "
                "cannot be exact"
            )
        mapped.append(one)
    result: dict[str, Any] = {"type": "assert-set", "assert": mapped}
    if kind == "any_of":
        result["threshold"] = 1 / len(mapped)
    return result


def _text(value: Any) -> str:
    """A value promptfoo renders with nunjucks, kept literal."""
    text = str(value)
    return "{% raw %}" + text + "{% endraw %}" if NUNJUCKS.search(text) else text
