"""``/v1/models``: the model names the account's engine answers to."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, account_of, endpoint


def list_models(request: Request, body: Body) -> Body:
    return account_of(request).models.page()


def retrieve(request: Request, body: Body) -> Body:
    return account_of(request).models.get(request.path_params["model"])


def routes() -> list[Route]:
    return [
        Route("/v1/models", endpoint(list_models), methods=["GET"]),
        Route("/v1/models/{model:path}", endpoint(retrieve), methods=["GET"]),
    ]
