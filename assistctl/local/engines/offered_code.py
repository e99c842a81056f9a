"""``code_interpreter`` offered to a model backend as a function taking code, run in the account's
sandboxed kernel.

The chat and responses engines offer a ``code_interpreter(code)`` function when the run has the
tool and the domain handed them a ``CodeSession`` (the account runs code); without one the tool
is not offered and the model answers without it. Each call the model makes runs in the thread's
(or container's) kernel; the model gets the printed output back, with the images and files the
code made named, so it can link files as ``sandbox:/mnt/data/NAME``. ``max_tool_calls`` bounds
the runs together with the searches (one ``Budget``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from assistctl.local.engines.contract import (
    CodeInterpreterCall,
    CodeSession,
    Failure,
    FunctionCall,
    RunInput,
    Search,
    ServerToolCall,
    Usage,
)
from assistctl.local.engines.offered_search import Budget, OfferedSearch

FUNCTION_NAME = "code_interpreter"
SPENT = "No more code runs are allowed in this turn (max_tool_calls is reached); answer now."


def function_definition(session: CodeSession) -> dict[str, Any]:
    """The offered function, naming the files the code finds in ``/mnt/data``."""
    files = ", ".join(session.file_names) if session.file_names else "none yet"
    return {
        "name": FUNCTION_NAME,
        "description": (
            "Run Python code in a stateful Jupyter kernel: variables and imports persist "
            "between calls in this conversation. There is no network access. Files are in "
            f"/mnt/data ({files}). Save files meant for the user in /mnt/data and link them "
            "as sandbox:/mnt/data/NAME. Figures shown (e.g. plt.show()) reach the user as "
            "images. Returns what the code printed."
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    }


def code_of(arguments: str) -> str:
    """The code of a call: ``{"code": …}``, or the arguments themselves when a model sent the
    code bare."""
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("code"), str):
        return value["code"]
    return arguments


class OfferedCode:
    """The code runs of one turn: whether the function is offered, and the calls made."""

    def __init__(self, run: RunInput, session: CodeSession | None, budget: Budget) -> None:
        self.session = session if run.tool("code_interpreter") is not None else None
        self.budget = budget
        self.calls: list[CodeInterpreterCall] = []

    @property
    def offered(self) -> bool:
        return self.session is not None and not self.budget.spent

    def definition(self) -> dict[str, Any]:
        assert self.session is not None
        return function_definition(self.session)

    def serve(
        self,
        calls: list[FunctionCall],
        on_tool_call: Callable[[ServerToolCall], None] | None,
    ) -> tuple[list[FunctionCall], list[tuple[FunctionCall, str]]]:
        """Split calls: the client's functions, and the code run here with its output for the
        model (each run reported to ``on_tool_call`` as it ends)."""
        functions = []
        ran = []
        for call in calls:
            if self.session is None or call.name != FUNCTION_NAME:
                functions.append(call)
                continue
            if not self.budget.take():
                ran.append((call, SPENT))
                continue
            code = code_of(call.arguments)
            made = CodeInterpreterCall.of(call.id, code, self.session.run(code))
            self.calls.append(made)
            if on_tool_call is not None:
                on_tool_call(made)
            ran.append((call, made.exchange().output or ""))
        return functions, ran


class OfferedTools:
    """The account's own tools offered to a backend in one turn (file search and code, sharing
    one ``max_tool_calls`` budget), and every call they made, in order."""

    def __init__(self, run: RunInput, search: Search, code: CodeSession | None) -> None:
        budget = Budget(run.max_tool_calls)
        self.searches = OfferedSearch(run, search, budget)
        self.runs = OfferedCode(run, code, budget)
        self.made: list[ServerToolCall] = []

    def serve(
        self,
        calls: tuple[FunctionCall, ...],
        on_tool_call: Callable[[ServerToolCall], None] | None,
    ) -> tuple[list[FunctionCall], list[tuple[FunctionCall, str]]]:
        """Split a reply's calls: the client's functions, and those answered here with their
        outputs for the model."""
        searched_before, ran_before = len(self.searches.calls), len(self.runs.calls)
        functions, searched = self.searches.serve(calls, on_tool_call)
        functions, ran = self.runs.serve(functions, on_tool_call)
        self.made += [*self.searches.calls[searched_before:], *self.runs.calls[ran_before:]]
        return functions, searched + ran

    def endless(self, usage: Usage) -> Failure:
        return self.searches.endless(usage, tuple(self.made))
