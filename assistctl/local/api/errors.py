"""Error answers with the API's body ``{"error": {"message", "type", "param", "code"}}`` and the
API's wording, because clients (and the SDK's exception classes) key off status and message."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from assistctl.local.domain import InvalidRequest, NotFound, Refusal, StoreUnavailable

logger = logging.getLogger("assistctl.local")
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a URL-decoded path can neither forge a
    log line (``%0A``) nor write terminal escapes (``%1B``)."""
    return text.replace("\\", "\\\\").translate(_CONTROL)


class ApiError(Exception):
    """An error answer with any status: raised by the HTTP layer itself (401, injected faults,
    rate limits), and the form every other error is answered in."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def response(self, extra_headers: dict[str, str] | None = None) -> JSONResponse:
        """The error answer; ``extra_headers`` (e.g. rate-limit counters) yield to its own."""
        body = {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }
        headers = {**(extra_headers or {}), **self.headers}
        return JSONResponse(body, status_code=self.status, headers=headers)


def refusal_status(refusal: Refusal) -> int:
    if isinstance(refusal, NotFound):
        return 404
    assert isinstance(refusal, InvalidRequest)
    return 400


async def handle_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return ApiError(refusal_status(exc), exc.message, param=exc.param, code=exc.code).response()


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def handle_internal_error(request: Request, exc: Exception) -> Response:
    """A real bug: still the API's body, never a traceback on the wire (it goes to the log)."""
    path = printable(request.url.path)
    logger.error("internal error on %s %s", request.method, path, exc_info=exc)
    return ApiError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    ).response()


async def handle_store_unavailable(request: Request, exc: Exception) -> Response:
    """The database went away (a PostgreSQL server down or unreachable): a 503 the SDKs retry,
    and one log line saying why, never a traceback."""
    logger.error("%s %s: %s", request.method, printable(request.url.path), exc)
    return ApiError(
        503, "The server is overloaded or not ready yet.", type="server_error"
    ).response()


async def handle_client_disconnect(request: Request, exc: Exception) -> Response:
    """Clients die mid-request (kill -9, timeouts): routine for a server, so one line, no
    traceback. Nothing was written: the body never arrived whole."""
    logger.info("client disconnected during %s %s", request.method, printable(request.url.path))
    return Response(status_code=499)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (unknown path or method), shaped like the API's."""
    status = getattr(exc, "status_code", 404)
    if status == 405:
        message = f"Invalid method for URL ({request.method} {request.url.path})"
    else:
        message = f"Invalid URL ({request.method} {request.url.path})"
    return ApiError(status, message).response()


EXCEPTION_HANDLERS = {
    Refusal: handle_refusal,
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    ClientDisconnect: handle_client_disconnect,
    StoreUnavailable: handle_store_unavailable,
    Exception: handle_internal_error,
}
