"""``/v1/vector_stores``: stores, their files (attachments), file batches and search.

Attaching a file indexes it at once (chunks in search's table) and records ``_ready_at`` =
now + the live ``indexing_delay_s``; the attachment reads as ``in_progress`` until then and as
its outcome after, computed on every read, so no background worker is needed and the delay
is exact. Content that is not UTF-8 text (NUL bytes, undecodable) fails with
``unsupported_file``, an empty file with ``invalid_file``. A store's ``status``,
``file_counts`` and ``usage_bytes`` are computed from its attachments on read.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local import search as search_index
from assistctl.local.domain.records import new_id, now
from assistctl.local.http import (
    ApiError,
    account_of,
    bad_request,
    check_array_length,
    endpoint,
    expect_type,
    get_or_404,
    list_params,
    one_of,
    optional_number,
    optional_string,
    page,
    reject_unknown,
    require,
    validate_metadata,
)

STORE = "vector_store"
ATTACHMENT = "vector_store.file"
BATCH = "vector_store.file_batch"
DAY_S = 86_400
MAX_FILE_IDS = 500  # creating a store with files
MAX_BATCH_FILES = 2000  # one file batch
SEARCH_FIELDS = ("query", "filters", "max_num_results", "ranking_options", "rewrite_query")
SEARCH_RANKERS = ("none", "auto", "default-2024-11-15")  # not the assistants tool's rankers
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")
AUTO_CHUNKING = {
    "type": "static",
    "static": {
        "max_chunk_size_tokens": search_index.AUTO_MAX_TOKENS,
        "chunk_overlap_tokens": search_index.AUTO_OVERLAP_TOKENS,
    },
}


# --- validation ----------------------------------------------------------------------------


def validate_chunking(value: Any, param: str = "chunking_strategy") -> dict[str, Any]:
    """``auto`` (the default) or ``static`` with 100..4096 tokens and overlap ≤ half."""
    if value is None:
        return AUTO_CHUNKING
    expect_type(value, dict, param, "an object")
    kind = one_of(value.get("type"), f"{param}.type", ("auto", "static"))
    if kind == "auto":
        return AUTO_CHUNKING
    static = value.get("static")
    expect_type(static, dict, f"{param}.static", "an object")
    size = static.get("max_chunk_size_tokens")
    overlap = static.get("chunk_overlap_tokens")
    expect_type(size, int, f"{param}.static.max_chunk_size_tokens", "an integer")
    expect_type(overlap, int, f"{param}.static.chunk_overlap_tokens", "an integer")
    if not 100 <= size <= 4096:
        raise bad_request(
            f"Invalid '{param}.static.max_chunk_size_tokens': expected a value between 100 and "
            f"4096, but got {size} instead.",
            f"{param}.static.max_chunk_size_tokens",
        )
    if not 0 <= overlap <= size // 2:
        raise bad_request(
            f"Invalid '{param}.static.chunk_overlap_tokens': must be between 0 and half of "
            f"max_chunk_size_tokens ({size // 2}), but got {overlap} instead.",
            f"{param}.static.chunk_overlap_tokens",
        )
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }


def validate_attributes(value: Any, param: str = "attributes") -> dict[str, Any]:
    """Metadata's limits (16 keys of ≤ 64 chars, strings ≤ 512); values may also be numbers
    or booleans."""
    return validate_metadata(
        value, param, value_types=(str, int, float, bool), expected="a string, number or bool"
    )


def validate_expires_after(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    expect_type(value, dict, "expires_after", "an object")
    reject_unknown(value, ("anchor", "days"))
    one_of(value.get("anchor"), "expires_after.anchor", ("last_active_at",))
    days = value.get("days")
    expect_type(days, int, "expires_after.days", "an integer")
    if not 1 <= days <= 365:
        raise bad_request(
            f"Invalid 'expires_after.days': expected a value between 1 and 365, but got {days} "
            "instead.",
            "expires_after.days",
        )
    return {"anchor": "last_active_at", "days": days}


def validate_file_ids(value: Any, param: str = "file_ids", limit: int = MAX_FILE_IDS) -> list[str]:
    if value is None:
        return []
    expect_type(value, list, param, "an array")
    check_array_length(value, param, limit)
    for index, file_id in enumerate(value):
        expect_type(file_id, str, f"{param}[{index}]", "a string")
    return list(dict.fromkeys(value))


def validate_filter(value: Any, param: str = "filters") -> None:
    """A comparison filter ``{type, key, value}`` or a compound ``{type: and|or, filters}``."""
    expect_type(value, dict, param, "an object")
    kind = one_of(value.get("type"), f"{param}.type", COMPARISONS + ("and", "or"))
    if kind in ("and", "or"):
        nested = value.get("filters")
        expect_type(nested, list, f"{param}.filters", "an array")
        for index, item in enumerate(nested):
            validate_filter(item, f"{param}.filters[{index}]")
        return
    expect_type(value.get("key"), str, f"{param}.key", "a string")
    if "value" not in value:
        raise bad_request(f"Missing required parameter: '{param}.value'.", f"{param}.value")


# --- reading -----------------------------------------------------------------------------


def attachment_view(attachment: dict[str, Any], moment: float | None = None) -> dict[str, Any]:
    """The API's vector-store file: private keys dropped, status as of ``moment``."""
    moment = time.time() if moment is None else moment
    view = {k: v for k, v in attachment.items() if not k.startswith("_")}
    if attachment.get("_cancelled"):
        status = "cancelled"
    elif moment < attachment["_ready_at"]:
        status = "in_progress"
    else:
        status = attachment["_outcome"]
    view["status"] = status
    view["last_error"] = attachment["_error"] if status == "failed" else None
    view["usage_bytes"] = attachment["_usage_bytes"] if status == "completed" else 0
    return view


def file_counts(views: list[dict[str, Any]]) -> dict[str, int]:
    counts = {status: 0 for status in FILE_STATUSES}
    for view in views:
        counts[view["status"]] += 1
    return {**counts, "total": len(views)}


def store_view(
    account, vector_store: dict[str, Any], attachments: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The API's vector store with status, counts, usage and expiry computed now (from
    ``attachments`` when the caller has already read them)."""
    moment = time.time()
    if attachments is None:
        attachments = account.store.all(ATTACHMENT, vector_store["id"])
    views = [attachment_view(a, moment) for a in attachments]
    view = {k: v for k, v in vector_store.items() if not k.startswith("_")}
    expires_after = vector_store.get("expires_after")
    expires_at = None
    if expires_after:
        expires_at = vector_store["last_active_at"] + expires_after["days"] * DAY_S
    counts = file_counts(views)
    if expires_at is not None and expires_at <= moment:
        status = "expired"
    elif counts["in_progress"]:
        status = "in_progress"
    else:
        status = "completed"
    view.update(
        status=status,
        file_counts=counts,
        usage_bytes=sum(v["usage_bytes"] for v in views),
        expires_at=expires_at,
    )
    return view


def get_store(account, vector_store_id: str) -> dict[str, Any]:
    return get_or_404(account, STORE, vector_store_id, "vector store")


def get_attachment(account, vector_store_id: str, file_id: str) -> dict[str, Any]:
    """The attachment, or a 404 naming the vector store if that is what is missing."""
    attachment = account.store.get(ATTACHMENT, file_id, vector_store_id)
    if attachment is None:
        get_store(account, vector_store_id)
        raise ApiError(
            404, f"No file found with id '{file_id}' in vector store '{vector_store_id}'."
        )
    return attachment


def searchable_files(account, vector_store_id: str) -> list[dict[str, Any]]:
    """Attachments of a store whose indexing has completed (what search may cite)."""
    moment = time.time()
    return [
        view
        for view in (
            attachment_view(a, moment) for a in account.store.all(ATTACHMENT, vector_store_id)
        )
        if view["status"] == "completed"
    ]


# --- writing -----------------------------------------------------------------------------


def _index_outcome(content: bytes, filename: str) -> tuple[str | None, dict[str, str] | None]:
    """(text, None) for indexable content, else (None, last_error)."""
    if b"\x00" in content:
        return None, {"code": "unsupported_file", "message": f"{filename}: binary content."}
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None, {
            "code": "unsupported_file",
            "message": f"{filename}: not UTF-8 text; the local account indexes text only.",
        }
    if not text.strip():
        return None, {"code": "invalid_file", "message": f"{filename}: the file is empty."}
    return text, None


def attach(
    account,
    vector_store_id: str,
    file_id: str,
    attributes: dict[str, Any],
    chunking: dict[str, Any],
    *,
    replace_attributes: bool = True,
) -> dict[str, Any]:
    """Attach and index one file; an existing attachment is kept (attributes updated)."""
    from assistctl.local.files import get_file

    with account.store.transaction():
        existing = account.store.get(ATTACHMENT, file_id, vector_store_id)
        if existing is not None:
            if attributes and replace_attributes:
                existing["attributes"] = attributes
                account.store.put(ATTACHMENT, existing, vector_store_id)
            return existing
        file = get_file(account, file_id)
        content = account.store.get_blob(file_id) or b""
        text, error = _index_outcome(content, file["filename"])
        usage = 0
        if text is not None:
            static = chunking["static"]
            chunks = search_index.chunk_text(
                text, static["max_chunk_size_tokens"], static["chunk_overlap_tokens"]
            )
            account.store.chunks.index_file(vector_store_id, file_id, chunks)
            usage = sum(len(chunk.encode()) for chunk in chunks)
        attachment = {
            "id": file_id,
            "object": "vector_store.file",
            "created_at": now(),
            "vector_store_id": vector_store_id,
            "attributes": attributes,
            "chunking_strategy": chunking,
            "_ready_at": time.time() + account.faults.indexing_delay_s,
            "_outcome": "completed" if text is not None else "failed",
            "_error": error,
            "_usage_bytes": usage,
        }
        account.store.insert(ATTACHMENT, attachment, vector_store_id)
        touch(account, vector_store_id)
        return attachment


def detach(account, vector_store_id: str, file_id: str) -> bool:
    with account.store.transaction():
        account.store.chunks.remove(vector_store_id, file_id)
        return account.store.delete(ATTACHMENT, file_id, vector_store_id)


def detach_everywhere(account, file_id: str) -> None:
    """Remove a (deleted) file from every vector store it was attached to."""
    with account.store.transaction():
        account.store.delete_everywhere(ATTACHMENT, file_id)
        account.store.chunks.remove_file_everywhere(file_id)


def touch(account, vector_store_id: str) -> None:
    """Record activity: ``last_active_at`` anchors ``expires_after``."""
    vector_store = account.store.get(STORE, vector_store_id)
    if vector_store is not None:
        vector_store["last_active_at"] = now()
        account.store.put(STORE, vector_store)


def create_vector_store(account, body: dict[str, Any], param: str = "") -> dict[str, Any]:
    """Create a store (and attach ``file_ids``); shared with inline ``tool_resources``."""
    prefix = f"{param}." if param else ""
    expect_type(body, dict, param or "body", "an object")
    reject_unknown(
        body,
        ("name", "file_ids", "expires_after", "chunking_strategy", "metadata", "description"),
    )
    file_ids = validate_file_ids(body.get("file_ids"), f"{prefix}file_ids")
    chunking = validate_chunking(body.get("chunking_strategy"), f"{prefix}chunking_strategy")
    created_at = now()
    vector_store = {
        "id": new_id("vs"),
        "object": "vector_store",
        "created_at": created_at,
        "name": optional_string(body, "name", 256) or "",
        "description": optional_string(body, "description", 512),
        "metadata": validate_metadata(body.get("metadata"), f"{prefix}metadata"),
        "expires_after": validate_expires_after(body.get("expires_after")),
        "last_active_at": created_at,
    }
    if vector_store["description"] is None:
        del vector_store["description"]
    with account.store.transaction():
        account.store.insert(STORE, vector_store)
        for file_id in file_ids:
            attach(account, vector_store["id"], file_id, {}, chunking)
    return store_view(account, get_store(account, vector_store["id"]))


# --- endpoints: vector stores ------------------------------------------------------------


def create(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    return create_vector_store(account_of(request), body)


def list_stores(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    result = page(account.store, STORE, "", list_params(request))
    attachments = account.store.children(ATTACHMENT, [v["id"] for v in result["data"]])
    result["data"] = [store_view(account, v, attachments[v["id"]]) for v in result["data"]]
    return result


def retrieve(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    return store_view(account, get_store(account, request.path_params["vector_store_id"]))


def modify(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, ("name", "expires_after", "metadata"))
    account = account_of(request)
    with account.store.transaction():
        vector_store = get_store(account, request.path_params["vector_store_id"])
        if "name" in body:
            vector_store["name"] = optional_string(body, "name", 256) or ""
        if "metadata" in body:
            vector_store["metadata"] = validate_metadata(body["metadata"])
        if "expires_after" in body:
            vector_store["expires_after"] = validate_expires_after(body["expires_after"])
        account.store.put(STORE, vector_store)
    return store_view(account, vector_store)


def delete(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    with account.store.transaction():
        get_store(account, vector_store_id)
        account.store.chunks.remove_store(vector_store_id)
        account.store.delete_children(ATTACHMENT, vector_store_id)
        account.store.delete_children(BATCH, vector_store_id)
        account.store.delete(STORE, vector_store_id)
    return {"id": vector_store_id, "object": "vector_store.deleted", "deleted": True}


def search(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, SEARCH_FIELDS)
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    get_store(account, vector_store_id)
    query = require(body, "query")
    if isinstance(query, list):
        if not all(isinstance(q, str) for q in query):
            raise bad_request("Invalid 'query': expected a string or strings.", "query")
        text = " ".join(query)
    else:
        expect_type(query, str, "query", "a string")
        text = query
    limit = body.get("max_num_results", 10)
    expect_type(limit, int, "max_num_results", "an integer")
    if not 1 <= limit <= 50:
        raise bad_request(
            f"Invalid 'max_num_results': expected a value between 1 and 50, but got {limit}.",
            "max_num_results",
        )
    filters = body.get("filters")
    if filters is not None:
        validate_filter(filters)
    ranking = body.get("ranking_options") or {}
    expect_type(ranking, dict, "ranking_options", "an object")
    reject_unknown(ranking, ("ranker", "score_threshold"))
    one_of(ranking.get("ranker", "auto"), "ranking_options.ranker", SEARCH_RANKERS)
    threshold = (
        optional_number(ranking, "score_threshold", 0, 1, "ranking_options.score_threshold") or 0.0
    )
    hits = search_index.search(account, [vector_store_id], text, limit, filters)
    touch(account, vector_store_id)
    return {
        "object": "vector_store.search_results.page",
        "search_query": query if isinstance(query, list) else [query],
        "data": [
            {
                "file_id": hit.file_id,
                "filename": hit.filename,
                "score": hit.score,
                "attributes": hit.attributes,
                "content": [{"type": "text", "text": hit.text}],
            }
            for hit in hits
            if hit.score >= threshold
        ],
        "has_more": False,
        "next_page": None,
    }


# --- endpoints: vector store files ---------------------------------------------------------


def _status_filter(request: Request):
    status = request.query_params.get("filter")
    if status is None:
        return None
    one_of(status, "filter", FILE_STATUSES)
    moment = time.time()
    return lambda attachment: attachment_view(attachment, moment)["status"] == status


def create_file(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, ("file_id", "attributes", "chunking_strategy"))
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    file_id = require(body, "file_id")
    expect_type(file_id, str, "file_id", "a string")
    attributes = validate_attributes(body.get("attributes"))
    chunking = validate_chunking(body.get("chunking_strategy"))
    with account.store.transaction():
        get_store(account, vector_store_id)
        attachment = attach(
            account, vector_store_id, file_id, attributes, chunking, replace_attributes=False
        )
    return attachment_view(attachment)


def list_files(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    get_store(account, vector_store_id)
    params = list_params(request)
    result = page(account.store, ATTACHMENT, vector_store_id, params, _status_filter(request))
    result["data"] = [attachment_view(a) for a in result["data"]]
    return result


def retrieve_file(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    return attachment_view(get_attachment(account, vector_store_id, request.path_params["file_id"]))


def update_file(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, ("attributes",))
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    if "attributes" not in body:
        raise bad_request("Missing required parameter: 'attributes'.", "attributes")
    attributes = validate_attributes(body["attributes"])
    with account.store.transaction():
        attachment = get_attachment(account, vector_store_id, request.path_params["file_id"])
        attachment["attributes"] = attributes
        account.store.put(ATTACHMENT, attachment, vector_store_id)
    return attachment_view(attachment)


def delete_file(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    file_id = request.path_params["file_id"]
    with account.store.transaction():
        get_attachment(account, vector_store_id, file_id)
        detach(account, vector_store_id, file_id)
    return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


def file_content(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """The parsed text of an attached file, as the API's one-page list of text parts."""
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    file_id = request.path_params["file_id"]
    get_attachment(account, vector_store_id, file_id)
    content = account.store.get_blob(file_id) or b""
    text, _ = _index_outcome(content, file_id)
    data = [{"type": "text", "text": text}] if text is not None else []
    return {"object": "vector_store.file_content.page", "data": data, "has_more": False}


# --- endpoints: file batches -----------------------------------------------------------------


def batch_attachments(account, batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch's files still attached to its store, in batch order (one query)."""
    found = account.store.get_many(ATTACHMENT, batch["_file_ids"], batch["vector_store_id"])
    return [found[file_id] for file_id in batch["_file_ids"] if file_id in found]


def batch_view(account, batch: dict[str, Any]) -> dict[str, Any]:
    moment = time.time()
    views = [attachment_view(a, moment) for a in batch_attachments(account, batch)]
    counts = file_counts(views)
    if batch.get("_cancelled"):
        status = "cancelled"
    elif counts["in_progress"]:
        status = "in_progress"
    elif views and counts["failed"] == len(views):
        status = "failed"
    else:
        status = "completed"
    view = {k: v for k, v in batch.items() if not k.startswith("_")}
    view.update(status=status, file_counts=counts)
    return view


def get_batch(account, vector_store_id: str, batch_id: str) -> dict[str, Any]:
    return get_or_404(
        account,
        BATCH,
        batch_id,
        "file batch",
        vector_store_id,
        check_parent=lambda: get_store(account, vector_store_id),
    )


def create_batch(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, ("file_ids", "files", "attributes", "chunking_strategy"))
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    attributes = validate_attributes(body.get("attributes"))
    chunking = validate_chunking(body.get("chunking_strategy"))
    entries: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    if body.get("file_ids") is not None and body.get("files") is not None:
        raise bad_request("Provide either 'file_ids' or 'files', not both.", "files")
    if body.get("files") is not None:
        files = body["files"]
        expect_type(files, list, "files", "an array")
        check_array_length(files, "files", MAX_BATCH_FILES)
        for index, entry in enumerate(files):
            where = f"files[{index}]"
            expect_type(entry, dict, where, "an object")
            reject_unknown(entry, ("file_id", "attributes", "chunking_strategy"))
            file_id = entry.get("file_id")
            if not isinstance(file_id, str):
                raise bad_request(f"Missing required parameter: '{where}.file_id'.", where)
            entries.append(
                (
                    file_id,
                    validate_attributes(entry.get("attributes"), f"{where}.attributes")
                    or attributes,
                    validate_chunking(entry.get("chunking_strategy"), f"{where}.chunking_strategy")
                    if entry.get("chunking_strategy") is not None
                    else chunking,
                )
            )
    else:
        file_ids = validate_file_ids(body.get("file_ids"), limit=MAX_BATCH_FILES)
        if not file_ids:
            raise bad_request("Missing required parameter: 'file_ids'.", "file_ids")
        entries = [(file_id, attributes, chunking) for file_id in file_ids]
    batch = {
        "id": new_id("vsfb"),
        "object": "vector_store.files_batch",
        "created_at": now(),
        "vector_store_id": vector_store_id,
        "_file_ids": list(dict.fromkeys(file_id for file_id, _, _ in entries)),
    }
    with account.store.transaction():
        get_store(account, vector_store_id)
        for file_id, file_attributes, file_chunking in entries:
            attach(account, vector_store_id, file_id, file_attributes, file_chunking)
        account.store.insert(BATCH, batch, vector_store_id)
    return batch_view(account, batch)


def retrieve_batch(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    return batch_view(account, get_batch(account, vector_store_id, request.path_params["batch_id"]))


def cancel_batch(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Stop indexing what has not finished: those files become ``cancelled`` (no chunks)."""
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    moment = time.time()
    stopped = False
    with account.store.transaction():
        batch = get_batch(account, vector_store_id, request.path_params["batch_id"])
        for attachment in batch_attachments(account, batch):
            if attachment_view(attachment, moment)["status"] != "in_progress":
                continue
            attachment["_cancelled"] = True
            account.store.put(ATTACHMENT, attachment, vector_store_id)
            account.store.chunks.remove(vector_store_id, attachment["id"])
            stopped = True
        if stopped:
            batch["_cancelled"] = True
            account.store.put(BATCH, batch, vector_store_id)
    return batch_view(account, batch)


def list_batch_files(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    vector_store_id = request.path_params["vector_store_id"]
    batch = get_batch(account, vector_store_id, request.path_params["batch_id"])
    members = set(batch["_file_ids"])
    status_filter = _status_filter(request)

    def where(attachment: dict[str, Any]) -> bool:
        return attachment["id"] in members and (status_filter is None or status_filter(attachment))

    result = page(account.store, ATTACHMENT, vector_store_id, list_params(request), where)
    result["data"] = [attachment_view(a) for a in result["data"]]
    return result


def routes() -> list[Route]:
    base = "/v1/vector_stores/{vector_store_id}"
    return [
        Route("/v1/vector_stores", endpoint(create), methods=["POST"]),
        Route("/v1/vector_stores", endpoint(list_stores), methods=["GET"]),
        Route(base, endpoint(retrieve), methods=["GET"]),
        Route(base, endpoint(modify), methods=["POST"]),
        Route(base, endpoint(delete), methods=["DELETE"]),
        Route(f"{base}/search", endpoint(search), methods=["POST"]),
        Route(f"{base}/files", endpoint(create_file), methods=["POST"]),
        Route(f"{base}/files", endpoint(list_files), methods=["GET"]),
        Route(f"{base}/files/{{file_id}}", endpoint(retrieve_file), methods=["GET"]),
        Route(f"{base}/files/{{file_id}}", endpoint(update_file), methods=["POST"]),
        Route(f"{base}/files/{{file_id}}", endpoint(delete_file), methods=["DELETE"]),
        Route(f"{base}/files/{{file_id}}/content", endpoint(file_content), methods=["GET"]),
        Route(f"{base}/file_batches", endpoint(create_batch), methods=["POST"]),
        Route(f"{base}/file_batches/{{batch_id}}", endpoint(retrieve_batch), methods=["GET"]),
        Route(f"{base}/file_batches/{{batch_id}}/cancel", endpoint(cancel_batch), methods=["POST"]),
        Route(
            f"{base}/file_batches/{{batch_id}}/files", endpoint(list_batch_files), methods=["GET"]
        ),
    ]
