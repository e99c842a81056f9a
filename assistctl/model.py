"""The data every stage passes on: desired resources, live resources, and the plan between them.

No I/O here. Desired and live resources are described with *normalised views*: plain dicts in
one canonical shape per kind, so that the planner compares like with like and the renderer and
applier read the same shape. The shapes are:

Assistant view::

    {"name": str, "description": str | None, "model": str, "instructions": str | None,
     "tools": [tool, ...],   # file_search, code_interpreter, then functions by name
     "tool_resources": {"file_search": {"vector_stores": [logical name, ...]},
                        "code_interpreter": {"files": [manifest path, ...]}},
     "temperature": float, "top_p": float, "response_format": "auto" | {...},
     "metadata": {user keys only}}

Vector store view::

    {"name": str, "expires_after": {...} | None, "chunking_strategy": {...},
     "metadata": {user keys only}, "files": {manifest path: sha256, ...}}

File view (one upload, identified by content)::

    {"path": manifest path, "sha256": hex, "bytes": int, "filename": upload filename}

The reserved ownership keys (``assistctl_stack``, ``assistctl_name``) never appear in a view;
the applier adds them to every write.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

STACK_KEY = "assistctl_stack"
NAME_KEY = "assistctl_name"
RESERVED_PREFIX = "assistctl_"
SHA256_ATTRIBUTE = "assistctl_sha256"
PATH_ATTRIBUTE = "assistctl_path"

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"

_UPLOAD_SEPARATOR = "~"
_UPLOAD_PREFIX = "assistctl"


class Kind(StrEnum):
    """Resource kinds, in the order they are created (and reversed for deletes)."""

    FILE = "file"
    VECTOR_STORE = "vector_store"
    ASSISTANT = "assistant"

    @property
    def manifest_kind(self) -> str:
        return {"file": "File", "vector_store": "VectorStore", "assistant": "Assistant"}[self.value]


KIND_ORDER = {Kind.FILE: 0, Kind.VECTOR_STORE: 1, Kind.ASSISTANT: 2}


def owner_of(stack: str, env: str | None) -> str:
    """The value of ``assistctl_stack`` for a stack in an environment."""
    return f"{stack}/{env}" if env else stack


def ownership(metadata: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """``(assistctl_stack, assistctl_name)`` as a resource's metadata tags it (None: not set).
    A resource is owned only with both: without a logical name it cannot be planned against."""
    metadata = metadata or {}
    owner, name = metadata.get(STACK_KEY), metadata.get(NAME_KEY)
    return (str(owner) if owner else None, str(name) if name else None)


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
class DesiredVectorStore:
    """``same_content`` lists ``(path, kept path)`` pairs: a store holds each upload once, so a
    path whose bytes equal an earlier path's is served by that one."""

    name: str
    view: Mapping[str, Any]
    files: tuple[DesiredFile, ...]
    location: Location
    same_content: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DesiredAssistant:
    """``same_content`` as for ``DesiredVectorStore``, for code-interpreter files."""

    name: str
    view: Mapping[str, Any]
    code_interpreter_files: tuple[DesiredFile, ...]
    location: Location
    same_content: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DesiredSmokeTest:
    """A SmokeTest document after interpolation; ``spec`` is the validated mapping."""

    name: str
    assistant: str
    spec: Mapping[str, Any]
    location: Location


@dataclass(frozen=True)
class Desired:
    stack: str
    env: str | None
    root: Path
    assistants: tuple[DesiredAssistant, ...] = ()
    vector_stores: tuple[DesiredVectorStore, ...] = ()
    smoke_tests: tuple[DesiredSmokeTest, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def owner(self) -> str:
        return owner_of(self.stack, self.env)

    @property
    def files(self) -> tuple[DesiredFile, ...]:
        """Every file any resource uses, one per path, sorted by path."""
        by_path: dict[str, DesiredFile] = {}
        for store in self.vector_stores:
            for f in store.files:
                by_path.setdefault(f.path, f)
        for assistant in self.assistants:
            for f in assistant.code_interpreter_files:
                by_path.setdefault(f.path, f)
        return tuple(by_path[p] for p in sorted(by_path))

    def digest(self) -> str:
        """Changes whenever anything that would change the plan changes."""
        return digest_of(
            {
                "owner": self.owner,
                "assistants": {a.name: a.view for a in self.assistants},
                "vector_stores": {v.name: v.view for v in self.vector_stores},
                "files": {f.path: f.sha256 for f in self.files},
            }
        )


# --- live state (from the account) --------------------------------------------------------


@dataclass(frozen=True)
class LiveUpload:
    """An uploaded file owned by a stack (recognised by ``upload_filename``)."""

    id: str
    filename: str
    bytes: int
    owner: str
    sha256: str
    basename: str


@dataclass(frozen=True)
class LiveVectorStoreFile:
    file_id: str
    status: str
    attributes: Mapping[str, Any]
    chunking_strategy: Mapping[str, Any] | None = None
    last_error: Mapping[str, Any] | None = None


def vector_store_ids(assistant: Mapping[str, Any]) -> list[str]:
    """The vector stores an assistant's API object searches (``tool_resources.file_search``)."""
    resources = assistant.get("tool_resources") or {}
    return list((resources.get("file_search") or {}).get("vector_store_ids") or ())


def code_interpreter_file_ids(assistant: Mapping[str, Any]) -> list[str]:
    """The uploads an assistant's API object gives its code interpreter."""
    resources = assistant.get("tool_resources") or {}
    return list((resources.get("code_interpreter") or {}).get("file_ids") or ())


def recorded_paths(attached: Iterable[LiveVectorStoreFile]) -> dict[str, str]:
    """File id -> the manifest path assistctl recorded when it attached the file (the first
    one, should stores disagree). Files attached by hand record none and are left out."""
    paths: dict[str, str] = {}
    for file in attached:
        path = (file.attributes or {}).get(PATH_ATTRIBUTE)
        if path:
            paths.setdefault(file.file_id, str(path))
    return paths


@dataclass(frozen=True)
class LiveVectorStore:
    id: str
    name: str
    owner: str
    data: Mapping[str, Any]
    files: tuple[LiveVectorStoreFile, ...] = ()


@dataclass(frozen=True)
class LiveAssistant:
    id: str
    name: str
    owner: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class ForeignResource:
    """A resource this stack does not own, read only to explain clashes. ``owner`` is None when
    no stack owns it."""

    kind: Kind
    id: str
    display_name: str | None
    owner: str | None
    logical_name: str | None = None


@dataclass(frozen=True)
class Live:
    owner: str
    assistants: tuple[LiveAssistant, ...] = ()
    vector_stores: tuple[LiveVectorStore, ...] = ()
    uploads: tuple[LiveUpload, ...] = ()
    foreign: tuple[ForeignResource, ...] = field(default=())

    def digest(self) -> str:
        """Stable across snapshots of an unchanged account: volatile fields are left out."""
        volatile = {"last_active_at", "usage_bytes", "status", "file_counts", "expires_at"}
        return digest_of(
            {
                "owner": self.owner,
                "assistants": sorted(
                    ({"id": a.id, **{k: v for k, v in a.data.items()}} for a in self.assistants),
                    key=lambda d: d["id"],
                ),
                "vector_stores": sorted(
                    (
                        {
                            "id": v.id,
                            "data": {k: x for k, x in v.data.items() if k not in volatile},
                            "files": sorted([f.file_id, dict(f.attributes)] for f in v.files),
                        }
                        for v in self.vector_stores
                    ),
                    key=lambda d: d["id"],
                ),
                "uploads": sorted(u.id for u in self.uploads),
            }
        )


# --- the plan ------------------------------------------------------------------------------


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NO_OP = "no-op"


@dataclass(frozen=True)
class Change:
    """One resource's planned change.

    ``address`` is ``<kind>.<logical name>`` (``assistant.support-bot``,
    ``vector_store.handbook``, ``file.docs/returns.md``; an upload no manifest uses any more is
    ``file.<basename>@<sha256[:12]>``). ``before``/``after`` are normalised views (None for
    create/delete respectively); ``fields`` lists the changed top-level field paths; ``id`` is
    the live API id when the resource exists.
    """

    address: str
    action: Action
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    fields: tuple[str, ...] = ()
    reason: str = ""
    id: str | None = None

    @property
    def kind(self) -> Kind:
        return Kind(self.address.split(".", 1)[0])

    @property
    def name(self) -> str:
        return self.address.split(".", 1)[1]


@dataclass(frozen=True)
class Plan:
    stack: str
    env: str | None
    changes: tuple[Change, ...]
    desired_digest: str
    live_digest: str
    warnings: tuple[str, ...] = ()

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
