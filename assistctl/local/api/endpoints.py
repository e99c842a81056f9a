"""Endpoints: handlers are plain synchronous functions ``handler(request, body)``. ``endpoint``
reads and parses the JSON body on the event loop, then runs the handler in a worker thread so
slow storage work never blocks other requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from assistctl.local.api.json_body import decode_json_body
from assistctl.local.api.validation import json_type, one_of
from assistctl.local.domain import Account, InvalidRequest, JsonText, PageRequest

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

Body = dict[str, Any]
Handler = Callable[[Request, Body], Body | JsonText | Response]


def endpoint(handler: Handler, *, inline: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Adapt ``handler(request, body) -> dict | JsonText | Response`` into an async Starlette
    endpoint.

    The JSON body (``{}`` for GET/DELETE) is parsed on the event loop; the handler runs in a
    worker thread, or, for an ``inline`` handler (a read of one object or one page) on an
    account whose reads never wait for writes, on the event loop itself: the hop to a thread
    would cost more than the read. A dict result is answered as JSON with status 200, a
    ``JsonText`` as it is.
    """

    async def run(request: Request) -> Response:
        body: Body = {}
        if request.method in ("POST", "PUT", "PATCH"):
            body = parse_json_body(await request.body())
        if inline and account_of(request).reads_inline:
            result = handler(request, body)
        else:
            result = await anyio.to_thread.run_sync(handler, request, body)
        if isinstance(result, Response):
            return result
        if isinstance(result, JsonText):
            return Response(result.content, media_type="application/json")
        return JSONResponse(result)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def account_of(request: Request) -> Account:
    """The account this app serves."""
    account: Account = request.app.state.account
    return account


def parse_json_body(raw: bytes) -> Body:
    """The request body as an object; an empty body is ``{}``. Decoded strictly (see
    ``json_body``); its size was bounded by the gate."""
    if not raw.strip():
        return {}
    body = decode_json_body(raw)
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"Invalid type for request body: expected an object, but got {json_type(body)} instead."
        )
    return body


def page_request(
    request: Request, *, default_limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT
) -> PageRequest:
    """``limit`` (1..100, default 20), ``order`` (asc|desc, default desc), ``after``, ``before``.

    ``/v1/files`` pages differently (up to 10,000), hence the overridable bounds."""
    query = request.query_params
    limit = default_limit
    raw_limit = query.get("limit")
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise InvalidRequest(
                f"Invalid 'limit': expected an integer, but got {raw_limit!r} instead.",
                param="limit",
            ) from None
        if limit < 1:
            raise InvalidRequest(
                "Invalid 'limit': integer below minimum value. Expected a value greater than or "
                f"equal to 1, but got {limit} instead.",
                param="limit",
                code="integer_below_min_value",
            )
        if limit > max_limit:
            raise InvalidRequest(
                "Invalid 'limit': integer above maximum value. Expected a value less than or "
                f"equal to {max_limit}, but got {limit} instead.",
                param="limit",
                code="integer_above_max_value",
            )
    order = one_of(query.get("order", "desc"), "order", ("asc", "desc"))
    return PageRequest(
        limit=limit,
        order=order,
        after=query.get("after") or None,
        before=query.get("before") or None,
    )
