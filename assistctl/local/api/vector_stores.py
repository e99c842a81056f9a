"""``/v1/vector_stores``: stores, their files (attachments) and search, validated as the API
does."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, account_of, endpoint, page_request
from assistctl.local.api.validation import (
    check_array_length,
    expect_type,
    one_of,
    optional_number,
    optional_string,
    reject_unknown,
    require,
    validate_metadata,
)
from assistctl.local.domain import (
    FILE_STATUSES,
    Chunking,
    InvalidRequest,
    NewVectorStore,
)

MAX_FILE_IDS = 500  # creating a store with files
MAX_NAME = 256
MAX_DESCRIPTION = 512
STORE_FIELDS = ("name", "file_ids", "expires_after", "chunking_strategy", "metadata", "description")
SEARCH_FIELDS = ("query", "filters", "max_num_results", "ranking_options", "rewrite_query")
SEARCH_RANKERS = ("none", "auto", "default-2024-11-15")  # not the assistants tool's rankers
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")


# --- validation ----------------------------------------------------------------------------


def parse_new_vector_store(body: Any, param: str = "") -> NewVectorStore:
    """A store to create, from ``POST /v1/vector_stores`` or inline ``tool_resources``
    (``param`` is then where it sits in the request)."""
    prefix = f"{param}." if param else ""
    expect_type(body, dict, param or "body", "an object")
    reject_unknown(body, STORE_FIELDS)
    file_ids = parse_file_ids(body.get("file_ids"), f"{prefix}file_ids")
    chunking = parse_chunking(body.get("chunking_strategy"), f"{prefix}chunking_strategy")
    return NewVectorStore(
        name=optional_string(body, "name", MAX_NAME) or "",
        description=optional_string(body, "description", MAX_DESCRIPTION),
        metadata=validate_metadata(body.get("metadata"), f"{prefix}metadata"),
        expires_after=parse_expires_after(body.get("expires_after")),
        file_ids=tuple(file_ids),
        chunking=chunking,
    )


def parse_chunking(value: Any, param: str = "chunking_strategy") -> Chunking:
    """``auto`` (the default) or ``static`` with 100..4096 tokens and overlap ≤ half."""
    if value is None:
        return Chunking()
    expect_type(value, dict, param, "an object")
    kind = one_of(value.get("type"), f"{param}.type", ("auto", "static"))
    if kind == "auto":
        return Chunking()
    static = value.get("static")
    expect_type(static, dict, f"{param}.static", "an object")
    size = static.get("max_chunk_size_tokens")
    overlap = static.get("chunk_overlap_tokens")
    expect_type(size, int, f"{param}.static.max_chunk_size_tokens", "an integer")
    expect_type(overlap, int, f"{param}.static.chunk_overlap_tokens", "an integer")
    if not 100 <= size <= 4096:
        raise InvalidRequest(
            f"Invalid '{param}.static.max_chunk_size_tokens': expected a value between 100 and "
            f"4096, but got {size} instead.",
            f"{param}.static.max_chunk_size_tokens",
        )
    if not 0 <= overlap <= size // 2:
        raise InvalidRequest(
            f"Invalid '{param}.static.chunk_overlap_tokens': must be between 0 and half of "
            f"max_chunk_size_tokens ({size // 2}), but got {overlap} instead.",
            f"{param}.static.chunk_overlap_tokens",
        )
    return Chunking(size, overlap)


def parse_attributes(value: Any, param: str = "attributes") -> dict[str, Any]:
    """Metadata's limits (16 keys of ≤ 64 chars, strings ≤ 512); values may also be numbers
    or booleans."""
    return validate_metadata(
        value, param, value_types=(str, int, float, bool), expected="a string, number or bool"
    )


def parse_expires_after(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    expect_type(value, dict, "expires_after", "an object")
    reject_unknown(value, ("anchor", "days"))
    one_of(value.get("anchor"), "expires_after.anchor", ("last_active_at",))
    days = value.get("days")
    expect_type(days, int, "expires_after.days", "an integer")
    if not 1 <= days <= 365:
        raise InvalidRequest(
            f"Invalid 'expires_after.days': expected a value between 1 and 365, but got {days} "
            "instead.",
            "expires_after.days",
        )
    return {"anchor": "last_active_at", "days": days}


def parse_file_ids(value: Any, param: str = "file_ids", limit: int = MAX_FILE_IDS) -> list[str]:
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
        reject_unknown(value, ("type", "filters"))
        nested = value.get("filters")
        expect_type(nested, list, f"{param}.filters", "an array")
        for index, item in enumerate(nested):
            validate_filter(item, f"{param}.filters[{index}]")
        return
    reject_unknown(value, ("type", "key", "value"))
    expect_type(value.get("key"), str, f"{param}.key", "a string")
    if "value" not in value:
        raise InvalidRequest(f"Missing required parameter: '{param}.value'.", f"{param}.value")
    compared = value["value"]
    scalar = (str, int, float, bool)
    if isinstance(compared, list):
        for index, item in enumerate(compared):
            expect_type(item, scalar, f"{param}.value[{index}]", "a string, number or boolean")
    else:
        expect_type(compared, scalar, f"{param}.value", "a string, number, boolean or array")


def status_filter(request: Request) -> str | None:
    """The ``filter`` query parameter: a file status, or None."""
    status = request.query_params.get("filter")
    if status is None:
        return None
    return one_of(status, "filter", FILE_STATUSES)


# --- endpoints: vector stores ------------------------------------------------------------


def create(request: Request, body: Body) -> Body:
    return account_of(request).vector_stores.create(parse_new_vector_store(body))


def list_stores(request: Request, body: Body) -> Body:
    return account_of(request).vector_stores.page(page_request(request))


def retrieve(request: Request, body: Body) -> Body:
    vector_stores = account_of(request).vector_stores
    return vector_stores.view(vector_stores.get(request.path_params["vector_store_id"]))


def modify(request: Request, body: Body) -> Body:
    reject_unknown(body, ("name", "expires_after", "metadata"))
    account = account_of(request)
    with account.transaction():
        vector_store = account.vector_stores.get(request.path_params["vector_store_id"])
        changes: Body = {}
        if "name" in body:
            changes["name"] = optional_string(body, "name", MAX_NAME) or ""
        if "metadata" in body:
            changes["metadata"] = validate_metadata(body["metadata"])
        if "expires_after" in body:
            changes["expires_after"] = parse_expires_after(body["expires_after"])
        return account.vector_stores.update(vector_store, changes)


def delete(request: Request, body: Body) -> Body:
    vector_store_id = request.path_params["vector_store_id"]
    account_of(request).vector_stores.delete(vector_store_id)
    return {"id": vector_store_id, "object": "vector_store.deleted", "deleted": True}


def search(request: Request, body: Body) -> Body:
    """Searching marks the store active (``last_active_at``)."""
    reject_unknown(body, SEARCH_FIELDS)
    vector_stores = account_of(request).vector_stores
    vector_store_id = request.path_params["vector_store_id"]
    vector_stores.get(vector_store_id)
    query = require(body, "query")
    if isinstance(query, list):
        if not all(isinstance(q, str) for q in query):
            raise InvalidRequest("Invalid 'query': expected a string or strings.", "query")
        text = " ".join(query)
    else:
        expect_type(query, str, "query", "a string")
        text = query
    limit = body.get("max_num_results", 10)
    expect_type(limit, int, "max_num_results", "an integer")
    if not 1 <= limit <= 50:
        raise InvalidRequest(
            f"Invalid 'max_num_results': expected a value between 1 and 50, but got {limit}.",
            "max_num_results",
        )
    filters = body.get("filters")
    if filters is not None:
        validate_filter(filters)
    rewrite = body.get("rewrite_query")
    if rewrite is not None:
        expect_type(rewrite, bool, "rewrite_query", "a boolean")
    ranking = body.get("ranking_options") or {}
    expect_type(ranking, dict, "ranking_options", "an object")
    reject_unknown(ranking, ("ranker", "score_threshold"))
    one_of(ranking.get("ranker", "auto"), "ranking_options.ranker", SEARCH_RANKERS)
    threshold = (
        optional_number(ranking, "score_threshold", 0, 1, "ranking_options.score_threshold") or 0.0
    )
    hits = vector_stores.search([vector_store_id], text, limit, filters, threshold)
    vector_stores.touch(vector_store_id)
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
        ],
        "has_more": False,
        "next_page": None,
    }


# --- endpoints: files of a vector store --------------------------------------------------


def create_file(request: Request, body: Body) -> Body:
    reject_unknown(body, ("file_id", "attributes", "chunking_strategy"))
    file_id = require(body, "file_id")
    expect_type(file_id, str, "file_id", "a string")
    attributes = parse_attributes(body.get("attributes"))
    chunking = parse_chunking(body.get("chunking_strategy"))
    vector_store_id = request.path_params["vector_store_id"]
    return account_of(request).vector_stores.attach_new(
        vector_store_id, file_id, attributes, chunking
    )


def list_files(request: Request, body: Body) -> Body:
    vector_stores = account_of(request).vector_stores
    vector_store_id = request.path_params["vector_store_id"]
    vector_stores.get(vector_store_id)
    params = page_request(request)
    return vector_stores.files_page(vector_store_id, params, status_filter(request))


def retrieve_file(request: Request, body: Body) -> Body:
    params = request.path_params
    return account_of(request).vector_stores.file_view(params["vector_store_id"], params["file_id"])


def update_file(request: Request, body: Body) -> Body:
    reject_unknown(body, ("attributes",))
    if "attributes" not in body:
        raise InvalidRequest("Missing required parameter: 'attributes'.", "attributes")
    attributes = parse_attributes(body["attributes"])
    params = request.path_params
    return account_of(request).vector_stores.set_attributes(
        params["vector_store_id"], params["file_id"], attributes
    )


def delete_file(request: Request, body: Body) -> Body:
    params = request.path_params
    account_of(request).vector_stores.detach(params["vector_store_id"], params["file_id"])
    return {"id": params["file_id"], "object": "vector_store.file.deleted", "deleted": True}


def file_content(request: Request, body: Body) -> Body:
    params = request.path_params
    return account_of(request).vector_stores.file_content(
        params["vector_store_id"], params["file_id"]
    )


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
    ]
