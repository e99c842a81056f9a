"""The seam between assistctl and an account: one ``Backend`` per API family.

Everything above a backend speaks plain JSON objects (``ApiObject``: what the API returns,
dumped by alias) and collection names (``assistants``, ``vector_stores``, ``files``); only a
backend knows the SDK, its paging, its exceptions and its retries. Every failure leaves a
backend as an ``AccountError`` carrying the HTTP status, the API's error code and what the
failure may have done, so callers decide on ``error.status``, never on SDK classes.

``what`` names the request in error messages and retry notes (``create assistant.bot``);
each method has a plain default.

Writes whose outcome can be unknown (a create answered by a 5xx or a dropped connection) take a
``recover`` lookup: before such a write is sent again, the backend calls it, and when it finds
the object (by its ownership keys, see ``assistctl.live``) that object is the result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from assistctl.conversation import StepOutcome, StepRequest

ApiObject = dict[str, Any]
Recover = Callable[[], ApiObject | None]
T = TypeVar("T")

# How conversations poll a run or response still under way: often at first, then every second.
FIRST_POLL_S = 0.05
MAX_POLL_S = 1.0
POLL_GROWTH = 1.5


class Caller(Protocol):
    """One logical request as a backend makes it (``SdkCollections.call``): SDK failures
    translated, retried as ``retry.call`` allows. Conversations make every request through it."""

    def __call__(
        self,
        operation: Callable[[], T],
        what: str,
        *,
        recover: Callable[[], T | None] | None = None,
        idempotent: bool = True,
    ) -> T: ...


class Conversation(Protocol):
    """One smoke-test attempt: a thread (or a conversation) that lives until ``close``."""

    def open(self) -> None:
        """Start the conversation; raises ``AccountError`` when the account refuses."""

    def step(self, request: StepRequest) -> StepOutcome:
        """Send one user message and drive the model's turn to its end."""

    def close(self) -> str | None:
        """Delete what ``open`` made; the error message when that failed, else None."""

    @property
    def handle(self) -> str | None:
        """The id of the thread (or conversation), once open."""


class Backend(Protocol):
    """List, create, update and delete per collection; uploads; attachments; conversations."""

    @property
    def family(self) -> str:
        """The API family (``assistants``, ``responses``)."""

    def observed(self, on_retry: Callable[[str], None]) -> Backend:
        """The same backend, telling ``on_retry`` about each retry (progress lines)."""

    def list(self, collection: str, query: Mapping[str, str] | None = None) -> Iterator[ApiObject]:
        """Every object of a collection (``query`` filters it, e.g. by ``purpose``), page by
        page as the pages arrive."""

    def list_children(
        self, collection: str, parent_id: str, *, status: str | None = None, what: str = ""
    ) -> Sequence[ApiObject]:
        """Every child (a vector store's files) of one object, optionally of one status."""

    def retrieve(self, collection: str, object_id: str) -> ApiObject: ...

    def create(
        self,
        collection: str,
        body: Mapping[str, Any],
        *,
        recover: Recover | None = None,
        what: str = "",
    ) -> ApiObject: ...

    def update(
        self, collection: str, object_id: str, body: Mapping[str, Any], *, what: str = ""
    ) -> ApiObject: ...

    def delete(self, collection: str, object_id: str, *, what: str = "") -> None:
        """Delete; an object that is already gone counts as deleted."""

    def check(
        self, collection: str, body: Mapping[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        """Refuse, before anything is written, a create (``current`` None) or an update of
        ``current`` that this family cannot serve (raises ``PlanError``): plan and apply call it
        for every write of a plan, so a stack the family cannot express fails before any
        change."""

    def upload(
        self,
        filename: str,
        content: bytes,
        *,
        purpose: str,
        recover: Recover | None = None,
        what: str = "",
    ) -> ApiObject: ...

    def download(self, file_id: str) -> bytes | None:
        """A file's content, or None when the account will not hand it out."""

    def attach(
        self,
        collection: str,
        parent_id: str,
        entries: Sequence[Mapping[str, Any]],
        *,
        recover: Callable[[], Sequence[Mapping[str, Any]]],
        what: str = "",
    ) -> None:
        """Attach children in one batch. ``recover`` answers, after an unknown outcome, the
        entries still missing: only those are sent again."""

    def update_child(
        self,
        collection: str,
        parent_id: str,
        child_id: str,
        body: Mapping[str, Any],
        *,
        what: str = "",
    ) -> None: ...

    def detach(self, collection: str, parent_id: str, child_id: str, *, what: str = "") -> None:
        """Remove a child; one that is already gone counts as removed."""

    def conversation(
        self, target_id: str, labels: Mapping[str, str], what: str, stop: threading.Event
    ) -> Conversation:
        """A smoke-test conversation with the deployed assistant ``target_id``; once ``stop``
        is set (the suite is interrupted) its next request raises ``Interrupted``."""
