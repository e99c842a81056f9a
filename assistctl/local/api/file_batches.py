"""``/v1/vector_stores/{id}/file_batches``: create (``file_ids`` or ``files``), retrieve,
cancel, list files."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, account_of, endpoint, page_request
from assistctl.local.api.validation import objects_in, reject_unknown
from assistctl.local.api.vector_stores import (
    parse_attributes,
    parse_chunking,
    parse_file_ids,
    status_filter,
)
from assistctl.local.domain import BatchFile, InvalidRequest

MAX_BATCH_FILES = 2000


def parse_batch_files(body: Body) -> list[BatchFile]:
    """The batch's files: ``file_ids`` sharing the batch's attributes and chunking, or
    ``files``, each with its own (the batch's when left out)."""
    attributes = parse_attributes(body.get("attributes"))
    chunking = parse_chunking(body.get("chunking_strategy"))
    if body.get("file_ids") is not None and body.get("files") is not None:
        raise InvalidRequest("Provide either 'file_ids' or 'files', not both.", "files")
    if body.get("files") is None:
        file_ids = parse_file_ids(body.get("file_ids"), limit=MAX_BATCH_FILES)
        if not file_ids:
            raise InvalidRequest("Missing required parameter: 'file_ids'.", "file_ids")
        return [BatchFile(file_id, attributes, chunking) for file_id in file_ids]
    entries = []
    for where, entry in objects_in(body["files"], "files", MAX_BATCH_FILES):
        reject_unknown(entry, ("file_id", "attributes", "chunking_strategy"))
        file_id = entry.get("file_id")
        if not isinstance(file_id, str):
            raise InvalidRequest(f"Missing required parameter: '{where}.file_id'.", where)
        own_chunking = entry.get("chunking_strategy")
        entries.append(
            BatchFile(
                file_id,
                parse_attributes(entry.get("attributes"), f"{where}.attributes") or attributes,
                parse_chunking(own_chunking, f"{where}.chunking_strategy")
                if own_chunking is not None
                else chunking,
            )
        )
    return entries


def create(request: Request, body: Body) -> Body:
    reject_unknown(body, ("file_ids", "files", "attributes", "chunking_strategy"))
    files = parse_batch_files(body)
    vector_store_id = request.path_params["vector_store_id"]
    return account_of(request).file_batches.create(vector_store_id, files)


def retrieve(request: Request, body: Body) -> Body:
    params = request.path_params
    batches = account_of(request).file_batches
    return batches.view(batches.get(params["vector_store_id"], params["batch_id"]))


def cancel(request: Request, body: Body) -> Body:
    params = request.path_params
    return account_of(request).file_batches.cancel(params["vector_store_id"], params["batch_id"])


def list_files(request: Request, body: Body) -> Body:
    params = request.path_params
    batches = account_of(request).file_batches
    batch = batches.get(params["vector_store_id"], params["batch_id"])
    status = status_filter(request)
    return batches.files_page(batch, page_request(request), status)


def routes() -> list[Route]:
    base = "/v1/vector_stores/{vector_store_id}/file_batches"
    return [
        Route(base, endpoint(create), methods=["POST"]),
        Route(f"{base}/{{batch_id}}", endpoint(retrieve), methods=["GET"]),
        Route(f"{base}/{{batch_id}}/cancel", endpoint(cancel), methods=["POST"]),
        Route(f"{base}/{{batch_id}}/files", endpoint(list_files), methods=["GET"]),
    ]
