"""The only reader of the account: one snapshot of everything a stack owns.

Everything comes from list endpoints, page by page (100 per page, the API's maximum; files
allow 10,000), never one retrieve per resource, so a stack of hundreds of assistants costs a
handful of requests. The three top-level lists run side by side, and each owned vector store's
file list starts as soon as the page naming that store arrives, in a bounded pool. Every page
goes through ``retry.call``: reads are idempotent, so 429s and 5xx are simply retried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from assistctl import retry
from assistctl.model import (
    ForeignResource,
    Kind,
    Live,
    LiveAssistant,
    LiveUpload,
    LiveVectorStore,
    LiveVectorStoreFile,
    ownership,
    parse_upload_filename,
)

if TYPE_CHECKING:
    import openai

PAGE_SIZE = 100
FILES_PAGE_SIZE = 10_000
UPLOAD_PURPOSE = "assistants"


def pages(
    first_page: Callable[[], Any], *, what: str, call: Callable[..., Any] = retry.call
) -> Iterator[Any]:
    """Every page of a list, each fetched exactly once and retried on its own; ``call`` is
    ``retry.call`` or a wrapper of it (smoke tests add their stop check and label)."""
    page = call(first_page, what=what)
    yield page
    while page.has_next_page():
        page = call(page.get_next_page, what=what)
        yield page


def items(
    first_page: Callable[[], Any], *, what: str, call: Callable[..., Any] = retry.call
) -> Iterator[Any]:
    for page in pages(first_page, what=what, call=call):
        yield from page.data


def snapshot(client: openai.OpenAI, owner: str, *, concurrency: int = 8) -> Live:
    """Everything ``owner`` (``<stack>`` or ``<stack>/<env>``) holds in the account, plus the
    unowned and other-owner assistants and vector stores, read only to explain name clashes."""
    with ThreadPoolExecutor(
        max_workers=max(1, concurrency), thread_name_prefix="assistctl-snapshot"
    ) as pool:
        assistant_list = pool.submit(
            lambda: list(
                items(lambda: client.beta.assistants.list(limit=PAGE_SIZE), what="list assistants")
            )
        )
        upload_list = pool.submit(
            lambda: list(
                items(
                    lambda: client.files.list(purpose=UPLOAD_PURPOSE, limit=FILES_PAGE_SIZE),
                    what="list files",
                )
            )
        )
        stores: list[Any] = []
        store_files: dict[str, Future[list[LiveVectorStoreFile]]] = {}
        try:
            for store in items(
                lambda: client.vector_stores.list(limit=PAGE_SIZE), what="list vector stores"
            ):
                stores.append(store)
                if _is_owned(store.metadata, owner):
                    store_files[store.id] = pool.submit(vector_store_files, client, store.id)
            assistants = assistant_list.result()
            uploads = upload_list.result()
            files_by_store = {store_id: f.result() for store_id, f in store_files.items()}
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise

    live_assistants, live_stores, foreign = [], [], []
    for assistant in assistants:
        if _is_owned(assistant.metadata, owner):
            live_assistants.append(
                LiveAssistant(
                    id=assistant.id,
                    name=ownership(assistant.metadata)[1],
                    owner=owner,
                    data=assistant.model_dump(mode="json", by_alias=True),
                )
            )
        else:
            foreign.append(_foreign(Kind.ASSISTANT, assistant))
    for store in stores:
        if store.id in files_by_store:
            live_stores.append(
                LiveVectorStore(
                    id=store.id,
                    name=ownership(store.metadata)[1],
                    owner=owner,
                    data=store.model_dump(mode="json", by_alias=True),
                    files=tuple(files_by_store[store.id]),
                )
            )
        else:
            foreign.append(_foreign(Kind.VECTOR_STORE, store))
    return Live(
        owner=owner,
        assistants=tuple(live_assistants),
        vector_stores=tuple(live_stores),
        uploads=tuple(_owned_uploads(uploads, owner)),
        foreign=tuple(foreign),
    )


def vector_store_files(client: openai.OpenAI, store_id: str) -> list[LiveVectorStoreFile]:
    """Every file attached to one vector store, with the attributes assistctl tags it with."""
    return [
        LiveVectorStoreFile(
            file_id=attached.id,
            status=attached.status,
            attributes=dict(attached.attributes or {}),
            chunking_strategy=_dump(attached.chunking_strategy),
            last_error=_dump(attached.last_error),
        )
        for attached in items(
            lambda: client.vector_stores.files.list(store_id, limit=PAGE_SIZE),
            what=f"list the files of vector store {store_id}",
        )
    ]


def _owned_uploads(files: list[Any], owner: str) -> Iterator[LiveUpload]:
    """Uploads carry their owner and content hash in the filename (see model.upload_filename)."""
    for file in files:
        parsed = parse_upload_filename(file.filename or "")
        if parsed is None or parsed[0] != owner:
            continue
        _, sha256, basename = parsed
        yield LiveUpload(
            id=file.id,
            filename=file.filename,
            bytes=file.bytes or 0,
            owner=owner,
            sha256=sha256,
            basename=basename,
        )


def _foreign(kind: Kind, resource: Any) -> ForeignResource:
    owner, logical_name = ownership(resource.metadata)
    return ForeignResource(
        kind=kind,
        id=resource.id,
        display_name=resource.name,
        owner=owner,
        logical_name=logical_name,
    )


def _is_owned(metadata: Mapping[str, Any] | None, owner: str) -> bool:
    stack, logical_name = ownership(metadata)
    return stack == owner and logical_name is not None


def _dump(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return (
        value.model_dump(mode="json", by_alias=True)
        if hasattr(value, "model_dump")
        else dict(value)
    )
