"""``/v1/threads/{thread_id}/runs`` and run steps: the run lifecycle of the local account.

A run is stored ``queued`` and answered in a background thread (or in the streaming response's
worker) by the configured engine (``engine.py`` / ``chat_engine.py``): ``queued`` →
``in_progress`` → ``requires_action`` | ``completed`` | ``incomplete`` | ``failed``, or
``cancelling`` → ``cancelled``, or ``expired`` once ``expires_at`` passes while it waits. Each
stage is committed before the next starts, so a poll sees what the API would show. A run left
``queued``/``in_progress`` by a stopped server is picked up again on its next read.

Private bookkeeping in the stored run (stripped from responses): ``_exchanges`` (tool calls of
this run and their outputs), ``_pending_step`` (the step waiting for tool outputs), ``_usage``
(tokens so far), ``_vector_store_ids`` (run-level ``tool_resources`` of create-thread-and-run)
and ``_include`` (the ``include[]`` of the create request, for streamed steps).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import weakref
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistctl.local import streaming
from assistctl.local.assistants import (
    get_assistant,
    validate_response_format,
    validate_tool_resources,
    validate_tools,
)
from assistctl.local.domain.records import new_id, now
from assistctl.local.engines import (
    ActionRequired,
    Answer,
    ChatEngine,
    CodeInterpreterCall,
    ContextMessage,
    DeterministicEngine,
    Engine,
    Failure,
    FileSearchCall,
    Outcome,
    RunInput,
    ServerToolCall,
    ToolExchange,
    Usage,
)
from assistctl.local.http import (
    account_of,
    bad_request,
    endpoint,
    expect_type,
    get_or_404,
    list_params,
    one_of,
    optional_number,
    optional_string,
    page,
    reject_unknown,
    require,
    validate_metadata,
)
from assistctl.local.threads import create_message, create_thread, get_thread

RUN = "thread.run"
STEP = "thread.run.step"
MESSAGE = "thread.message"
THREAD = "thread"
ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
RUN_LIFETIME_S = 600
POLL_AFTER_MS = 100
MAX_RUN_TOOLS = 20
MIN_TOKEN_LIMIT = 256
MAX_INSTRUCTIONS = 256_000
SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
DELTA_WORDS = 6
RUN_FIELDS = (
    "assistant_id",
    "model",
    "reasoning_effort",
    "instructions",
    "additional_instructions",
    "additional_messages",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "stream",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
)
THREAD_AND_RUN_FIELDS = tuple(
    f for f in RUN_FIELDS if f not in ("additional_instructions", "additional_messages")
) + ("thread", "tool_resources")

log = logging.getLogger(__name__)
Emit = streaming.Emit


# --- views --------------------------------------------------------------------------------------


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object without its private ``_`` keys."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def public_step(step: dict[str, Any], include_content: bool) -> dict[str, Any]:
    """A step as the API shows it: file-search result content only when ``include``d."""
    view = public(step)
    if include_content:
        return view
    details = view.get("step_details") or {}
    if details.get("type") != "tool_calls":
        return view
    calls = []
    for call in details.get("tool_calls") or []:
        if call.get("type") == "file_search" and call["file_search"].get("results"):
            results = [
                {k: v for k, v in r.items() if k != "content"}
                for r in call["file_search"]["results"]
            ]
            call = {**call, "file_search": {**call["file_search"], "results": results}}
        calls.append(call)
    return {**view, "step_details": {**details, "tool_calls": calls}}


def include_content(request: Request) -> bool:
    values = request.query_params.getlist("include[]") + request.query_params.getlist("include")
    for value in values:
        one_of(value, "include", (SEARCH_CONTENT,))
    return SEARCH_CONTENT in values


# --- lookups ------------------------------------------------------------------------------------


def get_run(account, thread_id: str, run_id: str) -> dict[str, Any]:
    """The run, with its expiry applied and its execution resumed if nobody is running it."""
    run = get_or_404(
        account, RUN, run_id, "run", thread_id, check_parent=lambda: get_thread(account, thread_id)
    )
    return executor_of(account).refresh(run)


def active_run(account, thread_id: str) -> dict[str, Any] | None:
    """The thread's run that still blocks new runs and messages, if any. Only the newest run
    can be active (no run is created while another is), so only that one is read."""
    newest = account.store.list(RUN, thread_id, limit=1).data
    if not newest or newest[0]["status"] not in ACTIVE:
        return None
    run = executor_of(account).refresh(newest[0])
    return run if run["status"] in ACTIVE else None


# --- the executor -------------------------------------------------------------------------------

_executors: weakref.WeakKeyDictionary[Any, RunExecutor] = weakref.WeakKeyDictionary()
_executors_lock = threading.Lock()


def executor_of(account) -> RunExecutor:
    with _executors_lock:
        executor = _executors.get(account)
        if executor is None:
            executor = _executors[account] = RunExecutor(account)
        return executor


def engine_for(config) -> Engine:
    """The engine ``LocalConfig.engine`` names (``deterministic`` or ``chat``)."""
    if config.engine == "deterministic":
        return DeterministicEngine()
    if config.engine == "chat":
        if not config.chat_base_url:
            raise ValueError(
                "the chat engine needs a chat-completions URL: pass --chat-base-url "
                "(or set ASSISTCTL_LOCAL_CHAT_BASE_URL)"
            )
        api_key = os.environ.get(config.chat_api_key_env) if config.chat_api_key_env else None
        return ChatEngine(config.chat_base_url, config.chat_model_map, api_key)
    raise ValueError(f"unknown run engine {config.engine!r} (use 'deterministic' or 'chat')")


class RunExecutor:
    """Moves runs of one account through their lifecycle, one daemon thread per busy run."""

    def __init__(self, account) -> None:
        self.account = account
        self._lock = threading.Lock()
        self._busy: dict[str, object] = {}
        self._engine_lock = threading.Lock()
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """Built on first use (the chat engine's client is slow to create), under its own lock
        so reads of other runs never wait for it."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = engine_for(self.account.config)
            return self._engine

    def claim(self, run_id: str) -> object | None:
        """A token for executing ``run_id``, or None if this process already executes it.

        Claim before committing a run as ``queued``, so no poll in between starts a second
        execution; a release only undoes its own claim.
        """
        with self._lock:
            if run_id in self._busy:
                return None
            token = self._busy[run_id] = object()
            return token

    def release(self, run_id: str, token: object) -> None:
        with self._lock:
            if self._busy.get(run_id) is token:
                del self._busy[run_id]

    def start(self, thread_id: str, run_id: str, token: object | None = None) -> None:
        """Execute the run in the background (no-op if this process already executes it)."""
        token = token or self.claim(run_id)
        if token is None:
            return

        def work() -> None:
            try:
                self._execute(thread_id, run_id, streaming.ignore, token)
            except Exception as exc:
                if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc):
                    log.info("run %s left for later: the account was closed", run_id)
                else:
                    log.exception("run %s failed in the background", run_id)
            finally:
                self.release(run_id, token)

        threading.Thread(target=work, name=f"assistctl-{run_id}", daemon=True).start()

    def execute_claimed(self, thread_id: str, run_id: str, emit: Emit, token: object) -> None:
        """Execute a run the caller claimed, in the calling thread, emitting its events."""
        try:
            self._execute(thread_id, run_id, emit, token)
        finally:
            self.release(run_id, token)

    def refresh(self, run: dict[str, Any]) -> dict[str, Any]:
        """Expire a run whose time is up; restart one that no thread executes any more."""
        store = self.account.store
        status = run["status"]
        if status in ("queued", "in_progress", "requires_action") and now() >= run["expires_at"]:
            with store.transaction():
                current = store.get(RUN, run["id"], run["thread_id"]) or run
                if current["status"] == status:
                    current.update(status="expired", required_action=None)
                    _close_pending_step(store, current, "expired")
                    store.put(RUN, current, current["thread_id"])
                return current
        if status in ("queued", "in_progress", "cancelling"):
            with self._lock:
                orphan = run["id"] not in self._busy
            if orphan:
                self.start(run["thread_id"], run["id"])
        return run

    # -- one pass of a run: queued → in_progress → an outcome ------------------------------------

    def _execute(self, thread_id: str, run_id: str, emit: Emit, token: object) -> None:
        store = self.account.store
        with store.transaction():
            run = store.get(RUN, run_id, thread_id)
            if run is None:
                return
            if run["status"] == "cancelling":
                _cancel(store, run)
                store.put(RUN, run, thread_id)
                emit("thread.run.cancelled", public(run))
                return
            if run["status"] not in ("queued", "in_progress"):
                return
            run["status"] = "in_progress"
            run["started_at"] = run.get("started_at") or now()
            store.put(RUN, run, thread_id)
        emit("thread.run.in_progress", public(run))
        live = _LiveMessage(store, run, emit) if emit is not streaming.ignore else None
        try:
            engine = self.engine
        except ValueError as exc:
            outcome: Outcome = Failure(
                "server_error", f"The local account's run engine is misconfigured: {exc}"
            )
        else:
            try:
                outcome = engine.respond(self._input(run), self._search, new_id, live)
            except Exception as exc:
                log.exception("engine failed on run %s", run_id)
                outcome = Failure("server_error", f"The run engine failed: {exc}")
        self._record(thread_id, run_id, outcome, emit, token, live)

    def _search(self, vector_store_ids: list[str], query: str, max_results: int) -> list:
        return self.account.search(vector_store_ids, query, max_results)

    def _input(self, run: dict[str, Any]) -> RunInput:
        store = self.account.store
        thread = store.get(THREAD, run["thread_id"]) or {}
        assistant = store.get("assistant", run["assistant_id"]) or {}
        messages = [
            ContextMessage(m["role"], message_text(m))
            for m in store.all(MESSAGE, run["thread_id"])
            if m.get("run_id") != run["id"]
        ]
        strategy = run.get("truncation_strategy") or {}
        if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
            messages = messages[-int(strategy["last_messages"]) :]
        vector_store_ids: list[str] = []
        for resources in (
            assistant.get("tool_resources") or {},
            thread.get("tool_resources") or {},
            {"file_search": {"vector_store_ids": run.get("_vector_store_ids") or []}},
        ):
            for store_id in (resources.get("file_search") or {}).get("vector_store_ids") or []:
                if store_id not in vector_store_ids:
                    vector_store_ids.append(store_id)
        return RunInput(
            assistant_name=assistant.get("name"),
            model=run["model"],
            instructions=run.get("instructions") or "",
            tools=tuple(run.get("tools") or ()),
            messages=tuple(messages),
            vector_store_ids=tuple(vector_store_ids),
            exchanges=tuple(ToolExchange(**e) for e in run.get("_exchanges") or []),
            tool_choice=run.get("tool_choice"),
            response_format=run.get("response_format"),
            temperature=run.get("temperature"),
            top_p=run.get("top_p"),
            max_completion_tokens=run.get("max_completion_tokens"),
            max_prompt_tokens=run.get("max_prompt_tokens"),
            parallel_tool_calls=run.get("parallel_tool_calls", True),
        )

    def _record(
        self,
        thread_id: str,
        run_id: str,
        outcome: Outcome,
        emit: Emit,
        token: object,
        live: _LiveMessage | None = None,
    ) -> None:
        """Commit the outcome (steps, message, run status), then emit its events in order.

        The claim is released inside the transaction: once the new status is visible, a
        ``submit_tool_outputs`` may claim the run again while these events are still sent.
        """
        store = self.account.store
        events: list[tuple[str, Any]] = []
        with store.transaction():
            run = store.get(RUN, run_id, thread_id)
            if run is None or run["status"] not in ("in_progress", "cancelling"):
                return
            recorder = _Recorder(store, run, events, live)
            if run["status"] == "cancelling":
                recorder.close_live("cancelled")
                _cancel(store, run)
                events.append(("thread.run.cancelled", public(run)))
            else:
                recorder.record(outcome)
            store.put(RUN, run, thread_id)
            self.release(run_id, token)
        for event, data in events:
            emit(event, data)


def _new_step(run: dict[str, Any], kind: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("step"),
        "object": STEP,
        "created_at": now(),
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "run_id": run["id"],
        "type": kind,
        "status": "in_progress",
        "step_details": details,
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "metadata": {},
        "usage": None,
    }


def _new_message(run: dict[str, Any]) -> dict[str, Any]:
    """The run's assistant message, ``in_progress`` and still empty."""
    return {
        "id": new_id("msg"),
        "object": MESSAGE,
        "created_at": now(),
        "thread_id": run["thread_id"],
        "status": "in_progress",
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "role": "assistant",
        "content": [],
        "assistant_id": run["assistant_id"],
        "run_id": run["id"],
        "attachments": [],
        "metadata": {},
    }


def _message_delta(message_id: str, text: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": message_id,
        "object": "thread.message.delta",
        "delta": {"content": [{"index": 0, "type": "text", "text": text}]},
    }


def _message_creation_details(message_id: str) -> dict[str, Any]:
    return {"type": "message_creation", "message_creation": {"message_id": message_id}}


class _LiveMessage:
    """The assistant message of a streamed run, opened when the engine's first text piece
    arrives, so a client reads the answer while the model writes it."""

    def __init__(self, store, run: dict[str, Any], emit: Emit) -> None:
        self.store = store
        self.run = run
        self.emit = emit
        self.include = bool(run.get("_include"))
        self.message: dict[str, Any] | None = None
        self.step: dict[str, Any] | None = None
        self.text = ""

    def __call__(self, piece: str) -> None:
        if not piece:
            return
        if self.message is None:
            message = _new_message(self.run)
            step = _new_step(self.run, "message_creation", _message_creation_details(message["id"]))
            with self.store.transaction():
                self.store.insert(STEP, step, self.run["id"])
                self.store.insert(MESSAGE, message, self.run["thread_id"])
            self.message, self.step = message, step
            self.emit("thread.run.step.created", public_step(step, self.include))
            self.emit("thread.run.step.in_progress", public_step(step, self.include))
            self.emit("thread.message.created", dict(message))
            self.emit("thread.message.in_progress", dict(message))
        self.text += piece
        self.emit("thread.message.delta", _message_delta(self.message["id"], {"value": piece}))


class _Recorder:
    """Writes one outcome into the store inside the caller's transaction, noting events."""

    def __init__(
        self,
        store,
        run: dict[str, Any],
        events: list[tuple[str, Any]],
        live: _LiveMessage | None = None,
    ) -> None:
        self.store = store
        self.run = run
        self.events = events
        self.include = bool(run.get("_include"))
        self.live = live if live is not None and live.message is not None else None

    def record(self, outcome: Outcome) -> None:
        run = self.run
        if not isinstance(outcome, Answer):
            self.close_live("failed" if isinstance(outcome, Failure) else "completed")
        for call in outcome.tool_calls:
            self._server_tool_step(call)
        usage = Usage(**run.get("_usage", {})) + outcome.usage
        run["_usage"] = asdict(usage)
        if isinstance(outcome, ActionRequired):
            self._requires_action(outcome)
        elif isinstance(outcome, Answer):
            self._answer(outcome, usage)
        else:
            run.update(
                status="failed",
                failed_at=now(),
                last_error={"code": outcome.code, "message": outcome.message},
                usage=usage.body(),
            )
            self.events.append(("thread.run.failed", public(run)))

    def close_live(self, status: str) -> None:
        """Finish a streamed message the outcome does not continue: the text streamed so far
        stays, ``incomplete`` when the run failed or was cancelled."""
        if self.live is None:
            return
        message, step, text = self.live.message, self.live.step, self.live.text
        assert message is not None and step is not None
        self.live = None
        finished = now()
        message["content"] = [{"type": "text", "text": {"value": text, "annotations": []}}]
        if status == "completed":
            message.update(status="completed", completed_at=finished)
            step.update(status="completed", completed_at=finished, usage=Usage().body())
        else:
            reason = "run_cancelled" if status == "cancelled" else "run_failed"
            message.update(
                status="incomplete", incomplete_at=finished, incomplete_details={"reason": reason}
            )
            step.update(status=status, **{f"{status}_at": finished})
        self.store.put(MESSAGE, message, self.run["thread_id"])
        self.store.put(STEP, step, self.run["id"])
        self.events.append((f"thread.message.{message['status']}", dict(message)))
        self.events.append((f"thread.run.step.{step['status']}", self._view(step)))

    def _step(self, kind: str, details: dict[str, Any]) -> dict[str, Any]:
        step = _new_step(self.run, kind, details)
        self.store.insert(STEP, step, self.run["id"])
        self.events.append(("thread.run.step.created", self._view(step)))
        self.events.append(("thread.run.step.in_progress", self._view(step)))
        return step

    def _view(self, step: dict[str, Any]) -> dict[str, Any]:
        return public_step(step, self.include)

    def _complete_step(self, step: dict[str, Any], usage: Usage) -> None:
        step.update(status="completed", completed_at=now(), usage=usage.body())
        self.store.put(STEP, step, self.run["id"])
        self.events.append(("thread.run.step.completed", self._view(step)))

    def _tool_delta(self, step: dict[str, Any], calls: list[dict[str, Any]]) -> None:
        delta = {
            "id": step["id"],
            "object": "thread.run.step.delta",
            "delta": {
                "step_details": {
                    "type": "tool_calls",
                    "tool_calls": [{"index": i, **call} for i, call in enumerate(calls)],
                }
            },
        }
        self.events.append(("thread.run.step.delta", delta))

    def _server_tool_step(self, call: ServerToolCall) -> None:
        body = tool_call_body(call)
        step = self._step("tool_calls", {"type": "tool_calls", "tool_calls": []})
        step["step_details"]["tool_calls"] = [body]
        self._tool_delta(step, [self._view(step)["step_details"]["tool_calls"][0]])
        self._complete_step(step, Usage())
        self.run.setdefault("_exchanges", []).append(asdict(call.exchange()))

    def _requires_action(self, outcome: ActionRequired) -> None:
        run = self.run
        calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments, "output": None},
            }
            for c in outcome.function_calls
        ]
        step = self._step("tool_calls", {"type": "tool_calls", "tool_calls": []})
        step["step_details"]["tool_calls"] = calls
        step["_usage"] = asdict(outcome.usage)
        self.store.put(STEP, step, run["id"])
        self._tool_delta(step, calls)
        run.setdefault("_exchanges", []).extend(
            asdict(ToolExchange(c.id, "function", c.name, c.arguments, None))
            for c in outcome.function_calls
        )
        run["_pending_step"] = step["id"]
        run["status"] = "requires_action"
        run["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in outcome.function_calls
                ]
            },
        }
        self.events.append(("thread.run.requires_action", public(run)))

    def _answer(self, outcome: Answer, usage: Usage) -> None:
        run = self.run
        annotations = [
            {
                "type": "file_citation",
                "text": c.text,
                "start_index": c.start_index,
                "end_index": c.end_index,
                "file_citation": {"file_id": c.file_id},
            }
            for c in outcome.citations
        ]
        if self.live is not None:
            message, step = self.live.message, self.live.step
            assert message is not None and step is not None
            streamed = self.live.text
            rest = outcome.text[len(streamed) :] if outcome.text.startswith(streamed) else ""
            if rest or annotations:
                text: dict[str, Any] = {"value": rest}
                if annotations:
                    text["annotations"] = [{"index": i, **a} for i, a in enumerate(annotations)]
                self.events.append(("thread.message.delta", _message_delta(message["id"], text)))
        else:
            message = _new_message(run)
            step = self._step("message_creation", _message_creation_details(message["id"]))
            self.events.append(("thread.message.created", dict(message)))
            self.events.append(("thread.message.in_progress", dict(message)))
            for delta in text_deltas(outcome.text, annotations):
                self.events.append(
                    (
                        "thread.message.delta",
                        {"id": message["id"], "object": "thread.message.delta", "delta": delta},
                    )
                )
            self.store.insert(MESSAGE, message, run["thread_id"])
        message["content"] = [
            {"type": "text", "text": {"value": outcome.text, "annotations": annotations}}
        ]
        finished = now()
        if outcome.incomplete_reason:
            message.update(
                status="incomplete",
                incomplete_at=finished,
                incomplete_details={"reason": "max_tokens"},
            )
        else:
            message.update(status="completed", completed_at=finished)
        self.store.put(MESSAGE, message, run["thread_id"])
        self.events.append((f"thread.message.{message['status']}", dict(message)))
        self._complete_step(step, outcome.usage)
        run.update(usage=usage.body(), required_action=None)
        if outcome.incomplete_reason:
            run.update(
                status="incomplete",
                incomplete_details={"reason": outcome.incomplete_reason},
                completed_at=finished,
            )
        else:
            run.update(status="completed", completed_at=finished)
        self.events.append((f"thread.run.{run['status']}", public(run)))


def tool_call_body(call: ServerToolCall) -> dict[str, Any]:
    """A server-side tool call as a run step's ``tool_calls`` entry."""
    if isinstance(call, FileSearchCall):
        results = [
            {
                "file_id": r.file_id,
                "file_name": r.file_name,
                "score": round(r.score, 6),
                "content": [{"type": "text", "text": r.text}],
            }
            for r in call.results
        ]
        return {
            "id": call.id,
            "type": "file_search",
            "file_search": {"ranking_options": dict(call.ranking_options), "results": results},
        }
    assert isinstance(call, CodeInterpreterCall)
    return {
        "id": call.id,
        "type": "code_interpreter",
        "code_interpreter": {
            "input": call.input,
            "outputs": [{"type": "logs", "logs": call.logs}],
        },
    }


def text_deltas(text: str, annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answer cut into a few words per delta; each annotation rides on the delta that
    completes its marker, so an SDK accumulating deltas ends with the stored message."""
    pieces = re.findall(r"\s*\S+", text) or [text]
    chunks = ["".join(pieces[i : i + DELTA_WORDS]) for i in range(0, len(pieces), DELTA_WORDS)]
    if chunks and len("".join(chunks)) < len(text):
        chunks[-1] += text[len("".join(chunks)) :]
    deltas = []
    offset = 0
    for chunk in chunks:
        end = offset + len(chunk)
        riding = [
            {"index": i, **a}
            for i, a in enumerate(annotations)
            if offset < a["end_index"] <= end or (offset == 0 and a["end_index"] == 0)
        ]
        text_delta: dict[str, Any] = {"value": chunk}
        if riding:
            text_delta["annotations"] = riding
        deltas.append({"content": [{"index": 0, "type": "text", "text": text_delta}]})
        offset = end
    return deltas


def message_text(message: dict[str, Any]) -> str:
    """The text blocks of a message, joined by blank lines (images are skipped)."""
    parts = []
    for block in message.get("content") or []:
        if block.get("type") == "text":
            parts.append(block["text"]["value"])
    return "\n\n".join(parts)


def _close_pending_step(store, run: dict[str, Any], status: str) -> None:
    step_id = run.pop("_pending_step", None)
    if not step_id:
        return
    step = store.get(STEP, step_id, run["id"])
    if step is not None:
        stamp = {"cancelled": "cancelled_at", "expired": "expired_at", "failed": "failed_at"}
        step.update(status=status, **{stamp[status]: now()})
        store.put(STEP, step, run["id"])


def _cancel(store, run: dict[str, Any]) -> None:
    run.update(status="cancelled", cancelled_at=now(), required_action=None)
    _close_pending_step(store, run, "cancelled")


# --- request validation ---------------------------------------------------------------------


def _optional_token_limit(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    expect_type(value, int, name, "an integer")
    if value < MIN_TOKEN_LIMIT:
        raise bad_request(
            f"Invalid '{name}': integer below minimum value. Expected a value >= "
            f"{MIN_TOKEN_LIMIT}, but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    return value


def _truncation_strategy(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "auto", "last_messages": None}
    expect_type(value, dict, "truncation_strategy", "an object")
    kind = one_of(value.get("type"), "truncation_strategy.type", ("auto", "last_messages"))
    last = value.get("last_messages")
    if kind == "last_messages":
        if last is None:
            raise bad_request(
                "Missing required parameter: 'truncation_strategy.last_messages'.",
                param="truncation_strategy.last_messages",
            )
        expect_type(last, int, "truncation_strategy.last_messages", "an integer")
        if last < 1:
            raise bad_request(
                "Invalid 'truncation_strategy.last_messages': integer below minimum value. "
                f"Expected a value >= 1, but got {last} instead.",
                param="truncation_strategy.last_messages",
            )
    return {"type": kind, "last_messages": last if kind == "last_messages" else None}


def _tool_choice(value: Any, tools: list[dict[str, Any]]) -> Any:
    if value is None:
        return "auto"
    if isinstance(value, str):
        return one_of(value, "tool_choice", ("none", "auto", "required"))
    expect_type(value, dict, "tool_choice", "a string or an object")
    kind = one_of(
        value.get("type"), "tool_choice.type", ("function", "file_search", "code_interpreter")
    )
    if kind == "function":
        name = (value.get("function") or {}).get("name")
        if not isinstance(name, str):
            raise bad_request(
                "Missing required parameter: 'tool_choice.function.name'.",
                param="tool_choice.function.name",
            )
        names = {t["function"]["name"] for t in tools if t.get("type") == "function"}
        if name not in names:
            raise bad_request(
                f"Invalid value for 'tool_choice': function '{name}' is not one of the run's "
                "tools.",
                param="tool_choice",
            )
        return {"type": "function", "function": {"name": name}}
    if not any(t.get("type") == kind for t in tools):
        raise bad_request(
            f"Invalid value for 'tool_choice': the run has no {kind} tool.", param="tool_choice"
        )
    return {"type": kind}


def _new_run(account, thread_id: str, body: dict[str, Any], include: bool) -> dict[str, Any]:
    """A validated ``queued`` run from a create request (assistant defaults applied)."""
    assistant_id = require(body, "assistant_id")
    expect_type(assistant_id, str, "assistant_id", "a string")
    assistant = get_assistant(account, assistant_id)
    model = optional_string(body, "model") or assistant["model"]
    instructions = body.get("instructions")
    if instructions is None:
        instructions = assistant.get("instructions") or ""
    else:
        instructions = optional_string(body, "instructions", MAX_INSTRUCTIONS) or ""
    additional = optional_string(body, "additional_instructions", MAX_INSTRUCTIONS)
    if additional:
        instructions = f"{instructions}\n\n{additional}" if instructions else additional
    if body.get("tools") is not None:
        tools = validate_tools(body["tools"])
        if len(tools) > MAX_RUN_TOOLS:
            raise bad_request(
                f"Invalid 'tools': array too long. Expected an array with maximum length "
                f"{MAX_RUN_TOOLS}, but got an array with length {len(tools)} instead.",
                param="tools",
            )
    else:
        tools = list(assistant.get("tools") or [])
    temperature = optional_number(body, "temperature", 0, 2)
    top_p = optional_number(body, "top_p", 0, 1)
    if body.get("response_format") is not None:
        response_format = validate_response_format(body["response_format"])
    else:
        response_format = assistant.get("response_format") or "auto"
    parallel = body.get("parallel_tool_calls")
    if parallel is not None:
        expect_type(parallel, bool, "parallel_tool_calls", "a boolean")
    stream = body.get("stream")
    if stream is not None:
        expect_type(stream, bool, "stream", "a boolean")
    created = now()
    run = {
        "id": new_id("run"),
        "object": RUN,
        "created_at": created,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "status": "queued",
        "started_at": None,
        "expires_at": created + RUN_LIFETIME_S,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "required_action": None,
        "last_error": None,
        "model": model,
        "instructions": instructions,
        "tools": tools,
        "metadata": validate_metadata(body.get("metadata")),
        "incomplete_details": None,
        "usage": None,
        "temperature": temperature if temperature is not None else assistant.get("temperature"),
        "top_p": top_p if top_p is not None else assistant.get("top_p"),
        "max_prompt_tokens": _optional_token_limit(body, "max_prompt_tokens"),
        "max_completion_tokens": _optional_token_limit(body, "max_completion_tokens"),
        "truncation_strategy": _truncation_strategy(body.get("truncation_strategy")),
        "response_format": response_format,
        "tool_choice": _tool_choice(body.get("tool_choice"), tools),
        "parallel_tool_calls": True if parallel is None else parallel,
        "_usage": asdict(Usage()),
        "_exchanges": [],
        "_include": include,
    }
    if body.get("reasoning_effort") is not None:
        run["reasoning_effort"] = one_of(
            body["reasoning_effort"], "reasoning_effort", ("minimal", "low", "medium", "high")
        )
    return run


def _refuse_if_active(account, thread_id: str) -> None:
    blocking = active_run(account, thread_id)
    if blocking is not None:
        raise bad_request(f"Thread {thread_id} already has an active run {blocking['id']}.")


# --- handlers -----------------------------------------------------------------------------------


def _respond_run(run: dict[str, Any]) -> JSONResponse:
    return JSONResponse(public(run), headers={"openai-poll-after-ms": str(POLL_AFTER_MS)})


def _launch(
    account,
    run: dict[str, Any],
    token: object,
    stream: bool,
    prelude: list[bytes] | None = None,
) -> Response:
    """Execute a queued run the caller claimed: in the background (answering with the run)
    or in the streaming response's worker."""
    executor = executor_of(account)
    if not stream:
        executor.start(run["thread_id"], run["id"], token)
        return _respond_run(run)
    frames = list(prelude or [])
    frames.append(streaming.frame("thread.run.queued", public(run)))

    def work(emit: Emit) -> None:
        executor.execute_claimed(run["thread_id"], run["id"], emit, token)

    return streaming.sse_response(streaming.event_stream(frames, work))


def create_run(request: Request, body: dict[str, Any]) -> Response:
    reject_unknown(body, RUN_FIELDS)
    account = account_of(request)
    thread_id = request.path_params["thread_id"]
    include = include_content(request)
    with account.store.transaction():
        get_thread(account, thread_id)
        _refuse_if_active(account, thread_id)
        run = _new_run(account, thread_id, body, include)
        additional = body.get("additional_messages")
        if additional is not None:
            expect_type(additional, list, "additional_messages", "an array")
            for index, message in enumerate(additional):
                create_message(account, thread_id, message, f"additional_messages[{index}]")
        token = executor_of(account).claim(run["id"])
        account.store.insert(RUN, run, thread_id)
    prelude = [streaming.frame("thread.run.created", public(run))]
    return _launch(account, run, token, bool(body.get("stream")), prelude)


def create_thread_and_run(request: Request, body: dict[str, Any]) -> Response:
    reject_unknown(body, THREAD_AND_RUN_FIELDS)
    account = account_of(request)
    include = include_content(request)
    with account.store.transaction():
        thread_body = body.get("thread")
        if thread_body is not None:
            expect_type(thread_body, dict, "thread", "an object")
        # Validate the run before creating anything, so a bad request leaves no thread behind.
        probe = _new_run(account, "", body, include)
        resources = validate_tool_resources(account, body.get("tool_resources"))
        thread = create_thread(account, thread_body or {})
        run = {**probe, "thread_id": thread["id"]}
        search = resources.get("file_search") or {}
        run["_vector_store_ids"] = list(search.get("vector_store_ids") or [])
        token = executor_of(account).claim(run["id"])
        account.store.insert(RUN, run, thread["id"])
    prelude = [
        streaming.frame("thread.created", public(thread)),
        streaming.frame("thread.run.created", public(run)),
    ]
    return _launch(account, run, token, bool(body.get("stream")), prelude)


def list_runs(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    thread_id = request.path_params["thread_id"]
    get_thread(account, thread_id)
    result = page(account.store, RUN, thread_id, list_params(request))
    executor = executor_of(account)
    result["data"] = [public(executor.refresh(run)) for run in result["data"]]
    return result


def retrieve_run(request: Request, body: dict[str, Any]) -> Response:
    params = request.path_params
    return _respond_run(get_run(account_of(request), params["thread_id"], params["run_id"]))


def modify_run(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, ("metadata",))
    account = account_of(request)
    params = request.path_params
    with account.store.transaction():
        run = get_run(account, params["thread_id"], params["run_id"])
        if "metadata" in body:
            run["metadata"] = validate_metadata(body["metadata"])
        account.store.put(RUN, run, params["thread_id"])
    return public(run)


def cancel_run(request: Request, body: dict[str, Any]) -> Response:
    account = account_of(request)
    params = request.path_params
    executor = executor_of(account)
    with account.store.transaction():
        run = get_run(account, params["thread_id"], params["run_id"])
        status = run["status"]
        if status not in ACTIVE or status == "cancelling":
            raise bad_request(f"Cannot cancel run with status '{status}'.")
        if status == "requires_action":
            _cancel(account.store, run)
        else:
            run["status"] = "cancelling"
        account.store.put(RUN, run, params["thread_id"])
    if run["status"] == "cancelling":
        executor.refresh(run)
    return _respond_run(run)


def submit_tool_outputs(request: Request, body: dict[str, Any]) -> Response:
    reject_unknown(body, ("tool_outputs", "stream"))
    account = account_of(request)
    params = request.path_params
    thread_id = params["thread_id"]
    outputs = require(body, "tool_outputs")
    expect_type(outputs, list, "tool_outputs", "an array")
    stream = body.get("stream")
    if stream is not None:
        expect_type(stream, bool, "stream", "a boolean")
    store = account.store
    with store.transaction():
        run = get_run(account, thread_id, params["run_id"])
        if run["status"] != "requires_action":
            raise bad_request(
                f'Runs in status "{run["status"]}" do not accept tool outputs.', param=None
            )
        pending = [c["id"] for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]]
        submitted: dict[str, str] = {}
        for index, item in enumerate(outputs):
            where = f"tool_outputs[{index}]"
            expect_type(item, dict, where, "an object")
            call_id = item.get("tool_call_id")
            if call_id is None:
                raise bad_request(
                    f"Missing required parameter: '{where}.tool_call_id'.",
                    param=f"{where}.tool_call_id",
                )
            expect_type(call_id, str, f"{where}.tool_call_id", "a string")
            output = item.get("output", "")
            expect_type(output, str, f"{where}.output", "a string")
            if call_id not in pending:
                raise bad_request(f"Invalid tool_call_id: {call_id}", param=f"{where}.tool_call_id")
            if call_id in submitted:
                raise bad_request(
                    f"Duplicate tool_call_id: {call_id}", param=f"{where}.tool_call_id"
                )
            submitted[call_id] = output
        missing = [call_id for call_id in pending if call_id not in submitted]
        if missing:
            raise bad_request(
                f"Expected tool outputs for call_ids {pending}, got {list(submitted)}",
                param="tool_outputs",
            )
        events: list[bytes] = []
        emit = streaming.collect(events)
        step_id = run.pop("_pending_step", None)
        step = store.get(STEP, step_id, run["id"]) if step_id else None
        if step is not None:
            for call in step["step_details"]["tool_calls"]:
                if call["id"] in submitted:
                    call["function"]["output"] = submitted[call["id"]]
            usage = Usage(**step.pop("_usage", {}))
            step.update(status="completed", completed_at=now(), usage=usage.body())
            store.put(STEP, step, run["id"])
            emit("thread.run.step.completed", public_step(step, bool(run.get("_include"))))
        for exchange in run.get("_exchanges") or []:
            if exchange["id"] in submitted:
                exchange["output"] = submitted[exchange["id"]]
        run.update(status="queued", required_action=None)
        token = executor_of(account).claim(run["id"])
        if token is None:
            raise bad_request(f"Run {run['id']} is already being executed.")
        store.put(RUN, run, thread_id)
    return _launch(account, run, token, bool(stream), events)


def list_steps(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    params = request.path_params
    include = include_content(request)
    run = get_run(account, params["thread_id"], params["run_id"])
    result = page(account.store, STEP, run["id"], list_params(request))
    result["data"] = [public_step(step, include) for step in result["data"]]
    return result


def retrieve_step(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    params = request.path_params
    include = include_content(request)
    run = get_run(account, params["thread_id"], params["run_id"])
    step = get_or_404(account, STEP, params["step_id"], "run step", run["id"])
    return public_step(step, include)


def routes() -> list[Route]:
    base = "/v1/threads/{thread_id}/runs"
    run_path = base + "/{run_id}"
    return [
        Route("/v1/threads/runs", endpoint(create_thread_and_run), methods=["POST"]),
        Route(base, endpoint(create_run), methods=["POST"]),
        Route(base, endpoint(list_runs), methods=["GET"]),
        Route(run_path, endpoint(retrieve_run), methods=["GET"]),
        Route(run_path, endpoint(modify_run), methods=["POST"]),
        Route(run_path + "/cancel", endpoint(cancel_run), methods=["POST"]),
        Route(run_path + "/submit_tool_outputs", endpoint(submit_tool_outputs), methods=["POST"]),
        Route(run_path + "/steps", endpoint(list_steps), methods=["GET"]),
        Route(run_path + "/steps/{step_id}", endpoint(retrieve_step), methods=["GET"]),
    ]
