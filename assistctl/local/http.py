"""Request and response helpers shared by every endpoint of the local account.

Errors carry the API's body ``{"error": {"message", "type", "param", "code"}}`` and the API's
wording, because clients (and the SDK's exception classes) key off status and message.
Handlers are plain synchronous functions: ``endpoint`` reads and parses the body on the event
loop, then runs the handler in a worker thread so slow SQLite work never blocks other requests.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

logger = logging.getLogger("assistctl.local")

MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_VALUE_LENGTH = 512
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class ApiError(Exception):
    """Raised anywhere in a handler; answered with the API's error body and ``status``."""

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
        return api_error(
            self.status,
            self.message,
            self.type,
            self.param,
            self.code,
            headers={**(extra_headers or {}), **self.headers},
        )


def error_body(
    message: str, type: str = "invalid_request_error", param: str | None = None, code=None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def api_error(
    status: int,
    message: str,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(message, type, param, code), status_code=status, headers=headers)


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def not_found(kind: str, id: str) -> ApiError:
    """The API's 404: ``No assistant found with id 'asst_x'.``"""
    return ApiError(404, f"No {kind} found with id '{id}'.")


def get_or_404(
    account,
    type: str,
    id: str,
    kind: str,
    parent: str = "",
    *,
    check_parent: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """A stored object, or the API's 404 naming it as ``kind``. On a miss, ``check_parent``
    (which raises the parent's own 404) runs first, so a missing thread or vector store is
    named as such, while a hit never reads the parent."""
    found = account.store.get(type, id, parent)
    if found is None:
        if check_parent is not None:
            check_parent()
        raise not_found(kind, id)
    return found


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def handle_internal_error(request: Request, exc: Exception) -> Response:
    """A real bug: still the API's body, never a traceback on the wire (it goes to the log)."""
    logger.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return api_error(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )


async def handle_client_disconnect(request: Request, exc: Exception) -> Response:
    """Clients die mid-request (kill -9, timeouts): routine for a server, so one line, no
    traceback. Nothing was written: the body never arrived whole."""
    logger.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=499)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (unknown path or method), shaped like the API's."""
    status = getattr(exc, "status_code", 404)
    if status == 405:
        message = f"Invalid method for URL ({request.method} {request.url.path})"
    else:
        message = f"Invalid URL ({request.method} {request.url.path})"
    return api_error(status, message)


# --- bodies -------------------------------------------------------------------------------


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """The request body as an object; an empty body is ``{}``."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON.)"
        ) from None
    if not isinstance(body, dict):
        raise bad_request(
            f"Invalid type for request body: expected an object, but got {json_type(body)} instead."
        )
    return body


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def reject_unknown(body: dict[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for key in body:
        if key not in allowed:
            raise bad_request(f"Unrecognized request argument supplied: {key}", param=key)


def require(body: dict[str, Any], name: str) -> Any:
    if body.get(name) is None:
        raise bad_request(f"Missing required parameter: '{name}'.", param=name)
    return body[name]


def expect_type(value: Any, kind: type | tuple[type, ...], param: str, expected: str) -> None:
    """400 unless ``value`` has the JSON type ``expected`` (bools are not numbers)."""
    wrong = isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))
    if wrong or not isinstance(value, kind):
        raise bad_request(
            f"Invalid type for '{param}': expected {expected}, but got {json_type(value)} instead.",
            param=param,
        )


def optional_string(body: dict[str, Any], name: str, max_length: int | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    expect_type(value, str, name, "a string")
    if max_length is not None and len(value) > max_length:
        raise bad_request(
            f"Invalid '{name}': string too long. Expected a string with maximum length "
            f"{max_length}, but got a string with length {len(value)} instead.",
            param=name,
        )
    return value


def optional_number(
    body: dict[str, Any], name: str, minimum: float, maximum: float, param: str | None = None
) -> float | None:
    """``body[name]`` within bounds, or None; errors name ``param`` (the nested path), default
    ``name``."""
    value = body.get(name)
    if value is None:
        return None
    param = param or name
    expect_type(value, (int, float), param, "a decimal")
    if value < minimum:
        raise bad_request(
            f"Invalid '{param}': decimal below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.",
            param=param,
        )
    if value > maximum:
        raise bad_request(
            f"Invalid '{param}': decimal above maximum value. Expected a value <= {maximum}, "
            f"but got {value} instead.",
            param=param,
        )
    return value


def check_array_length(value: list, param: str, maximum: int) -> None:
    if len(value) > maximum:
        raise bad_request(
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{maximum}, but got an array with length {len(value)} instead.",
            param=param,
        )


def one_of(value: Any, param: str, supported: Iterable[str]) -> str:
    supported = list(supported)
    if not isinstance(value, str) or value not in supported:
        quoted = [f"'{s}'" for s in supported]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
        shown = f"'{value}'" if isinstance(value, str) else json.dumps(value)
        raise bad_request(f"Invalid value: {shown}. Supported values are: {listed}.", param=param)
    return value


def validate_metadata(
    value: Any,
    param: str = "metadata",
    *,
    value_types: tuple[type, ...] = (str,),
    expected: str = "a string",
) -> dict[str, Any]:
    """The API's metadata limits: ≤ 16 keys, keys ≤ 64 chars, string values ≤ 512 chars.
    ``value_types`` widens what a value may be (vector-store file attributes)."""
    if value is None:
        return {}
    expect_type(value, dict, param, "an object")
    if len(value) > MAX_METADATA_KEYS:
        raise bad_request(
            f"Invalid '{param}': too many properties. Expected an object with at most "
            f"{MAX_METADATA_KEYS} properties, but got an object with {len(value)} properties "
            "instead.",
            param=param,
        )
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY_LENGTH:
            raise bad_request(
                f"Invalid '{param}': metadata key too long. Expected a key with maximum length "
                f"{MAX_METADATA_KEY_LENGTH}, but got a key with length {len(key)} instead.",
                param=f"{param}.{key[:MAX_METADATA_KEY_LENGTH]}",
            )
        expect_type(item, value_types, f"{param}.{key}", expected)
        if isinstance(item, str) and len(item) > MAX_METADATA_VALUE_LENGTH:
            raise bad_request(
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum "
                f"length {MAX_METADATA_VALUE_LENGTH}, but got a string with length "
                f"{len(item)} instead.",
                param=f"{param}.{key}",
            )
    return dict(value)


# --- list parameters ---------------------------------------------------------------------


@dataclass(frozen=True)
class ListParams:
    limit: int
    order: str
    after: str | None
    before: str | None


def list_params(
    request: Request, *, default_limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT
) -> ListParams:
    """``limit`` (1..100, default 20), ``order`` (asc|desc, default desc), ``after``, ``before``.

    ``/v1/files`` pages differently (up to 10,000), hence the overridable bounds."""
    query = request.query_params
    limit = default_limit
    raw_limit = query.get("limit")
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise bad_request(
                f"Invalid 'limit': expected an integer, but got {raw_limit!r} instead.",
                param="limit",
            ) from None
        if limit < 1:
            raise bad_request(
                "Invalid 'limit': integer below minimum value. Expected a value greater than or "
                f"equal to 1, but got {limit} instead.",
                param="limit",
                code="integer_below_min_value",
            )
        if limit > max_limit:
            raise bad_request(
                "Invalid 'limit': integer above maximum value. Expected a value less than or "
                f"equal to {max_limit}, but got {limit} instead.",
                param="limit",
                code="integer_above_max_value",
            )
    order = one_of(query.get("order", "desc"), "order", ("asc", "desc"))
    return ListParams(
        limit=limit,
        order=order,
        after=query.get("after") or None,
        before=query.get("before") or None,
    )


def page(store, type: str, parent: str, params: ListParams, where=None) -> dict[str, Any]:
    """One API list page of a store collection; an unknown cursor is a 400 like the API's."""
    from assistctl.local.storage import CursorNotFound

    try:
        return store.list(
            type,
            parent,
            order=params.order,
            after=params.after,
            before=params.before,
            limit=params.limit,
            where=where,
        ).body()
    except CursorNotFound as exc:
        name = "after" if params.after == exc.args[0] else "before"
        raise bad_request(
            f"Invalid '{name}': no object with id '{exc.args[0]}' in this list.", param=name
        ) from None


# --- endpoints ---------------------------------------------------------------------------

Handler = Callable[[Request, dict[str, Any]], Any]


def endpoint(handler: Handler) -> Callable[[Request], Any]:
    """Adapt ``handler(request, body) -> dict | Response`` into an async Starlette endpoint.

    The JSON body (``{}`` for GET/DELETE) is parsed on the event loop; the handler runs in a
    worker thread. A dict result is answered as JSON with status 200.
    """

    async def run(request: Request) -> Response:
        body: dict[str, Any] = {}
        if request.method in ("POST", "PUT", "PATCH"):
            body = parse_json_body(await request.body())
        result = await anyio.to_thread.run_sync(handler, request, body)
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def account_of(request: Request):
    """The ``Account`` serving this request (``app.state.account``)."""
    return request.app.state.account
