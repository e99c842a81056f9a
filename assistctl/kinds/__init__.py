"""The registry of resource kinds: every stage iterates over it and never names a kind.

Kinds are kept in dependency order (a kind after the kinds its resources point at), which is the
order they are planned and created in; deletes run in the reverse order. A new kind is one
module with a ``ResourceKind`` subclass and its JSON Schema, added to ``KINDS`` here (or, for a
kind that lives outside the package, to a ``Registry`` passed to the stages).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from assistctl.errors import AssistctlError
from assistctl.kinds.assistant import AssistantKind
from assistctl.kinds.base import ResourceKind
from assistctl.kinds.file import FileKind
from assistctl.kinds.vector_store import VectorStoreKind


class Registry:
    """Kinds in dependency order, found by address form or by manifest ``kind``."""

    def __init__(self, kinds: Iterable[ResourceKind]) -> None:
        self._kinds = _in_dependency_order(list(kinds))
        self._by_name = {kind.name: kind for kind in self._kinds}

    def __iter__(self) -> Iterator[ResourceKind]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def with_kind(self, kind: ResourceKind) -> Registry:
        return Registry([*self._kinds, kind])

    def named(self, name: str) -> ResourceKind:
        return self._by_name[name]

    def get(self, name: str) -> ResourceKind | None:
        return self._by_name.get(name)

    def for_manifest(self, manifest_kind: str) -> ResourceKind | None:
        return next((k for k in self._kinds if k.manifest_kind == manifest_kind), None)

    def position(self, name: str) -> int:
        return self._kinds.index(self._by_name[name])

    @property
    def manifest_kinds(self) -> tuple[ResourceKind, ...]:
        return tuple(k for k in self._kinds if k.manifest_kind is not None)


def _in_dependency_order(kinds: list[ResourceKind]) -> tuple[ResourceKind, ...]:
    names = {kind.name for kind in kinds}
    ordered: list[ResourceKind] = []
    placed: set[str] = set()
    while len(ordered) < len(kinds):
        ready = [
            k
            for k in kinds
            if k.name not in placed and all(d in placed or d not in names for d in k.depends_on)
        ]
        if not ready:
            stuck = ", ".join(sorted(names - placed))
            raise AssistctlError(f"resource kinds depend on each other in a circle: {stuck}")
        for kind in ready:
            ordered.append(kind)
            placed.add(kind.name)
    return tuple(ordered)


KINDS = Registry([FileKind(), VectorStoreKind(), AssistantKind()])
