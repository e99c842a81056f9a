"""The account's records: their types in storage, ids shaped like the API's, timestamps, and the
public view of a stored object.

=============================  ==================  =========================================
type                           parent              what
=============================  ==================  =========================================
``assistant``                  ''                  ``/v1/assistants`` objects
``file``                       ''                  ``/v1/files`` objects; bytes in the blobs
``vector_store``               ''                  ``/v1/vector_stores`` objects (status,
                                                   file_counts, usage_bytes computed on read)
``vector_store.file``          vector store id     attachments; their chunks in the index
``vector_store.file_batch``    vector store id     file batches (file ids kept in ``_file_ids``)
``thread``                     ''                  ``/v1/threads`` objects
``thread.message``             thread id           messages, in creation order
``thread.run``                 thread id           runs
``thread.run.step``            run id              run steps
``upload``                     ''                  ``/v1/uploads`` objects
``upload.part``                upload id           parts; their bytes in the blobs
``response``                   ''                  ``/v1/responses`` objects (input items in
                                                   ``_input``; see ``responses``)
``response.event``             response id         the events of a background response, kept
                                                   so it can be streamed again
``conversation``               ''                  ``/v1/conversations`` objects
``conversation.item``          conversation id     its items, in conversation order
``container``                  ''                  code-interpreter containers of responses
                                                   (their files in ``_file_ids``)
=============================  ==================  =========================================

Keys starting with ``_`` in stored objects are private bookkeeping, never shown by the API.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistctl.local.domain.errors import not_found
from assistctl.local.storage import Store

ASSISTANT = "assistant"
FILE = "file"
VECTOR_STORE = "vector_store"
VECTOR_STORE_FILE = "vector_store.file"
FILE_BATCH = "vector_store.file_batch"
THREAD = "thread"
MESSAGE = "thread.message"
RUN = "thread.run"
RUN_STEP = "thread.run.step"
UPLOAD = "upload"
UPLOAD_PART = "upload.part"
RESPONSE = "response"
RESPONSE_EVENT = "response.event"
CONVERSATION = "conversation"
CONVERSATION_ITEM = "conversation.item"
CONTAINER = "container"

ApiObject = dict[str, Any]


@dataclass(frozen=True)
class JsonText:
    """An API object or list already as JSON: stored objects spliced in, never parsed."""

    content: bytes


_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, separator: str = "_") -> str:
    """An id shaped like the API's (``asst_…``, ``file-…``)."""
    return prefix + separator + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def now() -> int:
    return int(time.time())


def public(obj: ApiObject) -> ApiObject:
    """A stored object without its private ``_`` keys."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def fetch_json(
    store: Store,
    type: str,
    id: str,
    kind: str,
    parent: str = "",
    *,
    check_parent: Callable[[], object] | None = None,
) -> JsonText:
    """A stored object as its JSON (for types stored exactly as shown), never decoded; a miss
    as ``fetch`` answers it."""
    return JsonText(_stored_text(store, type, id, kind, parent, check_parent).encode())


def fetch(
    store: Store,
    type: str,
    id: str,
    kind: str,
    parent: str = "",
    *,
    check_parent: Callable[[], object] | None = None,
) -> ApiObject:
    """A stored object, or the API's 404 naming it as ``kind``. On a miss, ``check_parent``
    (which raises the parent's own 404) runs first, so a missing thread or vector store is
    named as such, while a hit never reads the parent."""
    found: ApiObject = json.loads(_stored_text(store, type, id, kind, parent, check_parent))
    return found


def _stored_text(
    store: Store,
    type: str,
    id: str,
    kind: str,
    parent: str,
    check_parent: Callable[[], object] | None,
) -> str:
    text = store.get_text(type, id, parent)
    if text is None:
        if check_parent is not None:
            check_parent()
        raise not_found(kind, id)
    return text
