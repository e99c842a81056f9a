"""``/_admin``: request statistics and the live fault set (same API key as ``/v1``).

Admin requests are never counted in the stats and never hit by faults, so a test can read
and reset them while the account misbehaves on purpose.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.http import account_of, endpoint


def stats(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    return account_of(request).stats.body()


def reset_stats(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    account.stats.reset()
    return account.stats.body()


def get_faults(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    return account_of(request).faults.body()


def set_faults(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Replace the active fault set; rule counters start again from zero."""
    faults = account_of(request).faults
    faults.replace(body)
    return faults.body()


def clear_faults(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    faults = account_of(request).faults
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
