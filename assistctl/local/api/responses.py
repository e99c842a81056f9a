"""``/v1/responses``: create (answered as JSON, in the background, or as typed server-sent
events), retrieve, delete, cancel, and the input items of a response."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, account_of, endpoint, page_request
from assistctl.local.api.items import query_include
from assistctl.local.api.response_requests import parse_response_request
from assistctl.local.api.streaming import event_stream, frame, sse_response
from assistctl.local.api.validation import one_of
from assistctl.local.domain import Emit, InvalidRequest


def create(request: Request, body: Body) -> Response:
    account = account_of(request)
    parsed = parse_response_request(account, body)
    opened = account.responses.open(parsed)
    if parsed.stream:
        created = frame("response.created", account.responses.announce(opened))

        def work(emit: Emit) -> None:
            account.responses.execute(opened, emit, announced=True)

        return sse_response(event_stream([created], work, closing=b""))
    if parsed.background:
        queued = account.responses.view_of(opened)  # before the background thread changes it
        account.responses.start(opened)
        return JSONResponse(queued)
    return JSONResponse(account.responses.execute(opened, None))


def retrieve(request: Request, body: Body) -> Body | Response:
    """The response; with ``stream=true`` (background responses) its events again, after
    ``starting_after`` when given."""
    account = account_of(request)
    response_id = request.path_params["response_id"]
    include = query_include(request)
    query = request.query_params
    if one_of(query.get("stream", "false").lower(), "stream", ("true", "false")) == "false":
        return account.responses.view(response_id, include)
    events = account.responses.replay(response_id, _starting_after(query.get("starting_after")))
    return sse_response(frame(event["type"], event) for event in events)


def _starting_after(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidRequest(
            f"Invalid 'starting_after': expected an integer >= 0, but got {value!r} instead.",
            param="starting_after",
        )
    return int(value)


def delete(request: Request, body: Body) -> Body:
    response_id = request.path_params["response_id"]
    account_of(request).responses.delete(response_id)
    return {"id": response_id, "object": "response.deleted", "deleted": True}


def cancel(request: Request, body: Body) -> Body:
    return account_of(request).responses.cancel(request.path_params["response_id"])


def input_items(request: Request, body: Body) -> Body:
    account = account_of(request)
    return account.responses.input_items(
        request.path_params["response_id"], page_request(request), query_include(request)
    )


def routes() -> list[Route]:
    path = "/v1/responses/{response_id}"
    return [
        Route("/v1/responses", endpoint(create), methods=["POST"]),
        Route(path, endpoint(retrieve), methods=["GET"]),
        Route(path, endpoint(delete), methods=["DELETE"]),
        Route(f"{path}/cancel", endpoint(cancel), methods=["POST"]),
        Route(f"{path}/input_items", endpoint(input_items), methods=["GET"]),
    ]
