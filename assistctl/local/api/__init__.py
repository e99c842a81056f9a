"""The api: HTTP for the domain. Routes and request validation per resource, the API's error
bodies, server-sent events, and the plumbing every request passes (access log, intake checks,
API key, statistics, injected faults, the admin endpoints)."""

from assistctl.local.api.errors import EXCEPTION_HANDLERS
from assistctl.local.api.faults import Connections, Faults
from assistctl.local.api.gate import AdminAccess, Gate, MatchedRouter, RequestStats
from assistctl.local.api.intake import Intake, is_loopback_name
from assistctl.local.api.route_table import routes

__all__ = [
    "EXCEPTION_HANDLERS",
    "AdminAccess",
    "Connections",
    "Faults",
    "Gate",
    "MatchedRouter",
    "Intake",
    "RequestStats",
    "is_loopback_name",
    "routes",
]
