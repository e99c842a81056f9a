"""The collections every API family serves through the ``openai`` SDK, written once.

Files and vector stores (with their files) are the same objects in the Assistants era and the
Responses era, so both backends inherit them from ``SdkCollections``: each public method is one
logical request, retried in one place (``call``): reads freely, writes only as ``retry.call``
allows, with ``recover`` lookups for creates. A family adds its own collections (assistants,
threads) by extending ``collections``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self, TypeVar

import openai

from assistctl import retry
from assistctl.backends.base import ApiObject, Recover
from assistctl.backends.sdk import translated
from assistctl.errors import AccountError

T = TypeVar("T")

PAGE_SIZE = 100
FILES_PAGE_SIZE = 10_000  # the files list allows 10,000 a page


@dataclasses.dataclass(frozen=True)
class SdkCollections:
    """``client`` is an ``openai.OpenAI`` with the SDK's own retries off (``max_retries=0``):
    they would repeat a create whose outcome is unknown."""

    client: openai.OpenAI
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY
    on_retry: Callable[[str], None] | None = None
    pacer: retry.Pacer = dataclasses.field(default_factory=retry.Pacer)
    # collection name -> the SDK resource serving it, as attribute names under the client
    collections: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "vector_stores": ("vector_stores",),
        "files": ("files",),
    }
    api_name: ClassVar[str] = "this API"

    def observed(self, on_retry: Callable[[str], None]) -> Self:
        """The same backend, telling ``on_retry`` about each retry."""
        return dataclasses.replace(self, on_retry=on_retry)

    # --- plumbing -------------------------------------------------------------------------

    def call(
        self,
        operation: Callable[[], T],
        what: str,
        *,
        recover: Callable[[], T | None] | None = None,
        idempotent: bool = True,
    ) -> T:
        """One logical request: SDK failures translated, retried as ``retry.call`` allows."""
        notify = self.on_retry
        return retry.call(
            translated(operation, what),
            what=what,
            recover=recover,
            idempotent=idempotent,
            policy=self.policy,
            on_retry=(lambda text, _delay: notify(text)) if notify is not None else None,
            pacer=self.pacer,
        )

    def items(self, first_page: Callable[[], Any], what: str) -> Iterator[ApiObject]:
        """Every item of a list, each page fetched exactly once and retried on its own."""
        page = self.call(first_page, what)
        yield from (dump(item) for item in page.data)
        while page.has_next_page():
            page = self.call(page.get_next_page, what)
            yield from (dump(item) for item in page.data)

    def resource(self, collection: str) -> Any:
        path = self.collections.get(collection)
        if path is None:
            raise AccountError(f"{self.api_name} has no collection {collection!r}")
        found: Any = self.client
        for attribute in path:
            found = getattr(found, attribute)
        return found

    # --- collections ----------------------------------------------------------------------

    def list(self, collection: str, query: Mapping[str, str] | None = None) -> Iterator[ApiObject]:
        resource = self.resource(collection)
        limit = FILES_PAGE_SIZE if collection == "files" else PAGE_SIZE
        what = f"list {collection.replace('_', ' ')}"
        yield from self.items(lambda: resource.list(limit=limit, **dict(query or {})), what)

    def list_children(
        self, collection: str, parent_id: str, *, status: str | None = None, what: str = ""
    ) -> Sequence[ApiObject]:
        self._require_children(collection)
        files = self.client.vector_stores.files
        only: Any = status if status is not None else openai.omit
        return tuple(
            self.items(
                lambda: files.list(parent_id, limit=PAGE_SIZE, filter=only),
                what or f"list the files of vector store {parent_id}",
            )
        )

    def retrieve(self, collection: str, object_id: str) -> ApiObject:
        resource = self.resource(collection)
        return dump(self.call(lambda: resource.retrieve(object_id), f"read {object_id}"))

    def create(
        self,
        collection: str,
        body: Mapping[str, Any],
        *,
        recover: Recover | None = None,
        what: str = "",
    ) -> ApiObject:
        resource = self.resource(collection)
        what = what or f"create {singular(collection)} {body.get('name') or ''}".rstrip()
        return self.call(
            lambda: dump(resource.create(**body)), what, recover=recover, idempotent=False
        )

    def update(
        self, collection: str, object_id: str, body: Mapping[str, Any], *, what: str = ""
    ) -> ApiObject:
        resource = self.resource(collection)
        return self.call(
            lambda: dump(resource.update(object_id, **body)),
            what or f"update {singular(collection)} {object_id}",
        )

    def delete(self, collection: str, object_id: str, *, what: str = "") -> None:
        resource = self.resource(collection)
        self.call(
            lambda: ignore_missing(lambda: resource.delete(object_id)),
            what or f"delete {singular(collection)} {object_id}",
        )

    def check(
        self, collection: str, body: Mapping[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        """The account itself judges requests to SDK collections; nothing to refuse early."""

    # --- files ----------------------------------------------------------------------------

    def upload(
        self,
        filename: str,
        content: bytes,
        *,
        purpose: str,
        recover: Recover | None = None,
        what: str = "",
    ) -> ApiObject:
        files = self.client.files
        chosen: Any = purpose
        return self.call(
            lambda: dump(files.create(file=(filename, content), purpose=chosen)),
            what or f"upload {filename}",
            recover=recover,
            idempotent=False,
        )

    def download(self, file_id: str) -> bytes | None:
        files = self.client.files
        try:
            return self.call(
                lambda: files.content(file_id).read(), f"download the content of {file_id}"
            )
        except AccountError as error:
            if error.status in (400, 403, 404):  # purpose ``assistants`` is never handed out
                return None
            raise

    # --- a vector store's files -----------------------------------------------------------

    def attach(
        self,
        collection: str,
        parent_id: str,
        entries: Sequence[Mapping[str, Any]],
        *,
        recover: Callable[[], Sequence[Mapping[str, Any]]],
        what: str = "",
    ) -> None:
        self._require_children(collection)
        remaining = [dict(entry) for entry in entries]
        batches = self.client.vector_stores.file_batches

        def operation() -> bool:
            batches.create(parent_id, files=remaining)  # type: ignore[arg-type]
            return True

        def missing() -> bool | None:
            remaining[:] = [dict(entry) for entry in recover()]
            return None if remaining else True

        self.call(
            operation,
            what or f"attach {len(entries)} file(s) to vector store {parent_id}",
            recover=missing,
            idempotent=False,
        )

    def update_child(
        self,
        collection: str,
        parent_id: str,
        child_id: str,
        body: Mapping[str, Any],
        *,
        what: str = "",
    ) -> None:
        self._require_children(collection)
        files = self.client.vector_stores.files
        self.call(
            lambda: files.update(child_id, vector_store_id=parent_id, **body),
            what or f"update file {child_id} in vector store {parent_id}",
        )

    def detach(self, collection: str, parent_id: str, child_id: str, *, what: str = "") -> None:
        self._require_children(collection)
        files = self.client.vector_stores.files
        self.call(
            lambda: ignore_missing(lambda: files.delete(child_id, vector_store_id=parent_id)),
            what or f"detach {child_id} from vector store {parent_id}",
        )

    def _require_children(self, collection: str) -> None:
        if collection != "vector_stores":
            raise AccountError(f"{collection} have no children in {self.api_name}")


def dump(item: Any) -> ApiObject:
    """By alias: the SDK calls a JSON schema's ``schema`` field ``schema_`` in Python; the API
    and the manifests say ``schema``."""
    dumped: ApiObject = item.model_dump(mode="json", by_alias=True)
    return dumped


def ignore_missing(operation: Callable[[], Any]) -> None:
    """A retried delete whose first try committed answers 404, and that is success."""
    try:
        operation()
    except openai.NotFoundError:
        return


def singular(collection: str) -> str:
    return {"vector_stores": "vector store", "files": "file"}.get(
        collection, collection.rstrip("s")
    )
