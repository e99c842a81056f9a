"""The gate every request passes first: the access log, the intake checks (Host, Origin,
Content-Type, size), the API key, request statistics, then the live faults. Admin requests
(``/_admin``) exist only when the admin API is switched on; they need the admin key (the API
key when no admin key is set) and are never counted nor faulted, so a test can read and reset
them while the account misbehaves on purpose."""

from __future__ import annotations

import hmac
import inspect
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistctl.local.api.errors import ApiError, printable
from assistctl.local.api.faults import Connections, FaultGate, Faults
from assistctl.local.api.intake import Intake, bounded
from assistctl.local.domain import DEFAULT_PROJECT, Projects, in_project

ADMIN_PREFIX = "/_admin"
MATCHED = "assistctl.matched_route"
access_log = logging.getLogger("assistctl.local.access")


@dataclass(frozen=True)
class AdminAccess:
    """Whether ``/_admin`` is served, and the key it needs (None: the API key)."""

    enabled: bool = False
    key: str | None = None


class RequestStats:
    """Counts of requests per ``METHOD /route/{template}`` since start or the last reset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def body(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(sorted(self._counts.items())), "total": self._counts.total()}


def bearer_token(headers: dict[str, str]) -> str:
    """The request's ``Authorization: Bearer`` token, or the API's 401."""
    header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    return token.strip()


def check_api_key(expected: str | None, headers: dict[str, str]) -> None:
    """401 unless the request carries ``Authorization: Bearer <expected>`` (when a key is set)."""
    if not expected:
        return
    if not hmac.compare_digest(bearer_token(headers).encode(), expected.encode()):
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")


def project_of_key(projects: Projects, headers: dict[str, str]) -> str:
    """The project of the request's key, or the API's 401."""
    project = projects.project_of(bearer_token(headers))
    if project is None:
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    return project


RouteKey = tuple[str, tuple[str, ...], int]


def key_of(method: str, path: str) -> RouteKey:
    """Which routes may match a request: its method, the first two segments of its path
    (``("v1", "assistants")``) and how many segments it has."""
    return method, tuple(path.split("/", 3)[1:3]), path.count("/")


def grouped_routes(routes: list[BaseRoute]) -> dict[RouteKey, list[BaseRoute]]:
    """The routes each request key may match, in the routes' order, so a request tries one or
    two routes, not all. A route with a parameter in its first two segments, a ``:path``
    parameter or no methods joins every group whose key it could match."""
    keyed = []
    for route in routes:
        path = str(getattr(route, "path", "{"))
        methods = getattr(route, "methods", None)
        prefix = key_of("", path)[1]
        fixed = "{" not in "".join(prefix)
        depth = None if ":path}" in path else path.count("/")
        keyed.append((route, methods, prefix if fixed else None, depth))
    keys = {
        (method, prefix, depth)
        for _, methods, prefix, depth in keyed
        if methods and prefix is not None and depth is not None
        for method in methods
    }
    return {
        (method, prefix, depth): [
            route
            for route, methods, route_prefix, route_depth in keyed
            if (not methods or method in methods)
            and route_prefix in (None, prefix)
            and route_depth in (None, depth)
        ]
        for method, prefix, depth in keys
    }


DirectEndpoint = Callable[[Request], Awaitable[Response]]


def direct_endpoint(route: BaseRoute) -> DirectEndpoint | None:
    """A route's endpoint when it can be called without the route's wrapper: an ``async``
    function (every endpoint of the API's)."""
    endpoint = getattr(route, "endpoint", None)
    if isinstance(route, Route) and inspect.iscoroutinefunction(endpoint):
        return cast(DirectEndpoint, endpoint)
    return None


class MatchedRouter(Router):
    """Starlette's router, handing a request the gate has matched straight to its route; an
    ``async`` endpoint is called without the route's own request wrapper and exception layer:
    the exception middleware around the router answers the same errors with the same
    handlers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.direct = {id(route): direct_endpoint(route) for route in self.routes}

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = scope.pop(MATCHED, None)
        if matched is None:
            await super().app(scope, receive, send)
            return
        route, child_scope = matched
        scope.setdefault("router", self)
        scope["route"] = route
        scope.update(child_scope)
        endpoint = self.direct.get(id(route))
        if endpoint is None:
            await route.handle(scope, receive, send)
            return
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


class Gate:
    """Outermost ASGI layer. The access log (logger ``assistctl.local.access``, INFO) writes
    one line per request; ``local serve`` sends it to stderr, in-process servers leave it
    silent."""

    def __init__(
        self,
        app: ASGIApp,
        routes: list[BaseRoute],
        api_key: str | None,
        stats: RequestStats,
        faults: Faults,
        connections: Connections,
        intake: Intake,
        admin: AdminAccess,
        projects: Projects | None = None,
    ) -> None:
        self.app = app
        self.routes = routes
        self.route_groups = grouped_routes(routes)
        self.api_key = api_key
        self.stats = stats
        self.fault_gate = FaultGate(faults, connections)
        self.intake = intake
        self.admin = admin
        self.projects = projects

    def matched(self, scope: Scope) -> str:
        """Match the request's route once: its path template (what stats count by) is
        returned, the route and its path parameters kept in the scope for ``MatchedRouter``
        (so the router does not match again)."""
        requested = str(scope["path"])
        for route in self.route_groups.get(key_of(scope["method"], requested), self.routes):
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                scope[MATCHED] = (route, child_scope)
                template = getattr(route, "path", None)
                return template if isinstance(template, str) else requested
        return requested

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not access_log.isEnabledFor(logging.INFO):
            await self._gate(scope, receive, send)
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
                    printable(scope["path"]),
                    answered.get("status", "dropped"),
                    (time.perf_counter() - started) * 1000,
                )

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        is_admin = scope["path"].startswith(ADMIN_PREFIX)
        project = DEFAULT_PROJECT
        try:
            limit = self.intake.check(scope["method"], headers)
            if is_admin and not self.admin.enabled:
                raise ApiError(404, f"Invalid URL ({scope['method']} {scope['path']})")
            if is_admin and self.projects is not None and not self.admin.key:
                raise ApiError(401, "With projects, the admin API needs its own key.")
            if is_admin:
                check_api_key(self.admin.key or self.api_key, headers)
            elif self.projects is not None:
                project = project_of_key(self.projects, headers)
            else:
                check_api_key(self.api_key, headers)
        except ApiError as exc:
            await exc.response()(scope, receive, send)
            return
        receive = bounded(receive, limit)
        if is_admin:
            await self.app(scope, receive, send)
            return
        self.stats.count(f"{scope['method']} {self.matched(scope)}")
        with in_project(project):
            await self.fault_gate(self.app, scope, receive, send)
