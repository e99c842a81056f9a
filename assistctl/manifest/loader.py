"""YAML manifests -> ``model.Desired``: the only place that reads manifests. No network.

Loading runs in one direction: find the files (``sources``), compose YAML keeping the line of
every key and item (``documents``), interpolate ``${VAR}`` (Stack environment vars first, then
the process environment), validate each document against its JSON Schema (``schemas``), then
let each document's kind build its resource, checking what a schema cannot (files on disk,
references between documents, API limits that span fields). Every problem is collected with
its file, line and field path, so one run reports them all.
"""

from __future__ import annotations

import contextlib
import difflib
import glob
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from assistctl.errors import ManifestError, Problem
from assistctl.kinds import KINDS, Registry
from assistctl.kinds.base import FieldPath, NamedKind, ResourceKind
from assistctl.manifest.documents import (
    Document,
    Interpolation,
    ProblemLog,
    node_type,
    parse,
    peek_kind,
    short,
)
from assistctl.manifest.interpolation import scalar_text
from assistctl.manifest.schemas import schema_problems, validator
from assistctl.manifest.smoke_tests import SmokeTestBuilder, suggestion
from assistctl.manifest.sources import MANIFEST_SUFFIXES, Sources, discover, display_path
from assistctl.model import (
    API_VERSION,
    NAME_PATTERN,
    Address,
    Desired,
    DesiredFile,
    DesiredResource,
    DesiredSmokeTest,
    Location,
    StackSettings,
)
from assistctl.schemas import packaged_schema

MAX_FILE_BYTES = 512 * 1024 * 1024
_DOCUMENT_SCHEMAS = {"Stack": "stack.json", "SmokeTest": "smoke_test.json"}


def schema(kind: str, kinds: Registry = KINDS) -> dict[str, Any]:
    """The JSON Schema of a manifest kind (``Stack``, ``SmokeTest`` or a resource kind)."""
    if kind in _DOCUMENT_SCHEMAS:
        return packaged_schema(_DOCUMENT_SCHEMAS[kind])
    resource_kind = kinds.for_manifest(kind)
    if resource_kind is None:
        raise KeyError(kind)
    return dict(resource_kind.schema())


def manifest_kinds(kinds: Registry = KINDS) -> list[str]:
    """Every ``kind`` a manifest document may have, in the order people meet them."""
    declared = [str(k.manifest_kind) for k in reversed(tuple(kinds.manifest_kinds))]
    return ["Stack", *declared, "SmokeTest"]


class Loader:
    """Collects problems while loading; one instance per load."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        env: str | None,
        environ: Mapping[str, str] | None,
        known: Desired | None = None,
        kinds: Registry = KINDS,
    ) -> None:
        self.paths = [Path(p) for p in paths] or [Path(".")]
        self.env = env
        self.environ = dict(os.environ if environ is None else environ)
        self.known = known
        self.kinds = kinds
        self.log = ProblemLog()
        self.digests: dict[Path, tuple[str, int]] = {}
        self.texts: dict[Path, str] = {}
        self.environments: dict[str, Any] = {}
        self.incomplete: set[tuple[str | None, str | None]] = set()
        self.declared_names: dict[str, set[str]] = {}
        self.variable_origins: dict[str, str] = {}  # where each --env variable is set
        self.grader: dict[str, Any] | None = None

    # -- orchestration

    def run(
        self, *, with_tests: bool, require_documents: bool = False
    ) -> tuple[Desired, tuple[DesiredSmokeTest, ...]]:
        """Load everything; ``load`` needs resources (an empty Desired would plan to delete the
        whole stack), ``validate`` accepts smoke tests alone."""
        sources = discover(self.paths, with_tests=with_tests)
        for found in sources.problems:
            self.log.report(found.shown, (), found.message, found.hint)
        documents = [doc for path in sources.manifests for doc in parse(path, False, self.log)]
        if with_tests:
            documents += [doc for path in sources.tests for doc in parse(path, True, self.log)]
        for doc in documents:
            doc.kind = peek_kind(doc.node)
        stack_root = self.stack_root(documents, sources)
        complete = any(
            path.is_dir() and stack_root.is_relative_to(path.resolve()) for path in self.paths
        )
        variables = self.environment_variables(documents)
        interpolation = Interpolation(self.log, variables, self.environ, self.defined_in)
        for doc in documents:
            if doc.kind != "Stack":
                interpolation.apply(doc)
        for doc in documents:
            self.check_document(doc)
        manifests = [d for d in documents if not d.is_test_file and d.kind != "SmokeTest"]
        missing = not documents if require_documents else not with_tests and not manifests
        if missing and not self.log:
            shown = ", ".join(display_path(p) for p in self.paths)
            names = [k for k in manifest_kinds(self.kinds) if k != "SmokeTest"]
            listed = ", ".join(names[:-1]) + " or " + names[-1]
            self.log.report(shown, (), f"no manifests found ({listed})")
        self.check_unique_names(documents)
        stack = self.stack_name(
            documents, stack_root.name if stack_root != sources.root else sources.default_stack
        )
        for doc in documents:
            if doc.kind is not None and doc.name is not None:
                self.declared_names.setdefault(doc.kind, set()).add(doc.name)
        resources = self.build_resources(documents, stack_root)
        moves = self.moves(documents, resources)
        smoke_tests = self.build_smoke_tests(documents, resources)
        if self.log:
            raise ManifestError(sorted(self.log.problems, key=lambda p: (p.file, p.line or 0)))
        desired = Desired(
            stack=stack,
            env=self.env,
            root=stack_root,
            complete=complete,
            paths=tuple(str(p) for p in self.paths),
            moves=moves,
            resources=tuple(resources.values()),
            smoke_tests=tuple(t for t in smoke_tests if not _is_from_tests_dir(t, documents)),
            sources=tuple(dict.fromkeys(d.display for d in documents if not d.is_test_file)),
            grader=self.grader,
            settings=self.stack_settings(documents),
        )
        return desired, tuple(smoke_tests)

    # -- the Stack and its environments

    def environment_names(self) -> list[str]:
        """The environments of the stack's Stack document, read without loading the rest
        (whose ``${VAR}``s may need one of them); none when it cannot be read."""
        sources = discover(self.paths, with_tests=False)
        documents = [doc for path in sources.manifests for doc in parse(path, False, self.log)]
        for doc in documents:
            doc.kind = peek_kind(doc.node)
        self.stack_root(documents, sources)
        self.environment_variables(documents)
        return sorted(self.environments)

    def stack_root(self, documents: list[Document], sources: Sources) -> Path:
        """Where the stack lives: the directory of its Stack document. When only files are
        given and none holds it (some files of a stack), it is looked for beside them and in
        the directories above, up to the repository's root, and its Stack document joins the
        load (its environments and name apply to a lone file too)."""
        stacks = [d for d in documents if d.kind == "Stack"]
        if stacks:
            return stacks[0].file.parent.resolve()
        if any(path.is_dir() for path in self.paths):
            return sources.root.resolve()  # a directory given is the stack's root
        loaded = {path.resolve() for path in (*sources.manifests, *sources.tests)}
        given_root = sources.root
        directory = given_root.resolve()
        while True:
            for candidate in _yaml_files_in(directory):
                if candidate.resolve() in loaded or not _declares_a_stack(candidate):
                    continue
                found = [
                    d for d in parse(candidate, False, self.log) if peek_kind(d.node) == "Stack"
                ]
                for doc in found:
                    doc.kind = "Stack"
                documents.extend(found)
                return directory
            if (directory / ".git").exists() or directory.parent == directory:
                return given_root.resolve()
            directory = directory.parent

    def environment_variables(self, documents: list[Document]) -> dict[str, str]:
        """Vars of the environment chosen with ``--env`` (validating the Stack document)."""
        stacks = [d for d in documents if d.kind == "Stack"]
        for extra in stacks[1:]:
            self.log.report(
                extra,
                ("kind",),
                f"only one Stack document is allowed (the first is at {stacks[0].where})",
            )
        environments: dict[str, Any] = {}
        if stacks:
            Interpolation(self.log, {}, self.environ, self.defined_in).apply(stacks[0])
            self.check_document(stacks[0])
            spec_environments = stacks[0].spec.get("environments")
            if stacks[0].valid and isinstance(spec_environments, dict):
                environments = spec_environments
            if stacks[0].valid and isinstance(stacks[0].spec.get("grader"), dict):
                self.grader = stacks[0].spec["grader"]
        self.environments = environments
        if self.env is None:
            return {}
        if self.env not in environments:
            known = ", ".join(sorted(environments)) or "none defined"
            where: Document | str = stacks[0] if stacks else "--env"
            close = difflib.get_close_matches(self.env, sorted(environments), n=1)
            self.log.report(
                where,
                ("spec", "environments") if stacks else (),
                f"unknown environment '{self.env}' (known: {known})",
                hint=f"did you mean --env {close[0]}?"
                if close
                else "define it under Stack spec.environments, or pick a known one with --env",
            )
            # Every ${VAR} of that environment would be undefined: the cause alone is reported.
            raise ManifestError(list(self.log.problems))
        variables = (environments[self.env] or {}).get("vars") or {}
        for name in variables:
            field: FieldPath = ("spec", "environments", self.env, "vars", name)
            self.variable_origins[name] = f"set in {stacks[0].display}:{stacks[0].line_of(field)}"
        return {name: scalar_text(value) for name, value in variables.items()}

    def stack_settings(self, documents: list[Document]) -> StackSettings:
        """``spec.api`` and ``spec.release_dir``, the environment's own winning. A stack-wide
        release directory gets the environment as a subdirectory, so two environments never
        write the same release file; relative paths start at the Stack document's directory."""
        stacks = [d for d in documents if d.kind == "Stack" and d.valid]
        if not stacks:
            return StackSettings()
        spec = stacks[0].spec
        here = stacks[0].file.parent
        environment = (self.environments.get(self.env) or {}) if self.env else {}
        release_dir: Path | None = None
        if environment.get("release_dir"):
            release_dir = here / str(environment["release_dir"])
        elif spec.get("release_dir"):
            release_dir = here / str(spec["release_dir"])
            if self.env:
                release_dir = release_dir / self.env
        return StackSettings(api=environment.get("api") or spec.get("api"), release_dir=release_dir)

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

    def stack_name(self, documents: list[Document], default: str | None) -> str:
        stack_docs = [d for d in documents if d.kind == "Stack" and d.valid]
        name = stack_docs[0].name if stack_docs else None
        if name:
            return name
        name = default or "stack"
        if not re.fullmatch(NAME_PATTERN, name) and not self.log:
            self.log.report(
                display_path(self.paths[0]),
                (),
                f"the directory name '{name}' cannot be a stack name",
                hint="add a Stack document with metadata.name (letters, digits, '_', '.', '-')",
            )
        return name

    # -- per-document checks

    def check_document(self, doc: Document) -> None:
        """apiVersion, kind and the kind's JSON Schema. Marks the document valid if all pass."""
        if doc.checked:
            return
        doc.checked = True
        if not isinstance(doc.node, yaml.MappingNode):
            self.log.report(
                doc,
                (),
                f"a manifest document must be a mapping, not {node_type(doc.node)}",
                hint="start with apiVersion: assistctl/v1 and kind: ...",
            )
            return
        if not isinstance(doc.body, dict):
            return
        if "apiVersion" not in doc.body and "kind" not in doc.body:
            self.log.report(
                doc,
                (),
                "not an assistctl manifest: no apiVersion or kind",
                hint="start it with apiVersion: assistctl/v1 and kind: ..., or keep other YAML "
                "out of the stack directory",
            )
            return
        problems_before = len(self.log)
        version = doc.body.get("apiVersion")
        if version != API_VERSION:
            self.log.report(
                doc,
                ("apiVersion",),
                f"unsupported apiVersion {short(version)}"
                if version
                else "'apiVersion' is required",
                hint=f"use apiVersion: {API_VERSION}",
            )
        kind = doc.body.get("kind")
        known = manifest_kinds(self.kinds)
        if not isinstance(kind, str) or kind not in known:
            self.log.report(
                doc,
                ("kind",),
                f"unknown kind {short(kind)}" if kind else "'kind' is required",
                hint="kind is one of " + ", ".join(known),
            )
            return
        if doc.is_test_file and kind != "SmokeTest":
            self.log.report(
                doc,
                ("kind",),
                f"only SmokeTest documents belong in tests/, not {kind}",
                hint="move it next to the other manifests",
            )
            return
        doc.buildable = isinstance(doc.name, str) or kind == "Stack"
        failed: set[FieldPath] = set()
        for path, message, hint in schema_problems(validator(schema(kind, self.kinds)), doc.body):
            if path == ("apiVersion",) or message == "'apiVersion' is required":
                continue
            self.log.report(doc, path, message + self.came_from(doc, path), hint)
            missing = re.fullmatch(r"'(.+)' is required", message)
            failed.add(path + (missing.group(1),) if missing else path)
        doc.valid = not failed and not doc.reported and len(self.log) == problems_before
        doc.reported |= failed

    def came_from(self, doc: Document, path: FieldPath) -> str:
        """Where an interpolated value came from, for problems with it: `` (the value of
        ${TEMPERATURE}, set in stack.yaml:9)``."""
        names = doc.variables.get(path) or ()
        origins = [
            f"${{{name}}}, {self.variable_origins.get(name, 'from the environment')}"
            for name in names
            if name in self.variable_origins or name in self.environ
        ]
        return f" (the value of {'; '.join(origins)})" if origins else ""

    def moves(
        self, documents: list[Document], resources: Mapping[str, DesiredResource]
    ) -> tuple[tuple[Address, Address], ...]:
        """The Stack's ``moved`` renames: the new name must be declared and the old one no
        longer, within one kind that carries logical names."""
        stacks = [d for d in documents if d.kind == "Stack" and d.valid]
        if not stacks:
            return ()
        found: list[tuple[Address, Address]] = []
        for index, entry in enumerate(stacks[0].spec.get("moved") or ()):
            where: FieldPath = ("spec", "moved", index)
            old, new = Address.parse(entry["from"]), Address.parse(entry["to"])
            kind = self.kinds.get(new.kind)
            if old.kind != new.kind or not isinstance(kind, NamedKind):
                movable = ", ".join(k.name for k in self.kinds if isinstance(k, NamedKind))
                self.log.report(
                    stacks[0],
                    where,
                    f"{old} cannot move to {new}: a move keeps its kind, one of {movable}",
                )
                continue
            if new not in resources:
                self.log.report(
                    stacks[0], where + ("to",), f"{new} is not declared in the manifests"
                )
            elif old in resources:
                self.log.report(
                    stacks[0],
                    where + ("from",),
                    f"{old} is still declared in the manifests: only a name no manifest uses "
                    "any more can move",
                )
            else:
                found.append((old, new))
        return tuple(found)

    def check_unique_names(self, documents: list[Document]) -> None:
        first: dict[tuple[str, str], Document] = {}
        for doc in documents:
            misplaced = doc.is_test_file and doc.kind != "SmokeTest"
            if doc.kind in (None, "Stack") or doc.name is None or misplaced:
                continue
            key = (str(doc.kind), doc.name)
            if key in first:
                self.log.report(
                    doc,
                    ("metadata", "name"),
                    f"duplicate {doc.kind} name '{doc.name}' (first at "
                    f"{first[key].display}:{first[key].line_of(('metadata', 'name'))})",
                    hint="logical names are unique per kind across all files of the stack",
                )
            else:
                first[key] = doc

    # -- resources

    def build_resources(self, documents: list[Document], root: Path) -> dict[str, DesiredResource]:
        """Each resource document built by its kind, kinds in dependency order, each logical
        name once (a duplicate was reported above)."""
        resources: dict[str, DesiredResource] = {}
        for kind in self.kinds.manifest_kinds:
            for doc in documents:
                if doc.kind != kind.manifest_kind or not doc.buildable:
                    continue
                address = kind.address(str(doc.name))
                if address in resources:
                    continue
                resource = self.guarded(doc, kind, root)
                if resource is not None:
                    resources[address] = resource
        return resources

    def guarded(self, doc: Document, kind: ResourceKind, root: Path) -> DesiredResource | None:
        """A document that failed its schema is still built, for its other problems, but
        quietly gives up on shapes the schema already reported, and yields nothing that other
        documents would be checked against (its name goes to ``incomplete``)."""
        context = _DocumentContext(self, doc, root)
        if doc.valid:
            return kind.build(context)
        self.incomplete.add((doc.kind, doc.name))
        with contextlib.suppress(KeyError, TypeError, AttributeError, ValueError, IndexError):
            kind.build(context)
        return None

    def build_smoke_tests(
        self, documents: list[Document], resources: Mapping[str, DesiredResource]
    ) -> list[DesiredSmokeTest]:
        if self.known is not None:
            resources = {r.address: r for r in self.known.resources}
        has_manifests = self.known is not None or any(
            d.kind is not None and d.kind != "SmokeTest" for d in documents
        )
        builder = SmokeTestBuilder(self.log, resources, has_manifests, self.incomplete)
        tests: list[DesiredSmokeTest] = []
        for doc in documents:
            if doc.kind != "SmokeTest" or not doc.buildable:
                continue
            if doc.valid:
                tests.extend(builder.build(doc))
                continue
            with contextlib.suppress(KeyError, TypeError, AttributeError, ValueError, IndexError):
                builder.build(doc)
        return tests

    # -- files

    def expand_files(
        self, doc: Document, path: FieldPath, patterns: Sequence[str], root: Path
    ) -> list[tuple[int, DesiredFile]]:
        """Each pattern's files (globs expanded), paired with the pattern's index."""
        base = doc.file.parent
        found: list[tuple[int, DesiredFile]] = []
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
                    self.log.report(
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
        self, doc: Document, where: FieldPath, source: Path, given: str, root: Path
    ) -> DesiredFile | None:
        source = Path(os.path.abspath(source))
        relative_hint = (
            f"paths are relative to the manifest's directory ({display_path(doc.file.parent)}/)"
        )
        if not source.exists():
            self.log.report(doc, where, f"file not found: {given}", hint=relative_hint)
            return None
        if source.is_dir():
            self.log.report(
                doc, where, f"{given} is a directory", hint=f"use a glob such as {given}/**/*"
            )
            return None
        size = source.stat().st_size
        if size == 0:
            self.log.report(doc, where, f"{given} is empty", hint="the API refuses empty files")
            return None
        if size > MAX_FILE_BYTES:
            self.log.report(doc, where, f"{given} is larger than the API's 512 MB file limit")
            return None
        if source not in self.digests:
            try:
                with source.open("rb") as stream:
                    digest = hashlib.file_digest(stream, "sha256").hexdigest()
            except OSError as exc:
                self.log.report(doc, where, f"cannot read {given}: {exc.strerror or exc}")
                return None
            self.digests[source] = (digest, size)
        sha256, size = self.digests[source]
        relative = os.path.relpath(source, root).replace(os.sep, "/")
        return DesiredFile(path=relative, source=source, sha256=sha256, bytes=size)

    def read_text(self, doc: Document, where: FieldPath, given: str) -> str | None:
        source = doc.file.parent / given
        if source in self.texts:
            return self.texts[source]
        hint = f"paths are relative to the manifest's directory ({display_path(doc.file.parent)}/)"
        if not source.is_file():
            message = f"{given} is a directory" if source.is_dir() else f"file not found: {given}"
            self.log.report(doc, where, message, hint=hint)
            return None
        try:
            raw = source.read_bytes()
        except OSError as exc:
            self.log.report(doc, where, f"cannot read {given}: {exc.strerror or exc}")
            return None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = None
        if text is None or "\0" in text:
            self.log.report(doc, where, f"{given} is not UTF-8 text", hint="save it as UTF-8")
            return None
        self.texts[source] = text
        return text


class _DocumentContext:
    """One document as its kind sees it while building (``kinds.base.BuildContext``)."""

    def __init__(self, loader: Loader, doc: Document, root: Path) -> None:
        self.loader = loader
        self.doc = doc
        self.root = root
        self.name = str(doc.name)
        self.spec: Mapping[str, Any] = doc.spec
        self.location = Location(doc.display, doc.line)
        self.directory = doc.file.parent

    def problem(self, path: FieldPath, message: str, hint: str | None = None) -> None:
        self.loader.log.report(self.doc, path, message, hint)

    def problem_in(
        self, given: str, line: int | None, field: str, message: str, hint: str | None = None
    ) -> None:
        shown = display_path(self.doc.file.parent / given)
        self.loader.log.problems.append(Problem(shown, line, field, message, hint))

    def expand_files(
        self, path: FieldPath, patterns: Sequence[str]
    ) -> list[tuple[int, DesiredFile]]:
        return self.loader.expand_files(self.doc, path, patterns, self.root)

    def read_text(self, path: FieldPath, given: str) -> str | None:
        return self.loader.read_text(self.doc, path, given)

    def declared(self, manifest_kind: str) -> set[str]:
        return set(self.loader.declared_names.get(manifest_kind, set()))

    def suggestion(self, name: str, candidates: set[str], what: str) -> str:
        return suggestion(name, candidates, what)


def _is_from_tests_dir(test: DesiredSmokeTest, documents: list[Document]) -> bool:
    return any(
        d.is_test_file and d.display == test.location.file and d.line == test.location.line
        for d in documents
    )


_STACK_KIND = re.compile(r"^kind:\s*[\"']?Stack[\"']?\s*(#.*)?$", re.MULTILINE)


def _yaml_files_in(directory: Path) -> list[Path]:
    try:
        return sorted(
            p for p in directory.iterdir() if p.suffix.lower() in MANIFEST_SUFFIXES and p.is_file()
        )
    except OSError:
        return []


def _declares_a_stack(path: Path) -> bool:
    try:
        return bool(_STACK_KIND.search(path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False
