"""What one smoke-test step sends and observes, whichever API family runs the conversation.

Backends turn their API's objects (runs and run steps, or responses and their output items) into
these; the smoke-test runner checks expectations against them and never sees the API itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CannedOutput:
    """The answer to one function call: ``output`` to send, or None with ``reason`` saying why
    the test has none (the conversation then fails the step and cancels the turn)."""

    output: str | None
    reason: str = ""


# The runner knows the test's ``functions``; a backend only asks (name, parsed arguments).
FunctionAnswer = Callable[[str, Any], CannedOutput]


@dataclass(frozen=True)
class ToolCall:
    """One tool call a run made. ``name`` is the function name, or the tool type otherwise."""

    type: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    output: str | None = None
    id: str = ""

    def __str__(self) -> str:
        if self.type != "function":
            return self.name
        return f"{self.name}({json.dumps(dict(self.arguments), ensure_ascii=False)})"


@dataclass(frozen=True)
class Citation:
    """A ``file_citation`` annotation, with the cited file resolved to its manifest path when the
    stack owns it (``path``) and to the name it was uploaded under (``filename``)."""

    file_id: str
    path: str | None = None
    filename: str | None = None
    quote: str = ""

    @property
    def label(self) -> str:
        return self.path or self.filename or self.file_id


@dataclass(frozen=True)
class Reply:
    """Everything one step observed: the evidence expectations are checked against."""

    status: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    citations: tuple[Citation, ...] = ()
    latency_s: float = 0.0
    usage: Mapping[str, int] | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class StepRequest:
    """One user turn: the message, how to answer function calls, and when to give up.

    ``stop_at_action`` keeps a run that asks for tool outputs waiting (the step expects
    ``status: requires_action``) instead of answering it.
    """

    number: int
    user: str
    answer: FunctionAnswer
    timeout_s: float
    additional_instructions: str | None = None
    stop_at_action: bool = False


@dataclass(frozen=True)
class StepOutcome:
    """What a step produced. ``failure`` is set when the conversation itself broke (a timeout,
    a function call without a canned output); ``reply`` is what was seen up to then."""

    reply: Reply | None
    failure: str | None = None
    run_id: str | None = None


class Interrupted(KeyboardInterrupt):
    """Raised inside a conversation when the suite is stopped (Ctrl-C): cleanup still runs."""


def parse_arguments(raw: str | None) -> Any:
    """A function call's JSON arguments; text that is not JSON is kept under ``_raw``."""
    try:
        return json.loads(raw or "{}")
    except ValueError:
        return {"_raw": raw}


def function_call(
    call_id: str, name: str, raw_arguments: str | None, output: Any = None
) -> ToolCall:
    arguments = parse_arguments(raw_arguments)
    if not isinstance(arguments, dict):
        arguments = {"_value": arguments}
    return ToolCall("function", name, arguments, output, call_id)
