"""SmokeTest documents -> ``DesiredSmokeTest``: what a schema cannot check about a test.

A test must name an Assistant of the stack; canned ``functions`` and ``tool_call``
expectations must name its functions; ``cites`` must name a file of its vector store. Each
expectation is validated by ``expectations.problem``, the one place that knows them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from assistctl.kinds.assistant import AssistantSpec, FunctionTool
from assistctl.kinds.vector_store import VectorStoreSpec
from assistctl.manifest.documents import Document, FieldPath, ProblemLog
from assistctl.model import Address, DesiredResource, DesiredSmokeTest, Location
from assistctl.smoketest import expectations

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

    def build(self, doc: Document) -> DesiredSmokeTest:
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
        self._check_steps(doc, assistant if isinstance(assistant, AssistantSpec) else None)
        full = {**SMOKE_TEST_DEFAULTS, **spec}
        full["steps"] = [{**step, "expect": step.get("expect", [])} for step in spec["steps"]]
        return DesiredSmokeTest(name, assistant_name, full, Location(doc.display, doc.line))

    def _cited_files(self, assistant: AssistantSpec) -> set[str] | None:
        """The paths the assistant's vector stores hold; None when one is not declared."""
        cited: set[str] = set()
        for store_name in assistant.vector_stores:
            store = self.resources.get(Address("vector_store", store_name))
            if store is None or not isinstance(store.spec, VectorStoreSpec):
                return None
            cited.update(store.spec.files)
        return cited

    def _check_steps(self, doc: Document, assistant: AssistantSpec | None) -> None:
        functions = (
            {t.name for t in assistant.tools if isinstance(t, FunctionTool)}
            if assistant is not None
            else None
        )
        cited = self._cited_files(assistant) if assistant is not None else None
        label = doc.spec.get("assistant")
        if functions is not None:
            for name in doc.spec.get("functions", {}):
                if name not in functions:
                    self.log.report(
                        doc,
                        ("spec", "functions", name),
                        f"assistant '{label}' has no function '{name}'",
                        hint=suggestion(name, functions, "function"),
                    )
        for step_index, step in enumerate(doc.spec["steps"]):
            for index, expectation in enumerate(step.get("expect", [])):
                where: FieldPath = ("spec", "steps", step_index, "expect", index)
                found = expectations.problem(expectation)
                if found is not None:
                    path, phrase = found
                    self.log.report(doc, where + path, phrase)
                    continue
                check, value = expectations.split(expectation)
                if check == "tool_call" and functions is not None:
                    self._check_tool_call(doc, where, value, functions, label)
                elif check == "cites" and cited is not None:
                    self._check_cites(doc, where, str(value), cited)

    def _check_tool_call(
        self, doc: Document, where: FieldPath, value: Any, functions: set[str], label: Any
    ) -> None:
        name = value if isinstance(value, str) else value["name"]
        if name in functions:
            return
        self.log.report(
            doc,
            where + (("tool_call",) if isinstance(value, str) else ("tool_call", "name")),
            f"assistant '{label}' has no function '{name}'",
            hint=suggestion(name, functions, "function"),
        )

    def _check_cites(self, doc: Document, where: FieldPath, value: str, cited: set[str]) -> None:
        basenames = {p.rsplit("/", 1)[-1] for p in cited}
        if value in cited or value in basenames or value.startswith("file-"):
            return
        self.log.report(
            doc,
            where + ("cites",),
            f"'{value}' is not a file of the assistant's vector store",
            hint=suggestion(value, cited, "file")
            if cited
            else "the assistant has no file_search vector store",
        )
