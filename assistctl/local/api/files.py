"""``/v1/files``: multipart upload, list (by purpose), retrieve, delete, content.

An upload never sits in memory whole: the multipart parser spools the file part to a temporary
file (past 1 MiB) and the storage copies it from there a chunk at a time."""

from __future__ import annotations

import anyio.to_thread
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, account_of, endpoint, page_request
from assistctl.local.api.errors import ApiError
from assistctl.local.api.intake import MAX_UPLOAD_BYTES
from assistctl.local.api.validation import one_of
from assistctl.local.domain import InvalidRequest, JsonText, chunks_of, now

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
LIST_DEFAULT_LIMIT = 10_000
MIN_EXPIRY_S = 3600
MAX_EXPIRY_S = 2_592_000


def expiry_at(anchor: object, seconds: object, created_at: int) -> int:
    """``expires_after`` (anchor ``created_at``, 3600..2592000 seconds) as a timestamp."""
    one_of(anchor, "expires_after.anchor", ("created_at",))
    try:
        value = int(seconds) if isinstance(seconds, int | str) else None
    except ValueError:
        value = None
    if value is None or isinstance(seconds, bool):
        raise InvalidRequest(
            "Invalid 'expires_after.seconds': expected an integer.", "expires_after.seconds"
        )
    if not MIN_EXPIRY_S <= value <= MAX_EXPIRY_S:
        raise InvalidRequest(
            "Invalid 'expires_after.seconds': expected a value between 3600 and 2592000.",
            "expires_after.seconds",
        )
    return created_at + value


def _expiry(form: FormData, created_at: int) -> int | None:
    anchor = form.get("expires_after[anchor]")
    seconds = form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    return expiry_at(anchor, seconds if isinstance(seconds, str) else None, created_at)


async def multipart_form(request: Request, fields: str) -> FormData:
    """The request's multipart form (one file at most); ``fields`` names what it must hold,
    for the error a body of another type gets."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest(
            f"Invalid Content-Type header: expected multipart/form-data with {fields}."
        )
    try:
        return await request.form(max_files=1)
    except ApiError:  # the body outgrew its limit
        raise
    except Exception as exc:  # malformed multipart: the client's fault, never a 500
        raise InvalidRequest(f"Could not parse the multipart form: {exc}") from None


async def upload(request: Request) -> Response:
    """Multipart upload: ``file`` (required), ``purpose`` (required), optional expiry."""
    form = await multipart_form(request, "'file' and 'purpose' fields")
    try:
        upload_file = form.get("file")
        purpose = form.get("purpose")
        if not isinstance(upload_file, UploadFile):
            raise InvalidRequest("Missing required parameter: 'file'.", param="file")
        if purpose is None:
            raise InvalidRequest("Missing required parameter: 'purpose'.", param="purpose")
        purpose = one_of(purpose, "purpose", PURPOSES)
        # Starlette bounds form fields, never file parts: the file's size is checked here.
        size = upload_file.size or 0
        if size > MAX_UPLOAD_BYTES:
            raise InvalidRequest(
                f"File is too large: {size} bytes, the maximum is {MAX_UPLOAD_BYTES} bytes.",
                param="file",
            )
        filename = upload_file.filename or "upload"
        expires_at = _expiry(form, now())
        upload_file.file.seek(0)
        file = await anyio.to_thread.run_sync(
            account_of(request).files.upload,
            filename,
            purpose,
            chunks_of(upload_file.file),
            size,
            expires_at,
        )
    finally:
        await form.close()
    return JSONResponse(file)


def list_files(request: Request, body: Body) -> JsonText:
    purpose = request.query_params.get("purpose")
    params = page_request(request, default_limit=LIST_DEFAULT_LIMIT, max_limit=LIST_DEFAULT_LIMIT)
    return account_of(request).files.page(params, purpose)


def retrieve(request: Request, body: Body) -> JsonText:
    return account_of(request).files.get_json(request.path_params["file_id"])


def delete(request: Request, body: Body) -> Body:
    file_id = request.path_params["file_id"]
    account_of(request).files.delete(file_id)
    return {"id": file_id, "object": "file", "deleted": True}


def content(request: Request, body: Body) -> Response:
    data = account_of(request).files.content(request.path_params["file_id"])
    return Response(data, media_type="application/octet-stream")


def routes() -> list[Route]:
    return [
        Route("/v1/files", upload, methods=["POST"]),
        Route("/v1/files", endpoint(list_files, inline=True), methods=["GET"]),
        Route("/v1/files/{file_id}", endpoint(retrieve, inline=True), methods=["GET"]),
        Route("/v1/files/{file_id}", endpoint(delete), methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", endpoint(content), methods=["GET"]),
    ]
