"""YAML documents that remember where every key and item came from.

Files are composed into node trees first; values are built only after ``${VAR}`` interpolation
(``walk``), which also records the line of every key and item, refuses what JSON cannot hold
(duplicate or non-string keys, recursive aliases, ``!!binary`` and other tags, non-finite
numbers) and reports every problem with its file, line and field path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistctl.errors import Problem, format_field
from assistctl.manifest.interpolation import interpolate, referenced
from assistctl.manifest.sources import display_path

FieldPath = tuple[str | int, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_NULL_TAG = "tag:yaml.org,2002:null"
# Tags safe YAML builds but JSON (and so the API) has no value for.
_NOT_JSON_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("binary", "set", "omap", "pairs")
)
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: ~5x faster


@dataclass
class Document:
    """One YAML document: its node tree until interpolated, then its value and key lines."""

    file: Path
    display: str
    line: int
    node: yaml.Node
    is_test_file: bool
    kind: str | None = None
    body: Any = None
    lines: dict[FieldPath, int] = field(default_factory=dict)
    valid: bool = False
    checked: bool = False
    buildable: bool = False
    reported: set[FieldPath] = field(default_factory=set)  # fields that get no more messages
    variables: dict[FieldPath, list[str]] = field(default_factory=dict)  # ${VAR}s in a value
    unconstructable: bool = False  # a recursive alias or a list/mapping key: no value to build

    def line_of(self, path: FieldPath) -> int:
        """The line of ``path``, or of its nearest recorded parent (missing fields)."""
        for length in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:length]))
            if line is not None:
                return line
        return self.line

    @property
    def name(self) -> str | None:
        metadata = self.body.get("metadata") if isinstance(self.body, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        return name if isinstance(name, str) else None

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec") if isinstance(self.body, dict) else None
        return spec if isinstance(spec, dict) else {}

    @property
    def where(self) -> str:
        return f"{self.display}:{self.line}"


class ProblemLog:
    """Every problem of one load, located; a field already reported gets no second message."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def __len__(self) -> int:
        return len(self.problems)

    def report(
        self, doc: Document | str, path: FieldPath, message: str, hint: str | None = None
    ) -> None:
        if isinstance(doc, Document):
            if any(path[:length] in doc.reported for length in range(len(path) + 1)):
                return
            self.problems.append(
                Problem(doc.display, doc.line_of(path), format_field(path), message, hint)
            )
        else:
            self.problems.append(Problem(doc, None, format_field(path), message, hint))

    def at_line(self, shown: str, line: int | None, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(shown, line, "", message, hint))


class _Constructor(yaml.constructor.SafeConstructor):
    """Safe YAML values, except timestamps stay strings (JSON has no dates; the API wants text)."""

    yaml_constructors = {
        **yaml.constructor.SafeConstructor.yaml_constructors,
        "tag:yaml.org,2002:timestamp": yaml.constructor.SafeConstructor.construct_yaml_str,
    }


def parse(path: Path, is_test_file: bool, log: ProblemLog) -> list[Document]:
    """The documents of one file (nodes only; values come after interpolation)."""
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        log.report(shown, (), f"cannot read: {exc.strerror or exc}")
        return []
    if b"\0" in raw:
        log.report(shown, (), "binary file, not YAML", hint="manifests are UTF-8 text")
        return []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        log.at_line(shown, line, f"not UTF-8 text (byte {exc.start})", "save as UTF-8")
        return []
    documents: list[Document] = []
    try:
        for node in yaml.compose_all(text, Loader=_COMPOSER):
            if node is None or _empty(node):
                continue  # a trailing ``---`` or a commented-out document, as kubectl reads it
            documents.append(Document(path, shown, node.start_mark.line + 1, node, is_test_file))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at_line = mark.line + 1 if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        log.at_line(shown, at_line, f"YAML syntax error: {what}{context}")
        return []
    except yaml.YAMLError as exc:
        log.at_line(shown, None, f"YAML error: {exc}")
        return []
    if not documents:
        log.report(shown, (), "empty file: no YAML documents", hint="add a manifest or delete it")
    return documents


def _empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG and node.value == ""


def peek_kind(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "kind":
                return value.value if isinstance(value, yaml.ScalarNode) else None
    return None


class Interpolation:
    """Substitutes references in one document's string scalars, records key lines, then builds
    the value (also after an undefined variable, so the rest of the document is still
    checked). ``defined_in`` names the environments that define a variable, for hints."""

    def __init__(
        self,
        log: ProblemLog,
        variables: Mapping[str, str],
        environ: Mapping[str, str],
        defined_in: Callable[[], Mapping[str, list[str]]],
    ) -> None:
        self.log = log
        self.variables = variables
        self.environ = environ
        self.defined_in = defined_in

    def apply(self, doc: Document) -> None:
        self._walk(doc, doc.node, (), set(), set())
        if doc.unconstructable:
            return
        try:
            doc.body = _Constructor().construct_document(doc.node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.log.at_line(doc.display, mark.line + 1 if mark else doc.line, str(exc.problem))

    def _walk(
        self,
        doc: Document,
        node: yaml.Node,
        path: FieldPath,
        active: set[int],
        substituted: set[int],
    ) -> None:
        if id(node) in active:
            self.log.report(doc, path, "recursive YAML alias")
            doc.unconstructable = True
            return
        if node.tag in _NOT_JSON_TAGS:
            self.log.report(
                doc,
                path,
                f"!!{node.tag.rsplit(':', 1)[-1]} values are not allowed",
                hint="manifests hold JSON values: strings, numbers, booleans, lists, mappings",
            )
            doc.reported.add(path)
            return
        if isinstance(node, yaml.MappingNode):
            self._walk_mapping(doc, node, path, active, substituted)
        elif isinstance(node, yaml.SequenceNode):
            active.add(id(node))
            for index, item in enumerate(node.value):
                child = path + (index,)
                doc.lines[child] = item.start_mark.line + 1
                self._walk(doc, item, child, active, substituted)
            active.discard(id(node))
        elif (
            isinstance(node, yaml.ScalarNode)
            and node.tag == _STR_TAG
            and "$" in node.value
            and id(node) not in substituted
        ):
            substituted.add(id(node))
            doc.variables[path] = referenced(node.value)
            text, errors = interpolate(node.value, self.variables, self.environ, self.defined_in())
            for message, hint in errors:
                self.log.report(doc, path, message, hint=hint)
            if errors:
                doc.reported.add(path)
            if not node.style and text != node.value:  # plain (unquoted): re-resolve its type
                node.tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False))
            node.value = text
        if (
            isinstance(node, yaml.ScalarNode)
            and node.tag == _FLOAT_TAG
            and not math.isfinite(_Constructor().construct_yaml_float(node))
        ):
            self.log.report(
                doc,
                path,
                f"{node.value} is not a JSON number",
                hint="the API takes finite numbers only",
            )

    def _walk_mapping(
        self,
        doc: Document,
        node: yaml.MappingNode,
        path: FieldPath,
        active: set[int],
        substituted: set[int],
    ) -> None:
        active.add(id(node))
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR_TAG:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._walk(doc, value_node, path, active, substituted)
                    continue
                label = source_text(key_node)
                if not isinstance(key_node, yaml.ScalarNode):
                    doc.unconstructable = True
                doc.lines[path + (str(label),)] = line
                self.log.report(
                    doc, path + (str(label),), "keys must be strings", hint=f'quote it: "{label}"'
                )
                continue
            key = key_node.value
            child = path + (key,)
            if key in seen:
                doc.lines[child] = line
                self.log.report(doc, child, f"duplicate key (first at line {seen[key]})")
                continue
            seen[key] = line
            doc.lines[child] = line
            self._walk(doc, value_node, child, active, substituted)
        active.discard(id(node))


def short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "..."


def source_text(node: yaml.Node) -> str:
    """The node in flow style (``[team, area]``), for messages about keys that are not text."""
    if isinstance(node, yaml.SequenceNode):
        return "[" + ", ".join(source_text(item) for item in node.value) + "]"
    if isinstance(node, yaml.MappingNode):
        pairs = (f"{source_text(key)}: {source_text(value)}" for key, value in node.value)
        return "{" + ", ".join(pairs) + "}"
    return str(node.value)


def node_type(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"a scalar ({short(node.value)})" if isinstance(node, yaml.ScalarNode) else "this"
