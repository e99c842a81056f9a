"""YAML manifests -> ``model.Desired``: the only place that reads manifests. No network.

Loading runs in one direction: find the files, compose YAML keeping the line of every key and
item, interpolate ``${VAR}`` (Stack environment vars first, then the process environment),
validate each document against its JSON Schema (``assistctl/schemas``), then check what a
schema cannot (files on disk, references between documents, API limits that span fields) and
build the normalised views of ``model``. Every problem is collected with its file, line and
field path, so one run reports them all.
"""

from __future__ import annotations

import contextlib
import difflib
import glob
import hashlib
import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from assistctl import model
from assistctl.errors import ManifestError, Problem

API_VERSION = "assistctl/v1"
SCHEMA_BY_KIND = {
    "Stack": "stack.json",
    "Assistant": "assistant.json",
    "VectorStore": "vector_store.json",
    "SmokeTest": "smoke_test.json",
}
MANIFEST_SUFFIXES = (".yaml", ".yml")
TESTS_DIRECTORY = "tests"
MAX_CODE_INTERPRETER_FILES = 20
MAX_INSTRUCTIONS_CHARS = 256_000
MAX_FILE_BYTES = 512 * 1024 * 1024
# fmt: off
FILE_SEARCH_EXTENSIONS = frozenset({  # the file types the API's file_search can index
    ".c", ".cpp", ".cs", ".css", ".doc", ".docx", ".go", ".html", ".java", ".js", ".json", ".md",
    ".pdf", ".php", ".pptx", ".py", ".rb", ".sh", ".tex", ".ts", ".txt",
})
# fmt: on
SMOKE_TEST_DEFAULTS = {"repeat": 1, "pass_threshold": 1.0, "timeout_s": 60, "functions": {}}

FieldPath = tuple[str | int, ...]

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"
# Tags safe YAML builds but JSON (and so the API) has no value for.
_NOT_JSON_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("binary", "set", "omap", "pairs")
)
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: ~5x faster


# --- public API -----------------------------------------------------------------------------


def load(
    paths: Sequence[str | Path],
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> model.Desired:
    """The desired state described by the manifests under ``paths``.

    A directory means every ``*.yaml``/``*.yml`` in it, recursively, except ``tests/``
    subdirectories (smoke tests live there). Raises ``ManifestError`` with every problem found.
    """
    desired, _ = _Loader(paths, env, environ).run(with_tests=False)
    return desired


def load_smoke_tests(
    paths: Sequence[str | Path],
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
    desired: model.Desired | None = None,
) -> tuple[model.DesiredSmokeTest, ...]:
    """SmokeTest documents from ``tests/`` under directory arguments, from explicit files and
    from among the manifests, validated and interpolated like manifests.

    Each test's ``assistant`` must name an Assistant of ``desired`` (when given) or of the
    manifests found under ``paths`` (when there are any).
    """
    loader = _Loader(paths, env, environ, known=desired)
    _, tests = loader.run(with_tests=True)
    return tests


def load_all(
    paths: Sequence[str | Path],
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[model.Desired, tuple[model.DesiredSmokeTest, ...]]:
    """Manifests and smoke tests together, with one ``ManifestError`` listing every problem of
    both (what ``assistctl validate`` reports)."""
    return _Loader(paths, env, environ).run(with_tests=True, require_documents=True)


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a manifest kind (``Stack``, ``Assistant``, ``VectorStore``,
    ``SmokeTest``)."""
    return json.loads(_schema_text(SCHEMA_BY_KIND[kind]))


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(absolute)


def format_field(path: FieldPath) -> str:
    """``("spec", "tools", 2, "function")`` -> ``spec.tools[2].function``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# --- documents ------------------------------------------------------------------------------


@dataclass
class _Document:
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


class _Constructor(yaml.constructor.SafeConstructor):
    """Safe YAML values, except timestamps stay strings (JSON has no dates; the API wants text)."""


_Constructor.add_constructor(
    "tag:yaml.org,2002:timestamp", yaml.constructor.SafeConstructor.construct_yaml_str
)


@cache
def _schema_text(filename: str) -> str:
    return resources.files("assistctl.schemas").joinpath(filename).read_text(encoding="utf-8")


@cache
def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(schema(kind))


# --- the loader -----------------------------------------------------------------------------


class _Loader:
    """Collects problems while loading; one instance per load."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        env: str | None,
        environ: Mapping[str, str] | None,
        known: model.Desired | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths] or [Path(".")]
        self.env = env
        self.environ = dict(os.environ if environ is None else environ)
        self.known = known
        self.problems: list[Problem] = []
        self.digests: dict[Path, tuple[str, int]] = {}
        self.environments: dict[str, Any] = {}
        self.incomplete: set[tuple[str | None, str | None]] = set()

    def problem(
        self, doc: _Document | str, path: FieldPath, message: str, hint: str | None = None
    ) -> None:
        if isinstance(doc, _Document):
            if any(path[:length] in doc.reported for length in range(len(path) + 1)):
                return
            self.problems.append(
                Problem(doc.display, doc.line_of(path), format_field(path), message, hint)
            )
        else:
            self.problems.append(Problem(doc, None, format_field(path), message, hint))

    # -- orchestration

    def run(
        self, *, with_tests: bool, require_documents: bool = False
    ) -> tuple[model.Desired, tuple[model.DesiredSmokeTest, ...]]:
        """Load everything; ``load`` needs resources (an empty Desired would plan to delete the
        whole stack), ``validate`` accepts smoke tests alone."""
        manifest_files, test_files, root, stack_default = self.discover(with_tests)
        documents = [doc for path in manifest_files for doc in self.parse(path, False)]
        if with_tests:
            documents += [doc for path in test_files for doc in self.parse(path, True)]
        for doc in documents:
            doc.kind = _peek_kind(doc.node)
        variables = self.environment_variables(documents)
        for doc in documents:
            if doc.kind != "Stack":
                self.interpolate(doc, variables)
        for doc in documents:
            self.check_document(doc)
        manifests = [d for d in documents if not d.is_test_file and d.kind != "SmokeTest"]
        missing = not documents if require_documents else not with_tests and not manifests
        if missing and not self.problems:
            shown = ", ".join(display_path(p) for p in self.paths)
            self.problem(shown, (), "no manifests found (Stack, Assistant or VectorStore)")
        self.check_unique_names(documents)
        stack = self.stack_name(documents, stack_default)
        vector_stores = self.build_vector_stores(documents, root)
        assistants = self.build_assistants(documents, root)
        smoke_tests = self.build_smoke_tests(documents, assistants, vector_stores)
        if self.problems:
            raise ManifestError(sorted(self.problems, key=lambda p: (p.file, p.line or 0)))
        desired = model.Desired(
            stack=stack,
            env=self.env,
            root=root,
            assistants=tuple(sorted(assistants.values(), key=lambda a: a.name)),
            vector_stores=tuple(sorted(vector_stores.values(), key=lambda v: v.name)),
            smoke_tests=tuple(t for t in smoke_tests if not _is_from_tests_dir(t, documents)),
            sources=tuple(dict.fromkeys(d.display for d in documents if not d.is_test_file)),
        )
        return desired, tuple(smoke_tests)

    # -- files

    def discover(self, with_tests: bool) -> tuple[list[Path], list[Path], Path, str | None]:
        """Manifest files, smoke-test files, the stack root and the default stack name."""
        manifests: list[Path] = []
        tests: list[Path] = []
        roots: list[Path] = []
        stack_default: str | None = None
        for given in self.paths:
            absolute = Path(os.path.abspath(given))
            shown = display_path(given)
            if not absolute.exists():
                self.problem(shown, (), "no such file or directory")
                continue
            if absolute.is_dir():
                roots.append(absolute)
                stack_default = stack_default or absolute.name
                found = _yaml_files(absolute)
                own = [p for p in found if not _under_tests(p, absolute)]
                manifests += own
                tests += [p for p in found if _under_tests(p, absolute)]
                if not own and not (with_tests and tests):
                    self.problem(
                        shown,
                        (),
                        "no manifests (*.yaml, *.yml) in this directory",
                        hint="tests/ subdirectories hold smoke tests and are not manifests",
                    )
            elif absolute.is_file():
                roots.append(absolute.parent)
                manifests.append(absolute)
            else:
                self.problem(shown, (), "not a regular file or directory")
        root = Path(os.path.commonpath(roots)) if roots else Path.cwd()
        if stack_default is None and roots:
            stack_default = roots[0].name
        return (
            list(dict.fromkeys(manifests)),
            list(dict.fromkeys(p for p in tests if p not in manifests)),
            root,
            stack_default,
        )

    def parse(self, path: Path, is_test_file: bool) -> list[_Document]:
        """The documents of one file (nodes only; values come after interpolation)."""
        shown = display_path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.problem(shown, (), f"cannot read: {exc.strerror or exc}")
            return []
        if b"\0" in raw:
            self.problem(shown, (), "binary file, not YAML", hint="manifests are UTF-8 text")
            return []
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.problems.append(
                Problem(shown, line, "", f"not UTF-8 text (byte {exc.start})", "save as UTF-8")
            )
            return []
        documents: list[_Document] = []
        try:
            for node in yaml.compose_all(text, Loader=_COMPOSER):
                if node is None:
                    continue
                documents.append(
                    _Document(path, shown, node.start_mark.line + 1, node, is_test_file)
                )
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            what = exc.problem or exc.context or "invalid YAML"
            context = f" ({exc.context})" if exc.context and exc.problem else ""
            self.problems.append(Problem(shown, line, "", f"YAML syntax error: {what}{context}"))
            return []
        except yaml.YAMLError as exc:
            self.problems.append(Problem(shown, None, "", f"YAML error: {exc}"))
            return []
        if not documents:
            self.problem(
                shown, (), "empty file: no YAML documents", hint="add a manifest or delete it"
            )
        return documents

    # -- interpolation

    def environment_variables(self, documents: list[_Document]) -> dict[str, str]:
        """Vars of the environment chosen with ``--env`` (validating the Stack document)."""
        stacks = [d for d in documents if d.kind == "Stack"]
        for extra in stacks[1:]:
            self.problem(
                extra,
                ("kind",),
                f"only one Stack document is allowed (the first is at {stacks[0].where})",
            )
        environments: dict[str, Any] = {}
        if stacks:
            self.interpolate(stacks[0], {})
            self.check_document(stacks[0])
            spec_environments = stacks[0].spec.get("environments")
            if stacks[0].valid and isinstance(spec_environments, dict):
                environments = spec_environments
        self.environments = environments
        if self.env is None:
            return {}
        if self.env not in environments:
            known = ", ".join(sorted(environments)) or "none defined"
            where: _Document | str = stacks[0] if stacks else "--env"
            self.problem(
                where,
                ("spec", "environments") if stacks else (),
                f"unknown environment '{self.env}' (known: {known})",
                hint="define it under Stack spec.environments, or pick a known one with --env",
            )
            return {}
        variables = (environments[self.env] or {}).get("vars") or {}
        return {name: _scalar_text(value) for name, value in variables.items()}

    def interpolate(self, doc: _Document, variables: Mapping[str, str]) -> None:
        """Substitute references in string scalars, record key lines, build the value (also
        after an undefined variable, so the rest of the document is still checked)."""
        self.walk(doc, doc.node, (), variables, set(), set())
        if doc.unconstructable:
            return
        try:
            doc.body = _Constructor().construct_document(doc.node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.problems.append(
                Problem(doc.display, mark.line + 1 if mark else doc.line, "", str(exc.problem))
            )

    def walk(
        self,
        doc: _Document,
        node: yaml.Node,
        path: FieldPath,
        variables: Mapping[str, str],
        active: set[int],
        substituted: set[int],
    ) -> None:
        if id(node) in active:
            self.problem(doc, path, "recursive YAML alias")
            doc.unconstructable = True
            return
        if node.tag in _NOT_JSON_TAGS:
            self.problem(
                doc,
                path,
                f"!!{node.tag.rsplit(':', 1)[-1]} values are not allowed",
                hint="manifests hold JSON values: strings, numbers, booleans, lists, mappings",
            )
            doc.reported.add(path)
            return
        if isinstance(node, yaml.MappingNode):
            active.add(id(node))
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR_TAG:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        self.walk(doc, value_node, path, variables, active, substituted)
                        continue
                    label = _source_text(key_node)
                    if not isinstance(key_node, yaml.ScalarNode):
                        doc.unconstructable = True
                    doc.lines[path + (str(label),)] = line
                    self.problem(
                        doc,
                        path + (str(label),),
                        "keys must be strings",
                        hint=f'quote it: "{label}"',
                    )
                    continue
                key = key_node.value
                child = path + (key,)
                if key in seen:
                    doc.lines[child] = line
                    self.problem(doc, child, f"duplicate key (first at line {seen[key]})")
                    continue
                seen[key] = line
                doc.lines[child] = line
                self.walk(doc, value_node, child, variables, active, substituted)
            active.discard(id(node))
        elif isinstance(node, yaml.SequenceNode):
            active.add(id(node))
            for index, item in enumerate(node.value):
                child = path + (index,)
                doc.lines[child] = item.start_mark.line + 1
                self.walk(doc, item, child, variables, active, substituted)
            active.discard(id(node))
        elif (
            isinstance(node, yaml.ScalarNode)
            and node.tag == _STR_TAG
            and "$" in node.value
            and id(node) not in substituted
        ):
            substituted.add(id(node))
            text, errors = _interpolate(node.value, variables, self.environ, self.defined_in())
            for message, hint in errors:
                self.problem(doc, path, message, hint=hint)
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
            self.problem(
                doc,
                path,
                f"{node.value} is not a JSON number",
                hint="the API takes finite numbers only",
            )

    def defined_in(self) -> dict[str, list[str]]:
        """Variable name -> the environments whose vars define it, to hint at ``--env`` when
        none (or an unknown one) was chosen."""
        found: dict[str, list[str]] = {}
        if self.env in self.environments:
            return found
        for name, environment in sorted(self.environments.items()):
            for variable in (environment or {}).get("vars") or {}:
                found.setdefault(variable, []).append(name)
        return found

    # -- per-document checks

    def check_document(self, doc: _Document) -> None:
        """apiVersion, kind and the kind's JSON Schema. Marks the document valid if all pass."""
        if doc.checked:
            return
        doc.checked = True
        if not isinstance(doc.node, yaml.MappingNode):
            self.problem(
                doc,
                (),
                f"a manifest document must be a mapping, not {_node_type(doc.node)}",
                hint="start with apiVersion: assistctl/v1 and kind: ...",
            )
            return
        if not isinstance(doc.body, dict):
            return
        if "apiVersion" not in doc.body and "kind" not in doc.body:
            self.problem(
                doc,
                (),
                "not an assistctl manifest: no apiVersion or kind",
                hint="start it with apiVersion: assistctl/v1 and kind: ..., or keep other YAML "
                "out of the stack directory",
            )
            return
        problems_before = len(self.problems)
        version = doc.body.get("apiVersion")
        if version != API_VERSION:
            self.problem(
                doc,
                ("apiVersion",),
                f"unsupported apiVersion {_short(version)}"
                if version
                else "'apiVersion' is required",
                hint=f"use apiVersion: {API_VERSION}",
            )
        kind = doc.body.get("kind")
        if not isinstance(kind, str) or kind not in SCHEMA_BY_KIND:
            self.problem(
                doc,
                ("kind",),
                f"unknown kind {_short(kind)}" if kind else "'kind' is required",
                hint="kind is one of " + ", ".join(SCHEMA_BY_KIND),
            )
            return
        if doc.is_test_file and kind != "SmokeTest":
            self.problem(
                doc,
                ("kind",),
                f"only SmokeTest documents belong in tests/, not {kind}",
                hint="move it next to the other manifests",
            )
            return
        doc.buildable = isinstance(doc.name, str) or kind == "Stack"
        failed: set[FieldPath] = set()
        for path, message, hint in _schema_problems(_validator(kind), doc.body):
            if path == ("apiVersion",) or message == "'apiVersion' is required":
                continue
            self.problem(doc, path, message, hint)
            missing = re.fullmatch(r"'(.+)' is required", message)
            failed.add(path + (missing.group(1),) if missing else path)
        doc.valid = not failed and not doc.reported and len(self.problems) == problems_before
        doc.reported |= failed

    def check_unique_names(self, documents: list[_Document]) -> None:
        first: dict[tuple[str, str], _Document] = {}
        for doc in documents:
            misplaced = doc.is_test_file and doc.kind != "SmokeTest"
            if doc.kind in (None, "Stack") or doc.name is None or misplaced:
                continue
            key = (doc.kind, doc.name)
            if key in first:
                self.problem(
                    doc,
                    ("metadata", "name"),
                    f"duplicate {doc.kind} name '{doc.name}' (first at "
                    f"{first[key].display}:{first[key].line_of(('metadata', 'name'))})",
                    hint="logical names are unique per kind across all files of the stack",
                )
            else:
                first[key] = doc

    def stack_name(self, documents: list[_Document], default: str | None) -> str:
        stack_docs = [d for d in documents if d.kind == "Stack" and d.valid]
        name = stack_docs[0].name if stack_docs else None
        if name:
            return name
        name = default or "stack"
        if not re.fullmatch(model.NAME_PATTERN, name) and not self.problems:
            self.problem(
                display_path(self.paths[0]),
                (),
                f"the directory name '{name}' cannot be a stack name",
                hint="add a Stack document with metadata.name (letters, digits, '_', '.', '-')",
            )
        return name

    # -- vector stores

    def build_vector_stores(
        self, documents: list[_Document], root: Path
    ) -> dict[str, model.DesiredVectorStore]:
        stores: dict[str, model.DesiredVectorStore] = {}
        for doc in documents:
            if doc.kind == "VectorStore" and doc.buildable and doc.name not in stores:
                store = self.guarded(doc, self.vector_store, doc, root)
                if store is not None:
                    stores[doc.name] = store
        return stores

    def guarded(self, doc: _Document, build: Any, *args: Any) -> Any:
        """``build(*args)``. A document that failed its schema is still built, for its other
        problems, but quietly gives up on shapes the schema already reported, and yields nothing
        that other documents would be checked against (its name goes to ``incomplete``)."""
        if doc.valid:
            return build(*args)
        self.incomplete.add((doc.kind, doc.name))
        with contextlib.suppress(KeyError, TypeError, AttributeError, ValueError, IndexError):
            build(*args)
        return None

    def vector_store(self, doc: _Document, root: Path) -> model.DesiredVectorStore:
        spec = doc.spec
        files = self.expand_files(doc, ("spec", "files"), spec.get("files", []), root)
        for index, desired_file in files:
            extension = Path(desired_file.path).suffix.lower()
            if extension not in FILE_SEARCH_EXTENSIONS:
                self.problem(
                    doc,
                    ("spec", "files", index),
                    f"{desired_file.path}: file type '{extension or '(none)'}' cannot be "
                    "indexed by file_search",
                    hint="supported: " + " ".join(sorted(FILE_SEARCH_EXTENSIONS)),
                )
        chunking = spec.get("chunking_strategy", {"type": "auto"})
        static = chunking.get("static") if chunking.get("type") == "static" else None
        if static and static["chunk_overlap_tokens"] > static["max_chunk_size_tokens"] // 2:
            self.problem(
                doc,
                ("spec", "chunking_strategy", "static", "chunk_overlap_tokens"),
                f"{static['chunk_overlap_tokens']} is more than half of "
                f"max_chunk_size_tokens ({static['max_chunk_size_tokens']})",
                hint="the API requires chunk_overlap_tokens <= max_chunk_size_tokens / 2",
            )
        unique, same_content = _one_per_content(_unique_sorted(f for _, f in files))
        view = {
            "name": spec.get("name", doc.name),
            "expires_after": spec.get("expires_after"),
            "chunking_strategy": chunking,
            "metadata": dict(spec.get("metadata", {})),
            "files": {f.path: f.sha256 for f in unique},
        }
        return model.DesiredVectorStore(
            doc.name, view, unique, model.Location(doc.display, doc.line), same_content
        )

    def expand_files(
        self, doc: _Document, path: FieldPath, patterns: list[str], root: Path
    ) -> list[tuple[int, model.DesiredFile]]:
        """Each pattern's files (globs expanded), paired with the pattern's index."""
        base = doc.file.parent
        found: list[tuple[int, model.DesiredFile]] = []
        for index, pattern in enumerate(patterns):
            where = path + (index,)
            if glob.has_magic(pattern):
                matches = sorted(
                    Path(m)
                    for m in glob.glob(
                        os.path.join(glob.escape(str(base)), pattern), recursive=True
                    )
                    if os.path.isfile(m)
                )
                if not matches:
                    self.problem(
                        doc,
                        where,
                        f"'{pattern}' matches no files",
                        hint=f"paths are relative to {display_path(base)}/",
                    )
                candidates = matches
            else:
                candidates = [base / pattern]
            for candidate in candidates:
                desired_file = self.desired_file(doc, where, candidate, pattern, root)
                if desired_file:
                    found.append((index, desired_file))
        return found

    def desired_file(
        self, doc: _Document, where: FieldPath, source: Path, given: str, root: Path
    ) -> model.DesiredFile | None:
        source = Path(os.path.abspath(source))
        relative_hint = (
            f"paths are relative to the manifest's directory ({display_path(doc.file.parent)}/)"
        )
        if not source.exists():
            self.problem(doc, where, f"file not found: {given}", hint=relative_hint)
            return None
        if source.is_dir():
            self.problem(
                doc, where, f"{given} is a directory", hint=f"use a glob such as {given}/**/*"
            )
            return None
        size = source.stat().st_size
        if size == 0:
            self.problem(doc, where, f"{given} is empty", hint="the API refuses empty files")
            return None
        if size > MAX_FILE_BYTES:
            self.problem(doc, where, f"{given} is larger than the API's 512 MB file limit")
            return None
        if source not in self.digests:
            try:
                with source.open("rb") as stream:
                    digest = hashlib.file_digest(stream, "sha256").hexdigest()
            except OSError as exc:
                self.problem(doc, where, f"cannot read {given}: {exc.strerror or exc}")
                return None
            self.digests[source] = (digest, size)
        sha256, size = self.digests[source]
        relative = os.path.relpath(source, root).replace(os.sep, "/")
        return model.DesiredFile(path=relative, source=source, sha256=sha256, bytes=size)

    # -- assistants

    def build_assistants(
        self, documents: list[_Document], root: Path
    ) -> dict[str, model.DesiredAssistant]:
        store_names = {d.name for d in documents if d.kind == "VectorStore" and d.name}
        assistants: dict[str, model.DesiredAssistant] = {}
        for doc in documents:
            if doc.kind == "Assistant" and doc.buildable and doc.name not in assistants:
                assistant = self.guarded(doc, self.assistant, doc, root, store_names)
                if assistant is not None:
                    assistants[doc.name] = assistant
        return assistants

    def assistant(
        self, doc: _Document, root: Path, store_names: set[str]
    ) -> model.DesiredAssistant:
        spec = doc.spec
        instructions = self.instructions(doc)
        tools = self.tools(doc)
        tool_types = {tool["type"] for tool in tools}
        tool_resources: dict[str, Any] = {}
        resources_spec = spec.get("tool_resources", {})
        file_search = resources_spec.get("file_search", {}).get("vector_stores", [])
        for index, store in enumerate(file_search):
            if store not in store_names:
                self.problem(
                    doc,
                    ("spec", "tool_resources", "file_search", "vector_stores", index),
                    f"no VectorStore named '{store}' in this stack",
                    hint=_suggest(store, store_names, "VectorStore"),
                )
        if file_search:
            tool_resources["file_search"] = {"vector_stores": list(file_search)}
            self.require_tool(doc, tool_types, "file_search")
        code_files: tuple[model.DesiredFile, ...] = ()
        same_content: tuple[tuple[str, str], ...] = ()
        patterns = resources_spec.get("code_interpreter", {}).get("files", [])
        if patterns:
            where = ("spec", "tool_resources", "code_interpreter", "files")
            expanded = self.expand_files(doc, where, patterns, root)
            code_files, same_content = _one_per_content(_unique_sorted(f for _, f in expanded))
            if len(code_files) > MAX_CODE_INTERPRETER_FILES:
                self.problem(
                    doc,
                    where,
                    f"{len(code_files)} files; the API allows at most "
                    f"{MAX_CODE_INTERPRETER_FILES} code_interpreter files per assistant",
                )
            tool_resources["code_interpreter"] = {"files": [f.path for f in code_files]}
            self.require_tool(doc, tool_types, "code_interpreter")
        view = {
            "name": spec.get("name", doc.name),
            "description": spec.get("description"),
            "model": spec["model"],
            "instructions": instructions,
            "tools": tools,
            "tool_resources": tool_resources,
            "temperature": float(spec.get("temperature", 1.0)),
            "top_p": float(spec.get("top_p", 1.0)),
            "response_format": spec.get("response_format", "auto"),
            "metadata": dict(spec.get("metadata", {})),
        }
        return model.DesiredAssistant(
            doc.name, view, code_files, model.Location(doc.display, doc.line), same_content
        )

    def require_tool(self, doc: _Document, tool_types: set[str], tool: str) -> None:
        if tool not in tool_types:
            self.problem(
                doc,
                ("spec", "tool_resources", tool),
                f"tool_resources.{tool} is set but the assistant has no {tool} tool",
                hint=f"add `- type: {tool}` to spec.tools",
            )

    def instructions(self, doc: _Document) -> str | None:
        spec = doc.spec
        if "instructions" in spec and "instructions_file" in spec:
            self.problem(
                doc,
                ("spec", "instructions_file"),
                "give either 'instructions' or 'instructions_file', not both",
            )
            return spec["instructions"]
        if "instructions_file" not in spec:
            if "instructions" not in spec:
                self.problem(
                    doc,
                    ("spec",),
                    "'instructions' or 'instructions_file' is required",
                    hint="instructions_file: prompts/NAME.md keeps long prompts readable in diffs",
                )
            return spec.get("instructions")
        where = ("spec", "instructions_file")
        text = self.read_text(doc, where, spec["instructions_file"])
        if text is not None and len(text) > MAX_INSTRUCTIONS_CHARS:
            self.problem(
                doc,
                where,
                f"{spec['instructions_file']} has {len(text):,} characters; the API allows at "
                f"most {MAX_INSTRUCTIONS_CHARS:,}",
            )
        return text

    def read_text(self, doc: _Document, where: FieldPath, given: str) -> str | None:
        source = doc.file.parent / given
        hint = f"paths are relative to the manifest's directory ({display_path(doc.file.parent)}/)"
        if not source.is_file():
            message = f"{given} is a directory" if source.is_dir() else f"file not found: {given}"
            self.problem(doc, where, message, hint=hint)
            return None
        try:
            raw = source.read_bytes()
        except OSError as exc:
            self.problem(doc, where, f"cannot read {given}: {exc.strerror or exc}")
            return None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = None
        if text is None or "\0" in text:
            self.problem(doc, where, f"{given} is not UTF-8 text", hint="save it as UTF-8")
            return None
        return text

    def tools(self, doc: _Document) -> list[dict[str, Any]]:
        """Tools as written, with ``parameters_file`` read into ``parameters``."""
        tools: list[dict[str, Any]] = []
        seen_types: dict[str, int] = {}
        seen_functions: dict[str, int] = {}
        for index, tool in enumerate(doc.spec.get("tools", [])):
            where: FieldPath = ("spec", "tools", index)
            kind = tool["type"]
            if kind != "function":
                if kind in seen_types:
                    self.problem(
                        doc,
                        where,
                        f"duplicate {kind} tool (first at spec.tools[{seen_types[kind]}])",
                    )
                seen_types.setdefault(kind, index)
                tools.append(dict(tool))
                continue
            function = dict(tool["function"])
            name = function["name"]
            if name in seen_functions:
                self.problem(
                    doc,
                    where + ("function", "name"),
                    f"duplicate function name '{name}' "
                    f"(first at spec.tools[{seen_functions[name]}])",
                    hint="function names are unique per assistant",
                )
            seen_functions.setdefault(name, index)
            parameters = self.parameters(doc, where + ("function",), function)
            function.pop("parameters_file", None)
            if parameters is not None:
                function["parameters"] = parameters
            tools.append({"type": "function", "function": function})
        return tools

    def parameters(
        self, doc: _Document, where: FieldPath, function: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        if "parameters" in function and "parameters_file" in function:
            self.problem(
                doc,
                where + ("parameters_file",),
                "give either 'parameters' or 'parameters_file', not both",
            )
            return None
        if "parameters" not in function and "parameters_file" not in function:
            self.problem(
                doc,
                where,
                "'parameters' or 'parameters_file' is required",
                hint="e.g. parameters: {type: object, properties: {}}",
            )
            return None
        if "parameters" in function:
            parameters, field_path = function["parameters"], where + ("parameters",)
        else:
            field_path = where + ("parameters_file",)
            given = function["parameters_file"]
            text = self.read_text(doc, field_path, given)
            if text is None:
                return None
            try:
                parameters = json.loads(text)
            except json.JSONDecodeError as exc:
                self.problem(
                    doc,
                    field_path,
                    f"{given} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                )
                return None
            if not isinstance(parameters, dict):
                self.problem(doc, field_path, f"{given} must hold a JSON object (a JSON Schema)")
                return None
        try:
            Draft202012Validator.check_schema(parameters)
        except SchemaError as exc:
            inside = tuple(exc.path)
            if "parameters" in function:
                self.problem(doc, field_path + inside, f"not a valid JSON Schema: {exc.message}")
            else:
                at = f" (at {'/'.join(str(p) for p in inside)})" if inside else ""
                self.problem(doc, field_path, f"not a valid JSON Schema: {exc.message}{at}")
            return None
        if parameters.get("type") != "object":
            self.problem(
                doc,
                field_path,
                "function parameters must be an object schema (type: object)",
                hint="wrap arguments in {type: object, properties: {...}}",
            )
        elif function.get("strict"):
            for message in _strict_problems(parameters, ""):
                self.problem(doc, field_path, message, hint="strict mode needs closed schemas")
        return parameters

    # -- smoke tests

    def build_smoke_tests(
        self,
        documents: list[_Document],
        assistants: Mapping[str, model.DesiredAssistant],
        vector_stores: Mapping[str, model.DesiredVectorStore],
    ) -> list[model.DesiredSmokeTest]:
        if self.known is not None:
            assistants = {a.name: a for a in self.known.assistants}
            vector_stores = {v.name: v for v in self.known.vector_stores}
        has_manifests = self.known is not None or any(
            d.kind in ("Stack", "Assistant", "VectorStore") for d in documents
        )
        tests: list[model.DesiredSmokeTest] = []
        for doc in documents:
            if doc.kind == "SmokeTest" and doc.buildable:
                test = self.guarded(
                    doc, self.smoke_test, doc, assistants, vector_stores, has_manifests
                )
                if test is not None:
                    tests.append(test)
        return tests

    def smoke_test(
        self,
        doc: _Document,
        assistants: Mapping[str, model.DesiredAssistant],
        vector_stores: Mapping[str, model.DesiredVectorStore],
        has_manifests: bool,
    ) -> model.DesiredSmokeTest:
        spec = doc.spec
        assistant = assistants.get(spec["assistant"])
        if ("Assistant", spec["assistant"]) in self.incomplete:
            has_manifests = False
        if has_manifests and assistant is None:
            self.problem(
                doc,
                ("spec", "assistant"),
                f"no Assistant named '{spec['assistant']}' in this stack",
                hint=_suggest(spec["assistant"], set(assistants), "Assistant"),
            )
        self.check_steps(doc, assistant, vector_stores)
        full = {**SMOKE_TEST_DEFAULTS, **spec}
        full["steps"] = [{**step, "expect": step.get("expect", [])} for step in spec["steps"]]
        return model.DesiredSmokeTest(
            doc.name, spec["assistant"], full, model.Location(doc.display, doc.line)
        )

    def check_steps(
        self,
        doc: _Document,
        assistant: model.DesiredAssistant | None,
        vector_stores: Mapping[str, model.DesiredVectorStore],
    ) -> None:
        functions = (
            {t["function"]["name"] for t in assistant.view["tools"] if t["type"] == "function"}
            if assistant
            else None
        )
        cited: set[str] | None = set()
        if assistant:
            for store in (
                assistant.view["tool_resources"].get("file_search", {}).get("vector_stores", [])
            ):
                if store not in vector_stores:
                    cited = None
                    break
                cited.update(vector_stores[store].view["files"])
        if functions is not None:
            for name in doc.spec.get("functions", {}):
                if name not in functions:
                    self.problem(
                        doc,
                        ("spec", "functions", name),
                        f"assistant '{assistant.name}' has no function '{name}'",
                        hint=_suggest(name, functions, "function"),
                    )
        for step_index, step in enumerate(doc.spec["steps"]):
            for index, expectation in enumerate(step.get("expect", [])):
                where = ("spec", "steps", step_index, "expect", index)
                ((check, value),) = expectation.items()
                if check == "regex":
                    try:
                        re.compile(value)
                    except re.error as exc:
                        self.problem(doc, where + ("regex",), f"invalid regular expression: {exc}")
                elif check == "json_schema":
                    try:
                        Draft202012Validator.check_schema(value)
                    except SchemaError as exc:
                        self.problem(
                            doc, where + ("json_schema",), f"not a valid JSON Schema: {exc.message}"
                        )
                elif check == "tool_call" and functions is not None:
                    name = value if isinstance(value, str) else value["name"]
                    if name not in functions:
                        self.problem(
                            doc,
                            where
                            + (("tool_call",) if isinstance(value, str) else ("tool_call", "name")),
                            f"assistant '{assistant.name}' has no function '{name}'",
                            hint=_suggest(name, functions, "function"),
                        )
                elif check == "cites" and assistant is not None and cited is not None:
                    basenames = {p.rsplit("/", 1)[-1] for p in cited}
                    known = value in cited or value in basenames or value.startswith("file-")
                    if not known:
                        self.problem(
                            doc,
                            where + ("cites",),
                            f"'{value}' is not a file of the assistant's vector store",
                            hint=_suggest(value, cited, "file")
                            if cited
                            else "the assistant has no file_search vector store",
                        )


# --- helpers --------------------------------------------------------------------------------


def _yaml_files(directory: Path) -> list[Path]:
    """``*.yaml``/``*.yml`` below ``directory``, skipping hidden files and directories
    (``.git``, ``.github``, ``.assistctl``...) and not following symlinked directories."""
    found: list[Path] = []
    for folder, subfolders, filenames in os.walk(directory):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        found += [
            Path(folder, name)
            for name in filenames
            if not name.startswith(".") and Path(name).suffix.lower() in MANIFEST_SUFFIXES
        ]
    return sorted(p for p in found if p.is_file())


def _under_tests(path: Path, directory: Path) -> bool:
    return TESTS_DIRECTORY in path.relative_to(directory).parts[:-1]


def _is_from_tests_dir(test: model.DesiredSmokeTest, documents: list[_Document]) -> bool:
    return any(
        d.is_test_file and d.display == test.location.file and d.line == test.location.line
        for d in documents
    )


def _peek_kind(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "kind":
                return value.value if isinstance(value, yaml.ScalarNode) else None
    return None


def _interpolate(
    text: str,
    variables: Mapping[str, str],
    environ: Mapping[str, str],
    defined_in: Mapping[str, list[str]],
) -> tuple[str, list[tuple[str, str | None]]]:
    """``${VAR}``, ``${VAR:-default}`` (also when empty) and the ``$${`` escape."""
    errors: list[tuple[str, str | None]] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        if match.group(1) is None:
            errors.append(("unterminated '${' in value", "write $${ for a literal ${"))
            return token
        name, has_default, default = match.group(1).partition(":-")
        if not _VARIABLE_NAME.fullmatch(name):
            errors.append(
                (f"invalid variable reference '{token}'", "use ${NAME} or ${NAME:-default}")
            )
            return token
        value = variables.get(name, environ.get(name))
        if value is None or (has_default and value == ""):
            if has_default:
                return default
            if name in defined_in:
                hint = f"choose an environment that defines it: --env {'|'.join(defined_in[name])}"
            else:
                hint = (
                    f"set {name} in the environment, define it in the Stack's "
                    f"spec.environments.<env>.vars and pass --env, or write ${{{name}:-default}}"
                )
            errors.append((f"undefined variable '{name}'", hint))
            return token
        return value

    return _REFERENCE.sub(replace, text), errors


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unique_sorted(files: Iterator[model.DesiredFile] | Any) -> tuple[model.DesiredFile, ...]:
    by_path = {f.path: f for f in files}
    return tuple(by_path[p] for p in sorted(by_path))


def _one_per_content(
    files: tuple[model.DesiredFile, ...],
) -> tuple[tuple[model.DesiredFile, ...], tuple[tuple[str, str], ...]]:
    """The API attaches an upload to a store (or an assistant) once, so of several paths with
    the same bytes the first stands for all: ``(kept files, (path, kept path) pairs)``."""
    kept: dict[str, model.DesiredFile] = {}
    same_content = []
    for desired_file in files:
        first = kept.setdefault(desired_file.sha256, desired_file)
        if first is not desired_file:
            same_content.append((desired_file.path, first.path))
    return tuple(kept.values()), tuple(same_content)


def _suggest(name: str, candidates: set[str], what: str) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    if candidates:
        return f"known {what} names: " + ", ".join(sorted(candidates))
    return f"no {what} is defined"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "..."


def _source_text(node: yaml.Node) -> str:
    """The node in flow style (``[team, area]``), for messages about keys that are not text."""
    if isinstance(node, yaml.SequenceNode):
        return "[" + ", ".join(_source_text(item) for item in node.value) + "]"
    if isinstance(node, yaml.MappingNode):
        pairs = (f"{_source_text(key)}: {_source_text(value)}" for key, value in node.value)
        return "{" + ", ".join(pairs) + "}"
    return str(node.value)


def _node_type(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"a scalar ({_short(node.value)})" if isinstance(node, yaml.ScalarNode) else "this"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _strict_problems(schema_node: Mapping[str, Any], at: str) -> Iterator[str]:
    """Strict function schemas must be closed: every object has additionalProperties: false
    and requires all of its properties (the API refuses others)."""
    if schema_node.get("type") == "object":
        where = f" at {at}" if at else ""
        if schema_node.get("additionalProperties") is not False:
            yield f"strict: true needs additionalProperties: false{where}"
        properties = schema_node.get("properties", {})
        missing = sorted(set(properties) - set(schema_node.get("required", [])))
        if missing:
            yield (
                f"strict: true needs every property in 'required'{where} (missing: "
                + ", ".join(missing)
                + ")"
            )
        for name, child in properties.items():
            if isinstance(child, Mapping):
                yield from _strict_problems(child, f"{at}.{name}" if at else name)
    items = schema_node.get("items")
    if isinstance(items, Mapping):
        yield from _strict_problems(items, f"{at}[]")


def _schema_problems(
    validator: Draft202012Validator, instance: Any
) -> list[tuple[FieldPath, str, str | None]]:
    found: list[tuple[FieldPath, str, str | None]] = []
    for error in validator.iter_errors(instance):
        for item in _explain(error):
            if item not in found:
                found.append(item)
    return sorted(found, key=lambda item: [str(p) for p in item[0]])


def _explain(error: ValidationError) -> Iterator[tuple[FieldPath, str, str | None]]:
    """One schema error as located, human problems (``oneOf`` picks the branch by ``type``)."""
    path: FieldPath = tuple(error.absolute_path)
    schema_node = error.schema if isinstance(error.schema, dict) else {}
    hint = schema_node.get("x-hints", {}).get(error.validator) or schema_node.get("x-hint")
    custom = schema_node.get("x-messages", {}).get(error.validator)
    in_property_names = "propertyNames" in error.relative_schema_path
    if in_property_names:
        path = path + (error.instance,)
    validator = error.validator
    value = error.validator_value
    instance = error.instance
    if validator in ("oneOf", "anyOf"):
        yield from _explain_branches(error, path)
        return
    if custom:
        yield path, custom, hint
        return
    if validator == "required":
        missing = re.match(r"^'(.*)' is a required property$", error.message)
        yield path, f"'{missing.group(1) if missing else error.message}' is required", hint
    elif validator == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema_node.get("properties", {}))
        for key in instance:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            key_hint = (
                f"did you mean '{close[0]}'?"
                if close
                else ("allowed: " + ", ".join(allowed) if allowed else None)
            )
            yield path + (key,), f"unknown field '{key}'", key_hint
    elif validator == "type":
        expected = [value] if isinstance(value, str) else list(value)
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
        type_hint = hint
        if "string" in expected and isinstance(instance, int | float | bool):
            type_hint = type_hint or "quote the value"
        yield path, f"must be {words}, not {_json_type(instance)}", type_hint
    elif validator == "enum":
        choices = ", ".join(str(v) for v in value)
        yield path, f"{_short(instance)} is not one of: {choices}", hint
    elif validator == "const":
        yield path, f"must be {_short(value)}, not {_short(instance)}", hint
    elif validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        relation = {
            "minimum": ">=",
            "maximum": "<=",
            "exclusiveMinimum": ">",
            "exclusiveMaximum": "<",
        }[validator]
        yield path, f"{instance} is out of range: must be {relation} {value}", hint
    elif validator == "maxLength":
        yield path, f"is {len(instance):,} characters long; the limit is {value:,}", hint
    elif validator == "minLength":
        yield (
            path,
            "must not be empty" if value == 1 else f"needs at least {value} characters",
            hint,
        )
    elif validator == "maxItems":
        yield path, f"has {len(instance)} items; the limit is {value}", hint
    elif validator == "minItems":
        yield path, f"needs at least {value} item{'s' if value != 1 else ''}", hint
    elif validator == "maxProperties":
        yield path, f"has {len(instance)} keys; the limit is {value}", hint
    elif validator == "pattern":
        yield path, f"{_short(instance)} does not match {value}", hint
    else:
        yield path, error.message, hint


def _explain_branches(
    error: ValidationError, path: FieldPath
) -> Iterator[tuple[FieldPath, str, str | None]]:
    branches = error.validator_value
    instance = error.instance
    schema_node = error.schema if isinstance(error.schema, dict) else {}
    if isinstance(instance, dict) and "type" in instance:
        consts = [
            b.get("properties", {}).get("type", {}).get("const")
            for b in branches
            if isinstance(b, dict)
        ]
        if instance["type"] in consts:
            index = consts.index(instance["type"])
            for sub in error.context or []:
                if sub.relative_schema_path and sub.relative_schema_path[0] == index:
                    yield from _explain(sub)
            return
        choices = ", ".join(str(c) for c in consts if c is not None)
        yield path + ("type",), f"{_short(instance['type'])} is not one of: {choices}", None
        return
    same_type = [
        index
        for index, branch in enumerate(branches)
        if isinstance(branch, dict) and _json_type(instance) == _TYPE_WORDS.get(branch.get("type"))
    ]
    if len(same_type) == 1:
        for sub in error.context or []:
            if sub.relative_schema_path and sub.relative_schema_path[0] == same_type[0]:
                yield from _explain(sub)
        return
    yield path, f"{_short(instance)} is not valid here", schema_node.get("description")
