"""The local account's ASGI app: routes, the shared ``Account`` state and the request gate.

Storage conventions (``Store`` object types; ``parent`` is '' unless given):

=========================  ==================  ===========================================
type                       parent              what
=========================  ==================  ===========================================
``assistant``              ''                  ``/v1/assistants`` objects
``file``                   ''                  ``/v1/files`` objects; bytes in blobs[id]
``vector_store``           ''                  ``/v1/vector_stores`` objects (stored; status,
                                               file_counts, usage_bytes computed on read)
``vector_store.file``      vector store id     attachments; chunks in search's ``chunks``
``vector_store.file_batch`` vector store id    file batches (file ids kept in ``_file_ids``)
``thread``                 ''                  ``/v1/threads`` objects
``thread.message``         thread id           messages, in creation order
``thread.run``             thread id           runs (owned by runs.py)
``thread.run.step``        run id              run steps (owned by runs.py)
=========================  ==================  ===========================================

Keys starting with ``_`` in stored objects are private bookkeeping and are stripped from
responses by the module that owns the type.
"""

from __future__ import annotations

import hmac
import logging
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistctl.local import LocalConfig, database_path
from assistctl.local.faults import FaultGate, Faults, RequestStats
from assistctl.local.http import (
    ApiError,
    handle_api_error,
    handle_client_disconnect,
    handle_http_exception,
    handle_internal_error,
)
from assistctl.local.storage import Store

ADMIN_PREFIX = "/_admin"
access_log = logging.getLogger("assistctl.local.access")


class Account:
    """Everything one local account holds: its store, start config, live faults and stats."""

    def __init__(self, config: LocalConfig, data_dir: Path | None) -> None:
        self.config = config
        self.data_dir = data_dir
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(database_path(data_dir) if data_dir is not None else None)
        self.faults = Faults.from_config(config)
        self.stats = RequestStats()
        self._server: Any = None

    def attach_server(self, server: Any) -> None:
        """Remember the uvicorn server, whose connections a ``drop`` fault rule closes."""
        self._server = server

    def drop_connection(self, client: tuple[str, int] | None) -> bool:
        """Abort the TCP connection from ``client`` without an answer (True if found)."""
        if self._server is None or client is None:
            return False
        for connection in list(self._server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None and tuple(getattr(connection, "client", ()) or ()) == tuple(
                client
            ):
                transport.abort()
                return True
        return False

    def search(self, vector_store_ids: list[str], query: str, max_results: int = 10) -> list:
        """The best-matching chunks of the given vector stores' completed files."""
        from assistctl.local.search import search

        return search(self, vector_store_ids, query, max_results)

    def close(self) -> None:
        self.store.close()


def _unauthorized(message: str, code: str | None) -> ApiError:
    return ApiError(401, message, code=code)


def check_api_key(account: Account, headers: dict[str, str]) -> None:
    """401 unless the request carries ``Authorization: Bearer <the server's key>``."""
    expected = account.config.api_key
    if not expected:
        return
    header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            None,
        )
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise _unauthorized("Incorrect API key provided.", "invalid_api_key")


class Gate:
    """Outermost ASGI layer: access log, API key, request stats, then the request's faults.

    The access log (logger ``assistctl.local.access``, INFO) writes one line per request;
    ``local serve`` sends it to stderr, in-process servers leave it silent."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute], account: Account) -> None:
        self.app = app
        self.routes = routes
        self.account = account
        self.fault_gate = FaultGate(account)

    def template(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", scope["path"])
        return scope["path"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered: dict[str, int] = {}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        try:
            await self._gate(scope, receive, send_and_note)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "method=%s path=%s status=%s ms=%.1f",
                    scope["method"],
                    scope["path"],
                    answered.get("status", "dropped"),
                    (time.perf_counter() - started) * 1000,
                )

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            check_api_key(self.account, headers)
        except ApiError as exc:
            await exc.response()(scope, receive, send)
            return
        if scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        self.account.stats.count(f"{scope['method']} {self.template(scope)}")
        await self.fault_gate(self.app, scope, receive, send)


def _routes() -> list[BaseRoute]:
    from assistctl.local import admin, assistants, files, threads, vector_stores
    from assistctl.local.runs import routes as run_routes

    # Runs first: ``/v1/threads/runs`` must win over ``/v1/threads/{thread_id}``.
    return [
        *assistants.routes(),
        *files.routes(),
        *vector_stores.routes(),
        *run_routes(),
        *threads.routes(),
        *admin.routes(),
    ]


def create_app(config: LocalConfig, data_dir: Path | str | None) -> Starlette:
    """A Starlette app serving one account from ``data_dir`` (None: in memory)."""
    account = Account(config, Path(data_dir) if data_dir is not None else None)
    routes = _routes()
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Gate, routes=routes, account=account)],
        exception_handlers={
            ApiError: handle_api_error,
            HTTPException: handle_http_exception,
            ClientDisconnect: handle_client_disconnect,
            Exception: handle_internal_error,
        },
    )
    app.state.account = account
    return app
