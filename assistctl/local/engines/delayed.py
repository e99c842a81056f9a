"""An engine that answers late: another engine behind a fixed delay, so tests (and people
trying replicas out) can stop a server while a run is executing, on any engine."""

from __future__ import annotations

import time
from collections.abc import Callable

from assistctl.local.engines.contract import (
    CodeSession,
    Engine,
    Outcome,
    RunInput,
    Search,
    ServerToolCall,
)


class DelayedEngine:
    def __init__(self, engine: Engine, delay_s: float) -> None:
        self._engine = engine
        self._delay_s = delay_s

    def respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None = None,
        on_tool_call: Callable[[ServerToolCall], None] | None = None,
        code: CodeSession | None = None,
    ) -> Outcome:
        time.sleep(self._delay_s)
        return self._engine.respond(run, search, new_id, on_text, on_tool_call, code)

    def model_names(self) -> tuple[str, ...]:
        return self._engine.model_names()
