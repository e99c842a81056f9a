"""Work that outlives the request which started it (a run, a background response, a stream's
producer), on a daemon thread that carries the request's context along, so it sees the
request's project."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable


def in_background(work: Callable[[], None], name: str) -> None:
    threading.Thread(
        target=contextvars.copy_context().run, args=(work,), name=name, daemon=True
    ).start()
