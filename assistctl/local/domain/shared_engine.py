"""The account's engine, built once on first use and shared by runs, responses and the models
list (the chat and responses engines' SDK clients are slow to create)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from assistctl.local.engines import Engine


class SharedEngine:
    """Call it for the engine (its configuration was checked when the account started)."""

    def __init__(self, build: Callable[[], Engine]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._engine: Engine | None = None

    def __call__(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._build()
            return self._engine
