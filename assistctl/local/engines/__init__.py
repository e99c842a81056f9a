"""Engines: what answers a run or a response. One protocol (``Engine``), three implementations:
the deterministic engine (fixed, documented rules), the chat engine (any chat-completions
backend) and the responses engine (any Responses-API backend). The domain calls them through
the protocol only."""

from assistctl.local.engines.chat import ChatEngine
from assistctl.local.engines.contract import (
    ActionRequired,
    Answer,
    Citation,
    CodeFile,
    CodeInterpreterCall,
    CodeRun,
    CodeSession,
    ContextMessage,
    Engine,
    Failure,
    FileSearchCall,
    FunctionCall,
    Outcome,
    ReasoningNote,
    RunInput,
    Search,
    SearchHitLike,
    SearchResult,
    ServerToolCall,
    ToolExchange,
    Usage,
)
from assistctl.local.engines.delayed import DelayedEngine
from assistctl.local.engines.deterministic import DeterministicEngine
from assistctl.local.engines.responses import ResponsesEngine

__all__ = [
    "ActionRequired",
    "Answer",
    "ChatEngine",
    "Citation",
    "CodeFile",
    "CodeInterpreterCall",
    "CodeRun",
    "CodeSession",
    "ContextMessage",
    "DelayedEngine",
    "DeterministicEngine",
    "Engine",
    "Failure",
    "FileSearchCall",
    "FunctionCall",
    "Outcome",
    "ReasoningNote",
    "ResponsesEngine",
    "RunInput",
    "Search",
    "SearchHitLike",
    "SearchResult",
    "ServerToolCall",
    "ToolExchange",
    "Usage",
]
