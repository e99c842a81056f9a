"""Whose objects a statement sees: the project of the request in progress.

The api sets it once per request from the caller's key (``in_project``); work a request
starts elsewhere (a run on a worker thread) carries the request's context along. Without
projects (one key, or none) everything is the ``default`` project's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEFAULT_PROJECT = "default"

_project: ContextVar[str] = ContextVar("assistctl_local_project", default=DEFAULT_PROJECT)


def current_project() -> str:
    return _project.get()


@contextmanager
def in_project(name: str) -> Iterator[None]:
    """Statements in this block (and in work it hands over with its context) see ``name``."""
    token = _project.set(name)
    try:
        yield
    finally:
        _project.reset(token)
