"""The data every stage passes on: desired and live resources, the changes between them, and the
operations that carry the changes out. No I/O here.

Resources are addressed ``<kind>.<logical name>`` (``assistant.support-bot``,
``vector_store.handbook``, ``file.docs/returns.md``). A resource's *spec* is its kind's typed,
frozen description (see ``assistctl.kinds``); its *view* is that spec as canonical JSON, what
the planner diffs and the renderer and plan files show. The reserved ownership keys
(``assistctl_stack``, ``assistctl_name``) never appear in a view; creates and updates add them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

API_VERSION = "assistctl/v1"
STACK_KEY = "assistctl_stack"
NAME_KEY = "assistctl_name"
RESERVED_PREFIX = "assistctl_"
SHA256_ATTRIBUTE = "assistctl_sha256"
PATH_ATTRIBUTE = "assistctl_path"
MAX_METADATA_KEYS = 16
# Set by a backend on an object whose stored form was changed outside the fields it reads (a
# release file edited by hand); the value says how. The planner shows it as drift.
ALTERED_KEY = "assistctl_altered"

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"

_UPLOAD_SEPARATOR = "~"
_UPLOAD_PREFIX = "assistctl"


def owner_of(stack: str, env: str | None) -> str:
    """The value of ``assistctl_stack`` for a stack in an environment."""
    return f"{stack}/{env}" if env else stack


def ownership(metadata: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """``(assistctl_stack, assistctl_name)`` as a resource's metadata tags it (None: not set).
    A resource is owned only with both: without a logical name it cannot be planned against."""
    metadata = metadata or {}
    owner, name = metadata.get(STACK_KEY), metadata.get(NAME_KEY)
    return (str(owner) if owner else None, str(name) if name else None)


def ownership_metadata(owner: str, name: str) -> dict[str, str]:
    return {STACK_KEY: owner, NAME_KEY: name}


def upload_filename(owner: str, sha256: str, basename: str) -> str:
    """The filename an upload carries: files have no metadata, so ownership and identity live here.

    ``assistctl~<owner with / as +>~<sha256>~<basename>``. Logical names cannot contain ``~`` or
    ``+``, so the parse below is unambiguous; the basename stays last so its extension still
    tells the API the file type.
    """
    return _UPLOAD_SEPARATOR.join((_UPLOAD_PREFIX, owner.replace("/", "+"), sha256, basename))


def parse_upload_filename(filename: str) -> tuple[str, str, str] | None:
    """Inverse of ``upload_filename``: ``(owner, sha256, basename)``, or None for other files."""
    parts = filename.split(_UPLOAD_SEPARATOR, 3)
    if len(parts) != 4 or parts[0] != _UPLOAD_PREFIX:
        return None
    _, owner, sha256, basename = parts
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        return None
    return owner.replace("+", "/"), sha256, basename


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest_of(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


@dataclass(frozen=True)
class Location:
    """Where a document starts, for messages that point at the manifest."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Address(str):
    """``<kind>.<name>``, parsed once: a string (so it prints, sorts and compares as one) that
    knows its ``kind`` and ``name``. Names may contain dots (file paths); kinds never do."""

    kind: str
    name: str

    def __new__(cls, kind: str, name: str) -> Address:
        address = super().__new__(cls, f"{kind}.{name}")
        address.kind = kind
        address.name = name
        return address

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (self.kind, self.name)

    @classmethod
    def parse(cls, text: str) -> Address:
        kind, separator, name = text.partition(".")
        if not separator or not kind or not name:
            raise ValueError(f"{text!r} is not an address (KIND.NAME)")
        return cls(kind, name)

    @property
    def target(self) -> str:
        """The form ``--target`` and ``import`` take: ``KIND/NAME``."""
        return f"{self.kind}/{self.name}"


class Spec(Protocol):
    """What every kind's typed spec offers the stages that do not know the kind."""

    def view(self) -> dict[str, Any]:
        """The spec as canonical JSON: what is diffed, rendered and written to plans."""


# --- desired state (from manifests) -------------------------------------------------------


@dataclass(frozen=True)
class DesiredFile:
    """A local file to upload. ``path`` is relative to the stack root, with forward slashes."""

    path: str
    source: Path
    sha256: str
    bytes: int

    @property
    def basename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DesiredResource:
    """One resource a manifest declares. ``files`` are the uploads it uses (attached to a
    vector store, given to a code interpreter); ``same_content`` lists ``(path, kept path)``
    pairs: an upload is held once, so a path whose bytes equal an earlier path's is served by
    that one."""

    address: Address
    spec: Spec
    location: Location | None = None
    files: tuple[DesiredFile, ...] = ()
    same_content: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.address.name


@dataclass(frozen=True)
class DesiredSmokeTest:
    """A SmokeTest document after interpolation; ``spec`` is the validated mapping."""

    name: str
    assistant: str
    spec: Mapping[str, Any]
    location: Location


@dataclass(frozen=True)
class StackSettings:
    """How the Stack document says the stack is deployed, the chosen environment's overrides
    applied: ``api`` (``assistants`` or ``responses``; None: the account decides) and, in
    responses mode, the directory its releases are written to (None: the default)."""

    api: str | None = None
    release_dir: Path | None = None


@dataclass(frozen=True)
class Desired:
    """What the manifests describe. ``complete`` is False when only some of the stack's files
    were given: resources they do not mention may be declared in the others, so nothing is
    pruned."""

    stack: str
    env: str | None
    root: Path
    resources: tuple[DesiredResource, ...] = ()
    smoke_tests: tuple[DesiredSmokeTest, ...] = ()
    sources: tuple[str, ...] = ()
    complete: bool = True
    paths: tuple[str, ...] = ()  # as given on the command line, for hints that rerun it
    moves: tuple[tuple[Address, Address], ...] = ()  # (from, to): renames that keep the object
    grader: Mapping[str, Any] | None = None  # the Stack's spec.grader, for graded smoke tests

    def arguments(self) -> str:
        """The paths and ``--env`` a command for this stack takes, shell-quoted."""
        words = [shlex.quote(p) for p in self.paths]
        if self.env:
            words += ["--env", shlex.quote(self.env)]
        return " ".join(words)

    settings: StackSettings = field(default_factory=StackSettings)

    @property
    def owner(self) -> str:
        return owner_of(self.stack, self.env)

    def of_kind(self, kind: str) -> tuple[DesiredResource, ...]:
        return tuple(r for r in self.resources if r.address.kind == kind)

    def find(self, address: str) -> DesiredResource | None:
        return next((r for r in self.resources if r.address == address), None)

    @property
    def files(self) -> tuple[DesiredFile, ...]:
        """Every file any resource uses, one per path, sorted by path."""
        by_path: dict[str, DesiredFile] = {}
        for resource in self.resources:
            for file in resource.files:
                by_path.setdefault(file.path, file)
        return tuple(by_path[p] for p in sorted(by_path))

    def digest(self) -> str:
        """Changes whenever anything that would change the plan changes."""
        return digest_of(
            {
                "owner": self.owner,
                "resources": {r.address: r.spec.view() for r in self.resources},
                "files": {f.path: f.sha256 for f in self.files},
            }
        )


# --- live state (from the account) --------------------------------------------------------


@dataclass(frozen=True)
class LiveResource:
    """An object the stack owns, as the account returned it. ``name`` is its logical name (for
    uploads, the content's sha256); ``children`` are its attached objects (a vector store's
    files), as returned too."""

    kind: str
    id: str
    name: str
    owner: str
    data: Mapping[str, Any]
    children: tuple[Mapping[str, Any], ...] = ()
    fingerprint: Any = None

    @property
    def created_at(self) -> int:
        return int(self.data.get("created_at") or 0)

    def digest_view(self) -> Any:
        """What makes a saved plan stale when it changes: the kind's ``fingerprint`` (its
        volatile fields left out), else the whole object."""
        if self.fingerprint is not None:
            return self.fingerprint
        return {"id": self.id, **self.data}


@dataclass(frozen=True)
class ForeignResource:
    """A resource this stack does not own, read only to explain clashes. ``owner`` is None when
    no stack owns it."""

    kind: str
    id: str
    display_name: str | None
    owner: str | None
    logical_name: str | None = None


@dataclass(frozen=True)
class Live:
    owner: str
    resources: tuple[LiveResource, ...] = ()
    foreign: tuple[ForeignResource, ...] = field(default=())

    def of_kind(self, kind: str) -> tuple[LiveResource, ...]:
        return tuple(r for r in self.resources if r.kind == kind)

    def by_id(self) -> dict[str, LiveResource]:
        return {r.id: r for r in self.resources}

    def digest(self) -> str:
        """Stable across snapshots of an unchanged account: volatile fields are left out."""
        views = sorted((r.kind, canonical_json(r.digest_view())) for r in self.resources)
        return digest_of({"owner": self.owner, "resources": views})


# --- the plan ------------------------------------------------------------------------------


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NO_OP = "no-op"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "no-op": " "}[
            self.value
        ]

    @property
    def past_tense(self) -> str:
        return {"create": "created", "update": "updated", "replace": "replaced"}.get(
            self.value, "deleted"
        )


@dataclass(frozen=True)
class Change:
    """One resource's planned change.

    ``before``/``after`` are views (None for create/delete respectively); ``fields`` lists the
    changed top-level fields; ``id`` is the live API id when the resource exists. An upload no
    manifest uses any more is addressed ``file.<basename>@<sha256[:12]>``.
    """

    address: Address
    action: Action
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    fields: tuple[str, ...] = ()
    reason: str = ""
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.address, Address):
            object.__setattr__(self, "address", Address.parse(self.address))

    @property
    def kind(self) -> str:
        return self.address.kind

    @property
    def name(self) -> str:
        return self.address.name


class Verb(StrEnum):
    """The writes apply can make (``wait`` only reads: it waits for a store's indexing)."""

    UPLOAD = "upload"
    CREATE = "create"
    UPDATE = "update"
    ATTACH = "attach"
    RETAG = "retag"
    DETACH = "detach"
    WAIT = "wait"
    DELETE = "delete"

    @property
    def writes(self) -> bool:
        return self is not Verb.WAIT


@dataclass(frozen=True)
class Ref:
    """The id an earlier operation of the same plan produces (an upload, a create)."""

    key: str


@dataclass(frozen=True)
class Operation:
    """One request apply makes, in terms the plan can show before any id exists.

    ``target`` is the object acted on (an id, or a ``Ref`` to the create that makes it);
    ``body`` is the request, where a ``Ref`` stands for an id not known yet; ``after`` names
    operations that must be finished first beyond those ``Ref``s imply (detach after attach).
    """

    key: str
    verb: Verb
    address: Address
    collection: str
    target: str | Ref | None = None
    body: Mapping[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    summary: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.address, Address):
            object.__setattr__(self, "address", Address.parse(self.address))

    def references(self) -> Iterator[str]:
        """The keys of the operations whose results this one uses."""
        if isinstance(self.target, Ref):
            yield self.target.key
        yield from _refs_in(self.body)


def _refs_in(value: Any) -> Iterator[str]:
    if isinstance(value, Ref):
        yield value.key
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _refs_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _refs_in(item)


@dataclass(frozen=True)
class Plan:
    stack: str
    env: str | None
    changes: tuple[Change, ...]
    desired_digest: str
    live_digest: str
    operations: tuple[Operation, ...] = ()
    warnings: tuple[str, ...] = ()
    destroy: bool = False  # everything the stack owns goes, whatever the manifests say

    @property
    def owner(self) -> str:
        return owner_of(self.stack, self.env)

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NO_OP)

    @property
    def has_changes(self) -> bool:
        return bool(self.pending)

    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action if a is not Action.NO_OP}
        for change in self.pending:
            counts[change.action.value] += 1
        return counts
