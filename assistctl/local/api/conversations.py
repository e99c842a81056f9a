"""``/v1/conversations`` and their items: create (with initial items), retrieve, update
metadata, delete; items list, create, retrieve, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, account_of, endpoint, page_request
from assistctl.local.api.items import parse_items, query_include
from assistctl.local.api.validation import reject_unknown, require, validate_metadata
from assistctl.local.domain import JsonText, item_view

MAX_ITEMS_AT_ONCE = 20


def create(request: Request, body: Body) -> Body:
    reject_unknown(body, ("items", "metadata"), "")
    account = account_of(request)
    items = body.get("items")
    parsed = parse_items(account, items, "items", MAX_ITEMS_AT_ONCE) if items is not None else []
    metadata = validate_metadata(body.get("metadata"))
    return account.conversations.create(parsed, metadata)


def retrieve(request: Request, body: Body) -> JsonText:
    return account_of(request).conversations.get_json(request.path_params["conversation_id"])


def update(request: Request, body: Body) -> Body:
    reject_unknown(body, ("metadata",), "")
    if "metadata" not in body:
        require(body, "metadata")
    metadata = validate_metadata(body["metadata"])
    conversations = account_of(request).conversations
    return conversations.update(request.path_params["conversation_id"], metadata)


def delete(request: Request, body: Body) -> Body:
    conversation_id = request.path_params["conversation_id"]
    account_of(request).conversations.delete(conversation_id)
    return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}


def list_items(request: Request, body: Body) -> Body:
    conversations = account_of(request).conversations
    return conversations.items_page(
        request.path_params["conversation_id"], page_request(request), query_include(request)
    )


def create_items(request: Request, body: Body) -> Body:
    reject_unknown(body, ("items",), "")
    account = account_of(request)
    include = query_include(request)
    items = parse_items(account, require(body, "items"), "items", MAX_ITEMS_AT_ONCE)
    added = account.conversations.add_items(request.path_params["conversation_id"], items)
    return {
        "object": "list",
        "data": [item_view(item, include) for item in added],
        "first_id": added[0]["id"] if added else None,
        "last_id": added[-1]["id"] if added else None,
        "has_more": False,
    }


def retrieve_item(request: Request, body: Body) -> Body:
    params = request.path_params
    found = account_of(request).conversations.get_item(params["conversation_id"], params["item_id"])
    return item_view(found, query_include(request))


def delete_item(request: Request, body: Body) -> Body:
    params = request.path_params
    conversations = account_of(request).conversations
    return conversations.delete_item(params["conversation_id"], params["item_id"])


def routes() -> list[Route]:
    path = "/v1/conversations/{conversation_id}"
    return [
        Route("/v1/conversations", endpoint(create), methods=["POST"]),
        Route(path, endpoint(retrieve, inline=True), methods=["GET"]),
        Route(path, endpoint(update), methods=["POST"]),
        Route(path, endpoint(delete), methods=["DELETE"]),
        Route(f"{path}/items", endpoint(list_items, inline=True), methods=["GET"]),
        Route(f"{path}/items", endpoint(create_items), methods=["POST"]),
        Route(f"{path}/items/{{item_id}}", endpoint(retrieve_item, inline=True), methods=["GET"]),
        Route(f"{path}/items/{{item_id}}", endpoint(delete_item), methods=["DELETE"]),
    ]
