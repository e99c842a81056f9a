"""The only reader of the account: snapshots of what a stack owns, and the lookups that find one
resource again by its ownership keys (apply's recovery after an unknown outcome).

Everything comes from list endpoints, page by page, never one retrieve per resource, so a stack
of hundreds of assistants costs a handful of requests. Every kind's list runs side by side, and
each owned resource's children (a vector store's files) are listed as soon as the page naming
it arrives, in a bounded pool. Reads are idempotent: the backend retries them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from assistctl.backends.base import ApiObject, Backend
from assistctl.kinds import KINDS, Registry
from assistctl.kinds.base import ResourceKind
from assistctl.model import ForeignResource, Live, LiveResource


@dataclass(frozen=True)
class AccountObject:
    """Any object of a kind in the account, whoever owns it (``owner`` None: no stack)."""

    kind: str
    id: str
    owner: str | None
    name: str | None
    data: Mapping[str, Any]
    children: tuple[Mapping[str, Any], ...] = ()

    def as_live(self, kind: ResourceKind) -> LiveResource:
        return kind.live(self.data, self.children)


def snapshot(
    backend: Backend, owner: str, *, kinds: Registry = KINDS, concurrency: int = 8
) -> Live:
    """Everything ``owner`` (``<stack>`` or ``<stack>/<env>``) holds in the account, plus the
    unowned and other-owner resources, read only to explain name clashes."""
    objects = read_account(
        backend,
        kinds,
        with_children=lambda obj: obj.owner == owner and obj.name is not None,
        concurrency=concurrency,
    )
    owned: list[LiveResource] = []
    foreign: list[ForeignResource] = []
    for obj in objects:
        if obj.owner == owner and obj.name is not None:
            owned.append(obj.as_live(kinds.named(obj.kind)))
        elif kinds.named(obj.kind).manifest_kind is not None:
            kind = kinds.named(obj.kind)
            foreign.append(
                ForeignResource(obj.kind, obj.id, kind.display_name(obj.data), obj.owner, obj.name)
            )
    return Live(owner=owner, resources=tuple(owned), foreign=tuple(foreign))


def read_account(
    backend: Backend,
    kinds: Registry,
    *,
    with_children: Callable[[AccountObject], bool],
    concurrency: int = 8,
) -> list[AccountObject]:
    """Every object of every kind, with the children of those ``with_children`` selects; the
    lists run side by side and each child list starts as soon as its parent's page arrives."""
    with ThreadPoolExecutor(
        max_workers=max(1, concurrency), thread_name_prefix="assistctl-snapshot"
    ) as pool:
        listings = [
            (kind, pool.submit(_objects, backend, kind, with_children, pool)) for kind in kinds
        ]
        try:
            results = [(kind, listing.result()) for kind, listing in listings]
            objects: list[AccountObject] = []
            for kind, found in results:
                for obj, children in found:
                    listed = tuple(children.result()) if children is not None else ()
                    objects.append(
                        AccountObject(kind.name, obj.id, obj.owner, obj.name, obj.data, listed)
                    )
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return objects


_Listing = tuple[AccountObject, "Future[Sequence[ApiObject]] | None"]


def _objects(
    backend: Backend,
    kind: ResourceKind,
    with_children: Callable[[AccountObject], bool],
    pool: ThreadPoolExecutor,
) -> list[_Listing]:
    found: list[_Listing] = []
    for data in backend.list(kind.collection, kind.list_query):
        owner, name = kind.identify(data)
        obj = AccountObject(kind.name, str(data["id"]), owner, name, data)
        children = None
        if kind.has_children and with_children(obj):
            children = pool.submit(backend.list_children, kind.collection, obj.id)
        found.append((obj, children))
    return found


def find_owned(
    backend: Backend, kind: ResourceKind, owner: str, name: str, *, not_id: str | None = None
) -> ApiObject | None:
    """The object of ``kind`` that ``owner`` tagged ``name`` (other than ``not_id``): what a
    create whose outcome is unknown made, if it made anything."""
    for data in backend.list(kind.collection, kind.list_query):
        if data["id"] != not_id and kind.identify(data) == (owner, name):
            return data
    return None


def missing_children(
    backend: Backend,
    collection: str,
    parent_id: str,
    entries: Iterable[Mapping[str, Any]],
    what: str = "attach",
) -> list[Mapping[str, Any]]:
    """Of the children a batch attach sent, those not attached with their attributes: after an
    unknown outcome, only these are sent again."""
    listed = {
        child["id"]: child.get("attributes")
        for child in backend.list_children(collection, parent_id)
    }
    return [entry for entry in entries if listed.get(entry["file_id"]) != entry.get("attributes")]
