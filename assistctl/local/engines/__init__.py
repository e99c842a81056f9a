"""Engines: what answers a run. One protocol (``Engine``), two implementations: the
deterministic engine (fixed, documented rules) and the chat engine (any chat-completions
backend). The domain's run executor calls them through the protocol only."""

from assistctl.local.engines.chat import ChatEngine
from assistctl.local.engines.contract import (
    ActionRequired,
    Answer,
    Citation,
    CodeInterpreterCall,
    ContextMessage,
    Engine,
    Failure,
    FileSearchCall,
    FunctionCall,
    Outcome,
    RunInput,
    Search,
    SearchHitLike,
    SearchResult,
    ServerToolCall,
    ToolExchange,
    Usage,
)
from assistctl.local.engines.deterministic import DeterministicEngine

__all__ = [
    "ActionRequired",
    "Answer",
    "ChatEngine",
    "Citation",
    "CodeInterpreterCall",
    "ContextMessage",
    "DeterministicEngine",
    "Engine",
    "Failure",
    "FileSearchCall",
    "FunctionCall",
    "Outcome",
    "RunInput",
    "Search",
    "SearchHitLike",
    "SearchResult",
    "ServerToolCall",
    "ToolExchange",
    "Usage",
]
