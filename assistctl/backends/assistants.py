"""The Assistants v2 family: assistants, files and vector stores through the ``openai`` SDK.

Any Assistants-compatible account (the embedded local account, a self-hosted server) is served
by this backend. Each public method is one logical request, retried in one place (``_call``):
reads freely, writes only as ``retry.call`` allows, with ``recover`` lookups for creates.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import openai

from assistctl import retry
from assistctl.backends.base import ApiObject, Conversation, Recover
from assistctl.backends.sdk import translated
from assistctl.backends.threads import ThreadConversation
from assistctl.errors import AccountError

T = TypeVar("T")

FAMILY = "assistants"
PAGE_SIZE = 100
FILES_PAGE_SIZE = 10_000  # the files list allows 10,000 a page
SUNSET_MESSAGE = (
    "the account answered 404 to {path}: OpenAI and Azure shut the Assistants API down on "
    "2026-08-26 (files and vector stores still work there)"
)
SUNSET_HINT = (
    "run assistants on the embedded local account (--account local, or `assistctl local serve`, "
    "optionally backed by a real model with --engine chat), or point --account at an "
    "Assistants-compatible server (http(s)://HOST/v1)"
)
_SUNSET_COLLECTIONS = frozenset({"assistants", "threads"})


@dataclasses.dataclass(frozen=True)
class AssistantsBackend:
    """``client`` is an ``openai.OpenAI`` with the SDK's own retries off (``max_retries=0``):
    they would repeat a create whose outcome is unknown."""

    client: openai.OpenAI
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY
    on_retry: Callable[[str], None] | None = None
    pacer: retry.Pacer = dataclasses.field(default_factory=retry.Pacer)
    family: str = FAMILY

    def observed(self, on_retry: Callable[[str], None]) -> AssistantsBackend:
        return dataclasses.replace(self, on_retry=on_retry)

    # --- plumbing -------------------------------------------------------------------------

    def _call(
        self,
        operation: Callable[[], T],
        what: str,
        *,
        recover: Callable[[], T | None] | None = None,
        idempotent: bool = True,
    ) -> T:
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

    def _items(self, first_page: Callable[[], Any], what: str) -> Iterator[ApiObject]:
        """Every item of a list, each page fetched exactly once and retried on its own."""
        page = self._call(first_page, what)
        yield from (_dump(item) for item in page.data)
        while page.has_next_page():
            page = self._call(page.get_next_page, what)
            yield from (_dump(item) for item in page.data)

    def _resource(self, collection: str) -> Any:
        resources: dict[str, Any] = {
            "assistants": self.client.beta.assistants,
            "vector_stores": self.client.vector_stores,
            "files": self.client.files,
            "threads": self.client.beta.threads,
        }
        try:
            return resources[collection]
        except KeyError:
            raise AccountError(f"the Assistants API has no collection {collection!r}") from None

    # --- collections ----------------------------------------------------------------------

    def list(self, collection: str, query: Mapping[str, str] | None = None) -> Iterator[ApiObject]:
        resource = self._resource(collection)
        limit = FILES_PAGE_SIZE if collection == "files" else PAGE_SIZE
        what = f"list {collection.replace('_', ' ')}"
        try:
            yield from self._items(lambda: resource.list(limit=limit, **dict(query or {})), what)
        except AccountError as error:
            if error.not_found and collection in _SUNSET_COLLECTIONS:
                raise AccountError(
                    SUNSET_MESSAGE.format(path=f"/{collection}"),
                    hint=SUNSET_HINT,
                    status=error.status,
                    code=error.code,
                ) from error
            raise

    def list_children(
        self, collection: str, parent_id: str, *, status: str | None = None, what: str = ""
    ) -> Sequence[ApiObject]:
        self._require_children(collection)
        files = self.client.vector_stores.files
        only: Any = status if status is not None else openai.omit
        return tuple(
            self._items(
                lambda: files.list(parent_id, limit=PAGE_SIZE, filter=only),
                what or f"list the files of vector store {parent_id}",
            )
        )

    def retrieve(self, collection: str, object_id: str) -> ApiObject:
        resource = self._resource(collection)
        return _dump(self._call(lambda: resource.retrieve(object_id), f"read {object_id}"))

    def create(
        self,
        collection: str,
        body: Mapping[str, Any],
        *,
        recover: Recover | None = None,
        what: str = "",
    ) -> ApiObject:
        resource = self._resource(collection)
        what = what or f"create {_singular(collection)} {body.get('name') or ''}".rstrip()
        return self._call(
            lambda: _dump(resource.create(**body)), what, recover=recover, idempotent=False
        )

    def update(
        self, collection: str, object_id: str, body: Mapping[str, Any], *, what: str = ""
    ) -> ApiObject:
        resource = self._resource(collection)
        return self._call(
            lambda: _dump(resource.update(object_id, **body)),
            what or f"update {_singular(collection)} {object_id}",
        )

    def delete(self, collection: str, object_id: str, *, what: str = "") -> None:
        resource = self._resource(collection)
        self._call(
            lambda: _ignore_missing(lambda: resource.delete(object_id)),
            what or f"delete {_singular(collection)} {object_id}",
        )

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
        return self._call(
            lambda: _dump(files.create(file=(filename, content), purpose=chosen)),
            what or f"upload {filename}",
            recover=recover,
            idempotent=False,
        )

    def download(self, file_id: str) -> bytes | None:
        files = self.client.files
        try:
            return self._call(
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

        self._call(
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
        self._call(
            lambda: files.update(child_id, vector_store_id=parent_id, **body),
            what or f"update file {child_id} in vector store {parent_id}",
        )

    def detach(self, collection: str, parent_id: str, child_id: str, *, what: str = "") -> None:
        self._require_children(collection)
        files = self.client.vector_stores.files
        self._call(
            lambda: _ignore_missing(lambda: files.delete(child_id, vector_store_id=parent_id)),
            what or f"detach {child_id} from vector store {parent_id}",
        )

    @staticmethod
    def _require_children(collection: str) -> None:
        if collection != "vector_stores":
            raise AccountError(f"{collection} have no children in the Assistants API")

    # --- smoke-test conversations ---------------------------------------------------------

    def conversation(
        self, target_id: str, labels: Mapping[str, str], what: str, stop: threading.Event
    ) -> Conversation:
        return ThreadConversation(
            self.client,
            target_id,
            labels,
            what=what,
            stop=stop,
            call=self._call,
            items=self._items,
        )


def _dump(item: Any) -> ApiObject:
    """By alias: the SDK calls a JSON schema's ``schema`` field ``schema_`` in Python; the API
    and the manifests say ``schema``."""
    dumped: ApiObject = item.model_dump(mode="json", by_alias=True)
    return dumped


def _ignore_missing(operation: Callable[[], Any]) -> None:
    """A retried delete whose first try committed answers 404, and that is success."""
    try:
        operation()
    except openai.NotFoundError:
        return


def _singular(collection: str) -> str:
    return {"vector_stores": "vector store", "files": "file"}.get(
        collection, collection.rstrip("s")
    )
