"""``/_admin``: request statistics, the live fault set (same API key as ``/v1``, or the admin
key), and, when the account has projects (``--keys``), its projects and their keys (the admin
key only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, account_of, endpoint
from assistctl.local.api.errors import ApiError
from assistctl.local.api.faults import Faults
from assistctl.local.api.gate import RequestStats
from assistctl.local.domain import Projects


def faults_of(request: Request) -> Faults:
    faults: Faults = request.app.state.faults
    return faults


def stats_of(request: Request) -> RequestStats:
    stats: RequestStats = request.app.state.stats
    return stats


def stats(request: Request, body: Body) -> Body:
    """Requests counted by route, and the statements and transactions this replica sent its
    database (never reset: take differences)."""
    return {**stats_of(request).body(), "database": account_of(request).store.database_counts()}


def reset_stats(request: Request, body: Body) -> Body:
    counted = stats_of(request)
    counted.reset()
    return counted.body()


def get_faults(request: Request, body: Body) -> Body:
    return faults_of(request).body()


def set_faults(request: Request, body: Body) -> Body:
    """Replace the active fault set; rule counters start again from zero."""
    faults = faults_of(request)
    faults.replace(body)
    return faults.body()


def clear_faults(request: Request, body: Body) -> Body:
    faults = faults_of(request)
    faults.replace({})
    return faults.body()


def projects_of(request: Request) -> Projects:
    if not request.app.state.projects_on:
        raise ApiError(404, "This account has no projects (start it with --keys FILE).")
    return account_of(request).projects


def list_projects(request: Request, body: Body) -> Body:
    return projects_of(request).page()


def create_project(request: Request, body: Body) -> Body:
    return projects_of(request).create(body.get("name"))


def get_project(request: Request, body: Body) -> Body:
    return projects_of(request).get(request.path_params["name"])


def delete_project(request: Request, body: Body) -> Body:
    return projects_of(request).delete(request.path_params["name"])


def add_key(request: Request, body: Body) -> Body:
    """``{"key": "..."}`` or ``{"sha256": "sha256:<hex>"}``; answers the key digests only."""
    return projects_of(request).add_key(
        request.path_params["name"], body.get("key"), body.get("sha256")
    )


def remove_key(request: Request, body: Body) -> Body:
    params = request.path_params
    return projects_of(request).remove_key(params["name"], params["digest"])


def routes() -> list[Route]:
    projects = "/_admin/projects"
    return [
        Route(projects, endpoint(list_projects), methods=["GET"]),
        Route(projects, endpoint(create_project), methods=["POST"]),
        Route(f"{projects}/{{name}}", endpoint(get_project), methods=["GET"]),
        Route(f"{projects}/{{name}}", endpoint(delete_project), methods=["DELETE"]),
        Route(f"{projects}/{{name}}/keys", endpoint(add_key), methods=["POST"]),
        Route(f"{projects}/{{name}}/keys/{{digest}}", endpoint(remove_key), methods=["DELETE"]),
        Route("/_admin/stats", endpoint(stats), methods=["GET"]),
        Route("/_admin/stats/reset", endpoint(reset_stats), methods=["POST"]),
        Route("/_admin/faults", endpoint(get_faults), methods=["GET"]),
        Route("/_admin/faults", endpoint(set_faults), methods=["POST"]),
        Route("/_admin/faults", endpoint(clear_faults), methods=["DELETE"]),
    ]
