"""Every route the local account serves, in the order Starlette must try them."""

from __future__ import annotations

from starlette.routing import BaseRoute

from assistctl.local.api import (
    admin,
    assistants,
    conversations,
    file_batches,
    files,
    models,
    responses,
    runs,
    threads,
    uploads,
    vector_stores,
)


def routes(*, without_assistants_api: bool = False) -> list[BaseRoute]:
    """``without_assistants_api`` leaves out ``/v1/assistants`` and ``/v1/threads`` (and all
    under them), so they answer 404 as on OpenAI since the Assistants API's sunset."""
    # Runs first: ``/v1/threads/runs`` must win over ``/v1/threads/{thread_id}``.
    assistants_api: list[BaseRoute] = [
        *assistants.routes(),
        *runs.routes(),
        *threads.routes(),
    ]
    return [
        *(assistants_api if not without_assistants_api else []),
        *files.routes(),
        *uploads.routes(),
        *vector_stores.routes(),
        *file_batches.routes(),
        *responses.routes(),
        *conversations.routes(),
        *models.routes(),
        *admin.routes(),
    ]
