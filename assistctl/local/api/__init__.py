"""The api: HTTP for the domain. Routes and request validation per resource, the API's error
bodies, server-sent events, and the plumbing every request passes (access log, API key,
statistics, injected faults, the admin endpoints)."""

from assistctl.local.api.errors import EXCEPTION_HANDLERS
from assistctl.local.api.faults import Connections, Faults
from assistctl.local.api.gate import Gate, RequestStats
from assistctl.local.api.route_table import routes

__all__ = ["EXCEPTION_HANDLERS", "Connections", "Faults", "Gate", "RequestStats", "routes"]
