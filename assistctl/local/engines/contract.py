"""The contract between the domain and an engine: what a run or a response looks like to an
engine, and the ``Outcome`` it answers with. One protocol serves both APIs, so an engine's rules
are written once.

The domain turns a stored run, or a response request with its context, into a ``RunInput``
(instructions, tools in the Assistants API's shape, the conversation's messages, tool calls
already answered in this turn), asks an engine to ``respond``, and records the ``Outcome``: an
``Answer`` (a message), an ``ActionRequired`` (function calls the client must answer) or a
``Failure``. Engines never touch storage; file search reaches the vector stores through the
``search`` callable they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ContextMessage:
    """One message as the engine sees it: its role (``user``, ``assistant``, and in responses
    also ``system`` or ``developer``) and its text."""

    role: str
    text: str


@dataclass(frozen=True)
class ToolExchange:
    """A tool call made earlier in this run and what it returned (``None``: not answered yet).

    ``arguments`` is the function's JSON arguments, the file-search query or the code.
    """

    id: str
    type: str
    name: str
    arguments: str
    output: str | None


@dataclass(frozen=True)
class RunInput:
    """Everything an engine may use to answer one run or response (already resolved by the
    domain). ``max_tool_calls`` bounds the built-in tool calls (file search, code interpreter);
    ``reasoning`` (``effort``, ``summary``), ``truncation`` (``auto`` lets a backend drop the
    oldest messages to fit) and the penalties are passed to backends that take them."""

    assistant_name: str | None
    model: str
    instructions: str
    tools: tuple[dict[str, Any], ...]
    messages: tuple[ContextMessage, ...]
    vector_store_ids: tuple[str, ...] = ()
    exchanges: tuple[ToolExchange, ...] = ()
    tool_choice: Any = None
    response_format: Any = None
    temperature: float | None = None
    top_p: float | None = None
    max_completion_tokens: int | None = None
    max_prompt_tokens: int | None = None
    parallel_tool_calls: bool = True
    max_tool_calls: int | None = None
    reasoning: dict[str, Any] | None = None
    truncation: str = "disabled"
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    def tool(self, type: str) -> dict[str, Any] | None:
        return next((t for t in self.tools if t.get("type") == type), None)

    def functions(self) -> list[dict[str, Any]]:
        return [t["function"] for t in self.tools if t.get("type") == "function"]


class SearchHitLike(Protocol):
    """A chunk the account's index found: what an engine may quote and cite."""

    @property
    def file_id(self) -> str: ...

    @property
    def filename(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def attributes(self) -> dict[str, Any]: ...


Search = Callable[[list[str], str, int, dict[str, Any] | None], Sequence[SearchHitLike]]
"""``search(vector_store_ids, query, max_results, filters)``: the best chunks, best first."""


def count_tokens(text: str) -> int:
    """Tokens are whitespace-separated words: cheap, deterministic, engine-independent."""
    return len(text.split())


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    def body(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class SearchResult:
    file_id: str
    file_name: str
    score: float
    text: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileSearchCall:
    """A file search the engine ran; ``output`` is what it fed back to the model, if any."""

    id: str
    query: str
    results: tuple[SearchResult, ...]
    ranking_options: dict[str, Any]
    output: str = ""

    def exchange(self) -> ToolExchange:
        return ToolExchange(self.id, "file_search", "file_search", self.query, self.output)


@dataclass(frozen=True)
class CodeFile:
    """A file the code wrote under ``/mnt/data`` (``path``), kept as the account file
    ``file_id``."""

    path: str
    file_id: str


@dataclass(frozen=True)
class CodeRun:
    """What one execution gave: ``logs`` (printed output, the traceback, and what went wrong
    with the kernel itself, in words for the model), the images it showed (account file ids)
    and the files it wrote."""

    logs: str
    image_file_ids: tuple[str, ...] = ()
    files: tuple[CodeFile, ...] = ()


@dataclass(frozen=True)
class CodeSession:
    """The code interpreter of one thread (or container), as the domain hands it to an engine:
    ``run(code)`` executes in its sandboxed kernel; ``file_names`` are the files in
    ``/mnt/data`` it was given. An engine without one never offers the tool."""

    run: Callable[[str], CodeRun]
    file_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodeInterpreterCall:
    """Code the engine ran, and what came of it (an engine records only code that ran)."""

    id: str
    input: str
    logs: str
    image_file_ids: tuple[str, ...] = ()
    files: tuple[CodeFile, ...] = ()

    @classmethod
    def of(cls, call_id: str, code: str, ran: CodeRun) -> CodeInterpreterCall:
        return cls(call_id, code, ran.logs, ran.image_file_ids, ran.files)

    @property
    def feedback(self) -> str:
        """What the model reads back: the logs, and the images and files the code made."""
        lines = [self.logs.rstrip("\n")] if self.logs.strip() else ["(no output)"]
        if self.image_file_ids:
            lines.append(f"[{len(self.image_file_ids)} image(s) shown to the user]")
        if self.files:
            paths = ", ".join(f"sandbox:{file.path}" for file in self.files)
            lines.append(f"[files written: {paths}]")
        return "\n".join(lines)

    def exchange(self) -> ToolExchange:
        return ToolExchange(
            self.id, "code_interpreter", "code_interpreter", self.input, self.feedback
        )


ServerToolCall = FileSearchCall | CodeInterpreterCall


@dataclass(frozen=True)
class FunctionCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Citation:
    """A ``file_citation`` annotation: the marker ``text`` sits at ``[start_index, end_index)``
    and cites the file ``file_id`` named ``filename``."""

    text: str
    start_index: int
    end_index: int
    file_id: str
    filename: str


@dataclass(frozen=True)
class ReasoningNote:
    """A reasoning item a backend returned (only the responses engine has them): its summary
    and content texts, and the encrypted content a backend may hand out."""

    summary: tuple[str, ...]
    content: tuple[str, ...]
    encrypted_content: str | None


@dataclass(frozen=True)
class Answer:
    text: str
    usage: Usage
    citations: tuple[Citation, ...] = ()
    tool_calls: tuple[ServerToolCall, ...] = ()
    incomplete_reason: str | None = None
    reasoning: tuple[ReasoningNote, ...] = ()


@dataclass(frozen=True)
class ActionRequired:
    function_calls: tuple[FunctionCall, ...]
    usage: Usage
    tool_calls: tuple[ServerToolCall, ...] = ()
    reasoning: tuple[ReasoningNote, ...] = ()


@dataclass(frozen=True)
class Failure:
    """``code`` is one of the API's run error codes (server_error, rate_limit_exceeded, …)."""

    code: str
    message: str
    usage: Usage = field(default_factory=Usage)
    tool_calls: tuple[ServerToolCall, ...] = ()


Outcome = Answer | ActionRequired | Failure


class Engine(Protocol):
    def respond(
        self,
        run: RunInput,
        search: Search,
        new_id: Callable[[str], str],
        on_text: Callable[[str], None] | None = None,
        on_tool_call: Callable[[ServerToolCall], None] | None = None,
        code: CodeSession | None = None,
    ) -> Outcome:
        """Answer ``run``; ``new_id(prefix)`` mints ids for tool calls (``call``). ``code`` is
        the code interpreter when the run has the tool and the account runs code (else the
        tool is not offered and the model answers without it).

        An engine that produces text progressively may pass each piece to ``on_text`` (given
        when the run is streamed), and each server-side tool call to ``on_tool_call`` as soon
        as it has run, so a stream shows them in the order they happened; the outcome still
        carries the whole text and every call. Engines that answer at once ignore both and
        the domain streams their answer in pieces.
        """
        ...

    def model_names(self) -> tuple[str, ...]:
        """The model names this engine answers to, for ``GET /v1/models``."""
        ...
