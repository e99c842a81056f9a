"""``/v1/files``: multipart upload, list (by purpose), retrieve, delete, content.

Bytes live in the store's blob table under the file id. Deleting a file also detaches it from
every vector store (attachment and chunks), so search never cites a file that is gone.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistctl.local.domain.records import new_id, now
from assistctl.local.http import (
    ApiError,
    account_of,
    bad_request,
    endpoint,
    list_params,
    one_of,
    page,
)

TYPE = "file"
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
LIST_DEFAULT_LIMIT = 10_000
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
NOT_DOWNLOADABLE = ("assistants",)


def file_not_found(file_id: str) -> ApiError:
    return ApiError(404, f"No such File object: {file_id}", param="id")


def get_file(account, file_id: str) -> dict[str, Any]:
    file = account.store.get(TYPE, file_id)
    if file is None:
        raise file_not_found(file_id)
    return file


def _expiry(form, created_at: int) -> int | None:
    anchor = form.get("expires_after[anchor]")
    seconds = form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    one_of(anchor, "expires_after.anchor", ("created_at",))
    try:
        value = int(seconds or "")
    except ValueError:
        raise bad_request(
            "Invalid 'expires_after.seconds': expected an integer.", "expires_after.seconds"
        ) from None
    if not 3600 <= value <= 2_592_000:
        raise bad_request(
            "Invalid 'expires_after.seconds': expected a value between 3600 and 2592000.",
            "expires_after.seconds",
        )
    return created_at + value


def store_upload(account, filename: str, purpose: str, content: bytes, expires_at) -> dict:
    """Record an uploaded file (object + bytes) in one transaction."""
    created_at = now()
    file = {
        "id": new_id("file", "-"),
        "object": "file",
        "bytes": len(content),
        "created_at": created_at,
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
        "status_details": None,
        "expires_at": expires_at,
    }
    with account.store.transaction():
        account.store.put_blob(file["id"], content)
        account.store.insert(TYPE, file)
    return file


async def upload(request: Request) -> Response:
    """Multipart upload: ``file`` (required), ``purpose`` (required), optional expiry."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise bad_request(
            "Invalid Content-Type header: expected multipart/form-data with 'file' and "
            "'purpose' fields."
        )
    try:
        form = await request.form(max_files=1)
    except Exception as exc:  # malformed multipart: the client's fault, never a 500
        raise bad_request(f"Could not parse the multipart form: {exc}") from None
    try:
        upload_file = form.get("file")
        purpose = form.get("purpose")
        if not isinstance(upload_file, UploadFile):
            raise bad_request("Missing required parameter: 'file'.", param="file")
        if purpose is None:
            raise bad_request("Missing required parameter: 'purpose'.", param="purpose")
        one_of(purpose, "purpose", PURPOSES)
        # Starlette bounds form fields, never file parts: the file's size is checked here.
        if upload_file.size is not None and upload_file.size > MAX_UPLOAD_BYTES:
            raise bad_request(
                f"File is too large: {upload_file.size} bytes, the maximum is "
                f"{MAX_UPLOAD_BYTES} bytes.",
                param="file",
            )
        content = await upload_file.read()
        filename = upload_file.filename or "upload"
        expires_at = _expiry(form, now())
    finally:
        await form.close()
    file = await anyio.to_thread.run_sync(
        store_upload, account_of(request), filename, purpose, content, expires_at
    )
    return JSONResponse(file)


def list_files(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    purpose = request.query_params.get("purpose")
    params = list_params(request, default_limit=LIST_DEFAULT_LIMIT, max_limit=LIST_DEFAULT_LIMIT)
    where = (lambda file: file["purpose"] == purpose) if purpose else None
    return page(account_of(request).store, TYPE, "", params, where)


def retrieve(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    return get_file(account_of(request), request.path_params["file_id"])


def delete(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    from assistctl.local.vector_stores import detach_everywhere

    account = account_of(request)
    file_id = request.path_params["file_id"]
    with account.store.transaction():
        get_file(account, file_id)
        detach_everywhere(account, file_id)
        account.store.delete(TYPE, file_id)
        account.store.delete_blob(file_id)
    return {"id": file_id, "object": "file", "deleted": True}


def content(request: Request, body: dict[str, Any]) -> Response:
    account = account_of(request)
    file = get_file(account, request.path_params["file_id"])
    if file["purpose"] in NOT_DOWNLOADABLE:
        raise bad_request(f"Not allowed to download files of purpose: {file['purpose']}")
    data = account.store.get_blob(file["id"]) or b""
    return Response(data, media_type="application/octet-stream")


def routes() -> list[Route]:
    return [
        Route("/v1/files", upload, methods=["POST"]),
        Route("/v1/files", endpoint(list_files), methods=["GET"]),
        Route("/v1/files/{file_id}", endpoint(retrieve), methods=["GET"]),
        Route("/v1/files/{file_id}", endpoint(delete), methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", endpoint(content), methods=["GET"]),
    ]
