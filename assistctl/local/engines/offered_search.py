"""``file_search`` offered to a model backend as a function, served by the local index.

The chat and responses engines cannot hand the backend the account's vector stores, so they
offer a ``file_search(query)`` function instead. Each call the model makes is answered from the
local index with numbered excerpts (``[1] returns.md: …``), and the answer's ``[n]`` / ``【n】``
markers become ``file_citation`` annotations to the excerpts' files. A turn has at most
``MAX_SEARCH_ROUNDS`` rounds of searches, and ``max_tool_calls`` (responses) bounds its searches:
once it is spent the function is no longer offered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from assistctl.local.engines.contract import (
    Citation,
    Failure,
    FileSearchCall,
    FunctionCall,
    RunInput,
    Search,
    ServerToolCall,
    ToolExchange,
    Usage,
)
from assistctl.local.engines.file_search import display_filename, search_files

FUNCTION_NAME = "file_search"
MAX_SEARCH_ROUNDS = 5
EXCERPT_CHARACTERS = 2000
SPENT = "No more searches are allowed in this turn (max_tool_calls is reached); answer now."
_MARKER = re.compile(r"【(\d+)(?:[:†][^】]*)?】|\[(\d+)\]")


@dataclass
class Budget:
    """The built-in tool calls a turn may still make (``max_tool_calls``; None: no bound but
    the rounds), shared by the searches and the code runs."""

    left: int | None

    @property
    def spent(self) -> bool:
        return self.left is not None and self.left <= 0

    def take(self) -> bool:
        """Uses one call; False when none is left."""
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


@dataclass(frozen=True)
class Excerpt:
    number: int
    file_id: str
    filename: str


def function_definition() -> dict[str, Any]:
    """The offered function: name, description and JSON Schema parameters."""
    return {
        "name": FUNCTION_NAME,
        "description": (
            "Search the files attached to this assistant. Returns numbered excerpts; cite an "
            "excerpt you use by writing its number in square brackets, e.g. [1]."
        ),
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "What to look for."}},
            "required": ["query"],
        },
    }


def exchange_arguments(exchange: ToolExchange) -> str:
    """The arguments of an earlier tool call as the backend saw it: a search as the offered
    function's ``{"query": …}``."""
    if exchange.type == "file_search":
        return json.dumps({"query": exchange.arguments})
    if exchange.type == "code_interpreter":
        return json.dumps({"code": exchange.arguments})
    return exchange.arguments


class OfferedSearch:
    """The searches of one turn: whether the function is offered, the excerpts shown so far
    (numbered across the turn) and the calls made."""

    def __init__(self, run: RunInput, search: Search, budget: Budget | None = None) -> None:
        self.run = run
        self.search = search
        self.excerpts: dict[int, Excerpt] = {}
        self.calls: list[FileSearchCall] = []
        self.budget = budget or Budget(run.max_tool_calls)
        self.available = run.tool("file_search") is not None and bool(run.vector_store_ids)

    @property
    def offered(self) -> bool:
        return self.available and not self.budget.spent

    def answers(self, call: FunctionCall) -> bool:
        """Whether ``call`` is a search this turn serves (the model may also have a function
        of its own with that name when no search is offered)."""
        return call.name == FUNCTION_NAME and self.available

    def run_call(self, call: FunctionCall) -> FileSearchCall | None:
        """Answer the model's ``file_search`` call from the local index (None once the budget
        is spent: the caller then answers with ``SPENT``)."""
        if not self.budget.take():
            return None
        try:
            query = str(json.loads(call.arguments or "{}").get("query") or "")
        except (json.JSONDecodeError, AttributeError):
            query = call.arguments or ""
        found = search_files(self.run, call.id, query, self.search)
        lines = []
        for result in found.results:
            number = len(self.excerpts) + 1
            self.excerpts[number] = Excerpt(number, result.file_id, result.file_name)
            excerpt = result.text[:EXCERPT_CHARACTERS]
            lines.append(f"[{number}] {display_filename(result.file_name)}:\n{excerpt}")
        output = "\n\n".join(lines) if lines else "No matching excerpts were found."
        answered = replace(found, output=output)
        self.calls.append(answered)
        return answered

    def serve(
        self,
        calls: tuple[FunctionCall, ...],
        on_tool_call: Callable[[ServerToolCall], None] | None,
    ) -> tuple[list[FunctionCall], list[tuple[FunctionCall, str]]]:
        """Split a reply's calls: the client's functions, and the searches answered here with
        their outputs for the model (each search reported to ``on_tool_call`` as it runs)."""
        functions = []
        searched = []
        for call in calls:
            if not self.answers(call):
                functions.append(call)
                continue
            found = self.run_call(call)
            if found is not None and on_tool_call is not None:
                on_tool_call(found)
            searched.append((call, found.output if found is not None else SPENT))
        return functions, searched

    def endless(self, usage: Usage, calls: tuple[ServerToolCall, ...] | None = None) -> Failure:
        """The turn's failure when the model only ever calls the account's tools; ``calls``
        are all it made (default: the searches)."""
        return Failure(
            "server_error",
            f"The model kept calling the account's tools ({MAX_SEARCH_ROUNDS} rounds) without "
            "answering.",
            usage,
            tuple(self.calls) if calls is None else calls,
        )

    def citations(self, text: str) -> tuple[Citation, ...]:
        """The answer's markers that name an excerpt, as ``file_citation``s."""
        found = []
        for match in _MARKER.finditer(text):
            excerpt = self.excerpts.get(int(match.group(1) or match.group(2)))
            if excerpt is not None:
                found.append(
                    Citation(
                        match.group(0),
                        match.start(),
                        match.end(),
                        excerpt.file_id,
                        excerpt.filename,
                    )
                )
        return tuple(found)
