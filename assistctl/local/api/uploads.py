"""``/v1/uploads``: the chunked upload API (``client.uploads``): create, add parts (multipart
``data``, ≤ 64 MB each), complete with the parts in order, cancel. The file it makes lives in
the same storage as ``/v1/files``; its size is bounded like any upload's."""

from __future__ import annotations

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, account_of, endpoint
from assistctl.local.api.files import PURPOSES, expiry_at, multipart_form
from assistctl.local.api.intake import MAX_UPLOAD_BYTES
from assistctl.local.api.validation import (
    expect_type,
    one_of,
    optional_string,
    reject_unknown,
    require,
)
from assistctl.local.domain import InvalidRequest, chunks_of, now

MAX_PART_BYTES = 64 * 1024 * 1024
MAX_FILENAME = 256


def create(request: Request, body: Body) -> Body:
    reject_unknown(body, ("bytes", "filename", "mime_type", "purpose", "expires_after"))
    size = require(body, "bytes")
    expect_type(size, int, "bytes", "an integer")
    if not 0 < size <= MAX_UPLOAD_BYTES:
        raise InvalidRequest(
            f"Invalid 'bytes': expected a value between 1 and {MAX_UPLOAD_BYTES}, but got "
            f"{size} instead.",
            "bytes",
        )
    require(body, "filename")
    filename = optional_string(body, "filename", MAX_FILENAME) or ""
    require(body, "mime_type")
    mime_type = optional_string(body, "mime_type") or ""
    purpose = one_of(require(body, "purpose"), "purpose", PURPOSES)
    expires_after = body.get("expires_after")
    expires_at = None
    if expires_after is not None:
        expect_type(expires_after, dict, "expires_after", "an object")
        reject_unknown(expires_after, ("anchor", "seconds"))
        expires_at = expiry_at(expires_after.get("anchor"), expires_after.get("seconds"), now())
    return account_of(request).uploads.create(filename, purpose, size, mime_type, expires_at)


async def add_part(request: Request) -> Response:
    """Multipart ``data``: the part's bytes, spooled to disk by the parser and streamed on."""
    form = await multipart_form(request, "a 'data' field")
    try:
        data = form.get("data")
        if not isinstance(data, UploadFile):
            raise InvalidRequest("Missing required parameter: 'data'.", param="data")
        size = data.size or 0
        if size > MAX_PART_BYTES:
            raise InvalidRequest(
                f"Part is too large: {size} bytes, the maximum is {MAX_PART_BYTES} bytes.",
                param="data",
            )
        data.file.seek(0)
        part = await anyio.to_thread.run_sync(
            account_of(request).uploads.add_part,
            request.path_params["upload_id"],
            chunks_of(data.file),
            size,
        )
    finally:
        await form.close()
    return JSONResponse(part)


def complete(request: Request, body: Body) -> Body:
    reject_unknown(body, ("part_ids", "md5"))
    part_ids = require(body, "part_ids")
    expect_type(part_ids, list, "part_ids", "an array")
    for index, part_id in enumerate(part_ids):
        expect_type(part_id, str, f"part_ids[{index}]", "a string")
    md5 = optional_string(body, "md5")
    return account_of(request).uploads.complete(
        request.path_params["upload_id"], part_ids, md5 or None
    )


def cancel(request: Request, body: Body) -> Body:
    return account_of(request).uploads.cancel(request.path_params["upload_id"])


def routes() -> list[Route]:
    base = "/v1/uploads/{upload_id}"
    return [
        Route("/v1/uploads", endpoint(create), methods=["POST"]),
        Route(f"{base}/parts", add_part, methods=["POST"]),
        Route(f"{base}/complete", endpoint(complete), methods=["POST"]),
        Route(f"{base}/cancel", endpoint(cancel), methods=["POST"]),
    ]
