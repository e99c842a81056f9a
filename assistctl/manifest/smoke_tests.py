"""SmokeTest documents -> ``DesiredSmokeTest``s: what a schema cannot check about a test.

A test must name an Assistant of the stack; canned ``functions`` and ``tool_call``
expectations must name its functions; ``cites`` must name a file of its vector store; every
``{{placeholder}}`` must name a variable; a sequential ``repeat`` must be able to reach PASS.
Each expectation is validated by ``expectations.problem``, the one place that knows them. A
document with a ``matrix`` becomes one test per case (``variables``), each checked as built.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from assistctl.kinds.assistant import AssistantSpec, FunctionTool
from assistctl.kinds.vector_store import VectorStoreSpec
from assistctl.manifest.documents import Document, FieldPath, ProblemLog
from assistctl.model import Address, DesiredResource, DesiredSmokeTest, Location
from assistctl.smoketest import expectations, variables
from assistctl.smoketest.repeats import Repeat
from assistctl.smoketest.verdicts import DEFAULT_CONFIDENCE

BUILTIN_TOOLS = ("file_search", "code_interpreter")
SMOKE_TEST_DEFAULTS = {"repeat": 1, "pass_threshold": 1.0, "timeout_s": 60, "functions": {}}


def suggestion(name: str, candidates: set[str], what: str) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    if candidates:
        return f"known {what} names: " + ", ".join(sorted(candidates))
    return f"no {what} is defined"


class SmokeTestBuilder:
    """Builds the tests of one load against the stack's resources (``resources``), or against
    nothing when ``has_manifests`` is false (a test file validated on its own)."""

    def __init__(
        self,
        log: ProblemLog,
        resources: Mapping[str, DesiredResource],
        has_manifests: bool,
        incomplete: set[tuple[str | None, str | None]],
    ) -> None:
        self.log = log
        self.resources = resources
        self.has_manifests = has_manifests
        self.incomplete = incomplete

    def build(self, doc: Document) -> list[DesiredSmokeTest]:
        """The document's tests: one per matrix case (itself alone without a matrix)."""
        spec = doc.spec
        name = str(doc.name)
        assistant_name = spec["assistant"]
        found = self.resources.get(Address("assistant", assistant_name))
        has_manifests = self.has_manifests and ("Assistant", assistant_name) not in self.incomplete
        if has_manifests and found is None:
            declared = {a.name for a in self.resources.values() if a.address.kind == "assistant"}
            self.log.report(
                doc,
                ("spec", "assistant"),
                f"no Assistant named '{assistant_name}' in this stack",
                hint=suggestion(assistant_name, declared, "Assistant"),
            )
        assistant = found.spec if found is not None else None
        self._check_repeat(doc)
        full = {**SMOKE_TEST_DEFAULTS, **spec}
        full["steps"] = [{**step, "expect": step.get("expect", [])} for step in spec["steps"]]
        seen: set[tuple[FieldPath, str]] = set()
        built: list[DesiredSmokeTest] = []
        for case in variables.cases(name, full):
            for missing in variables.undefined(full, case.variables):
                self._report_once(
                    doc,
                    seen,
                    ("spec", *missing.path),
                    f"undefined variable '{missing.name}'",
                    hint="define it under spec.vars or in every case of spec.matrix",
                )
            case_spec = variables.fill(full, case)
            checked = assistant if isinstance(assistant, AssistantSpec) else None
            self._check_steps(doc, checked, case_spec, seen)
            if any(t.name == case.name for t in built):
                self._report_once(
                    doc,
                    seen,
                    ("spec", "matrix"),
                    f"two cases are both named '{case.name}'",
                    hint="give each case different values",
                )
                continue
            location = Location(doc.display, doc.line)
            built.append(DesiredSmokeTest(case.name, assistant_name, case_spec, location))
        return built

    def _report_once(
        self,
        doc: Document,
        seen: set[tuple[FieldPath, str]],
        path: FieldPath,
        message: str,
        hint: str | None = None,
    ) -> None:
        """Report a problem once, however many matrix cases share it."""
        if (path, message) not in seen:
            seen.add((path, message))
            self.log.report(doc, path, message, hint=hint)

    def _check_repeat(self, doc: Document) -> None:
        """A sequential ``repeat`` must be able to decide: ``min`` ≤ ``max``, and a ``max``
        that some run of passes turns into PASS at the default confidence (``test`` checks
        again at its ``--confidence``)."""
        found = Repeat.of(doc.spec).problem(DEFAULT_CONFIDENCE)
        if found is not None:
            path, phrase = found
            hint = (
                "raise repeat.max or lower pass_threshold; the README lists the max each "
                "threshold needs"
                if path[-1] == "max"
                else None
            )
            self.log.report(doc, ("spec", *path), phrase, hint=hint)

    def _cited_files(self, assistant: AssistantSpec) -> set[str] | None:
        """The paths the assistant's vector stores hold; None when one is not declared."""
        cited: set[str] = set()
        for store_name in assistant.vector_stores:
            store = self.resources.get(Address("vector_store", store_name))
            if store is None or not isinstance(store.spec, VectorStoreSpec):
                return None
            cited.update(store.spec.files)
        return cited

    def _check_steps(
        self,
        doc: Document,
        assistant: AssistantSpec | None,
        spec: Mapping[str, Any],
        seen: set[tuple[FieldPath, str]],
    ) -> None:
        functions = (
            {t.name for t in assistant.tools if isinstance(t, FunctionTool)}
            if assistant is not None
            else None
        )
        builtins = (
            {t.type for t in assistant.tools if not isinstance(t, FunctionTool)}
            if assistant is not None
            else set()
        )
        cited = self._cited_files(assistant) if assistant is not None else None
        label = spec.get("assistant")
        if functions is not None:
            for name in spec.get("functions", {}):
                if name not in functions:
                    self._report_once(
                        doc,
                        seen,
                        ("spec", "functions", name),
                        f"assistant '{label}' has no function '{name}'",
                        hint=suggestion(name, functions, "function"),
                    )
        for step_index, step in enumerate(spec["steps"]):
            for index, expectation in enumerate(step.get("expect", [])):
                where: FieldPath = ("spec", "steps", step_index, "expect", index)
                found = expectations.problem(expectation)
                if found is not None:
                    path, phrase = found
                    self._report_once(doc, seen, where + path, phrase)
                    continue
                for path, check, value in expectations.leaves(expectation):
                    if check == "tool_call" and functions is not None:
                        self._check_tool_call(
                            doc, seen, where + path, value, (functions, builtins), label
                        )
                    elif check == "cites" and cited is not None:
                        self._check_cites(doc, seen, where + path, str(value), cited)

    def _check_tool_call(
        self,
        doc: Document,
        seen: set[tuple[FieldPath, str]],
        where: FieldPath,
        value: Any,
        tools: tuple[set[str], set[str]],
        label: Any,
    ) -> None:
        """A ``tool_call`` names one of the assistant's functions, or a built-in tool it has
        (``file_search``, ``code_interpreter``)."""
        functions, builtins = tools
        name = value if isinstance(value, str) else value["name"]
        if name in functions or name in builtins:
            return
        field = where + (("tool_call",) if isinstance(value, str) else ("tool_call", "name"))
        if name in BUILTIN_TOOLS:
            self._report_once(doc, seen, field, f"assistant '{label}' has no {name} tool")
            return
        self._report_once(
            doc,
            seen,
            field,
            f"assistant '{label}' has no function '{name}'",
            hint=suggestion(name, functions, "function"),
        )

    def _check_cites(
        self,
        doc: Document,
        seen: set[tuple[FieldPath, str]],
        where: FieldPath,
        value: str,
        cited: set[str],
    ) -> None:
        basenames = {p.rsplit("/", 1)[-1] for p in cited}
        if value in cited or value in basenames or value.startswith("file-"):
            return
        self._report_once(
            doc,
            seen,
            where + ("cites",),
            f"'{value}' is not a file of the assistant's vector store",
            hint=suggestion(value, cited, "file")
            if cited
            else "the assistant has no file_search vector store",
        )
