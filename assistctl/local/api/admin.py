"""``/_admin``: request statistics and the live fault set (same API key as ``/v1``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, endpoint
from assistctl.local.api.faults import Faults
from assistctl.local.api.gate import RequestStats


def faults_of(request: Request) -> Faults:
    faults: Faults = request.app.state.faults
    return faults


def stats_of(request: Request) -> RequestStats:
    stats: RequestStats = request.app.state.stats
    return stats


def stats(request: Request, body: Body) -> Body:
    return stats_of(request).body()


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


def routes() -> list[Route]:
    return [
        Route("/_admin/stats", endpoint(stats), methods=["GET"]),
        Route("/_admin/stats/reset", endpoint(reset_stats), methods=["POST"]),
        Route("/_admin/faults", endpoint(get_faults), methods=["GET"]),
        Route("/_admin/faults", endpoint(set_faults), methods=["POST"]),
        Route("/_admin/faults", endpoint(clear_faults), methods=["DELETE"]),
    ]
