"""Lists as the API pages them: ``limit``, ``order``, ``after``/``before`` cursors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assistctl.local.domain.errors import InvalidRequest
from assistctl.local.domain.records import JsonText
from assistctl.local.storage import CursorNotFound, Page, Store, StoredObject, Where, page_of


@dataclass(frozen=True)
class PageRequest:
    limit: int = 20
    order: str = "desc"
    after: str | None = None
    before: str | None = None


def list_page(
    store: Store, type: str, parent: str, request: PageRequest, where: Where | None = None
) -> StoredObject:
    """One API list page of a collection; a cursor naming an object outside it is a 400."""
    return _page(store, type, parent, request, where).body()


def list_page_json(
    store: Store, type: str, parent: str, request: PageRequest, where: Where | None = None
) -> JsonText:
    """``list_page`` as JSON, the stored objects spliced in unparsed (for types stored exactly
    as the API shows them)."""
    return JsonText(_page(store, type, parent, request, where).body_json())


def _page(store: Store, type: str, parent: str, request: PageRequest, where: Where | None) -> Page:
    return _paged(
        request,
        lambda: store.list(
            type,
            parent,
            order=request.order,
            after=request.after,
            before=request.before,
            limit=request.limit,
            where=where,
        ),
    )


def list_objects(objects: list[StoredObject], request: PageRequest) -> StoredObject:
    """One API list page of objects held in memory (in creation order), paged like a stored
    collection."""
    return _paged(
        request,
        lambda: page_of(objects, request.order, request.after, request.before, request.limit),
    ).body()


def _paged(request: PageRequest, read: Callable[[], Page]) -> Page:
    try:
        return read()
    except CursorNotFound as exc:
        name = "after" if request.after == exc.args[0] else "before"
        raise InvalidRequest(
            f"Invalid '{name}': no object with id '{exc.args[0]}' in this list.", param=name
        ) from None
