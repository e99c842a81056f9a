"""Every route the local account serves, in the order Starlette must try them."""

from __future__ import annotations

from starlette.routing import BaseRoute

from assistctl.local.api import (
    admin,
    assistants,
    file_batches,
    files,
    runs,
    threads,
    uploads,
    vector_stores,
)


def routes() -> list[BaseRoute]:
    # Runs first: ``/v1/threads/runs`` must win over ``/v1/threads/{thread_id}``.
    return [
        *assistants.routes(),
        *files.routes(),
        *uploads.routes(),
        *vector_stores.routes(),
        *file_batches.routes(),
        *runs.routes(),
        *threads.routes(),
        *admin.routes(),
    ]
