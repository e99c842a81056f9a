"""The run executor: moves the runs of one account through their lifecycle.

A run is stored ``queued`` and executed in a background thread (or in the thread of the
response that streams it): ``queued`` → ``in_progress`` → the engine's outcome, recorded as
``requires_action`` | ``completed`` | ``incomplete`` | ``failed``, or ``cancelling`` →
``cancelled``, or ``expired`` once ``expires_at`` passes while it waits. Each stage commits
before the next starts, so a poll sees what the API would show. A run left ``queued`` /
``in_progress`` by a stopped server is picked up again on its next read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from assistctl.local.domain.background import in_background
from assistctl.local.domain.code_interpreter import CodeInterpreter
from assistctl.local.domain.recorder import (
    Emit,
    Event,
    LiveMessage,
    Recorder,
    cancel,
    close_pending_step,
)
from assistctl.local.domain.records import (
    ASSISTANT,
    RUN,
    THREAD,
    ApiObject,
    new_id,
    now,
    public,
)
from assistctl.local.engines import (
    CodeSession,
    ContextMessage,
    Engine,
    Failure,
    Outcome,
    RunInput,
    Search,
    ToolExchange,
)
from assistctl.local.storage import Store, StoreClosed

log = logging.getLogger(__name__)
# ``truncation_strategy: auto`` keeps the newest messages that fit this many tokens (estimated
# as characters / 4 plus a few per message, as chat formats frame them), or the run's
# ``max_prompt_tokens`` when lower: a run reads the messages it sends, not the whole thread.
AUTO_CONTEXT_TOKENS = 32_000
MESSAGE_FRAME_TOKENS = 4
CONTEXT_PAGE = 1_000


def context_messages(store: Store, run: ApiObject) -> list[ContextMessage]:
    """The thread's messages a run sends its engine, oldest first: those before the run's own
    (``truncation_strategy``: the last N, or ``auto``: the newest within the token budget).
    Read newest first a page at a time from the role and text kept beside each message (never
    its JSON), stopping at the first message that does not fit."""
    strategy = run.get("truncation_strategy") or {}
    last = int(strategy.get("last_messages") or 0) if strategy.get("type") == "last_messages" else 0
    budget = min(AUTO_CONTEXT_TOKENS, run.get("max_prompt_tokens") or AUTO_CONTEXT_TOKENS)
    newest_first: list[ContextMessage] = []
    used, before = 0, None
    while True:
        size = min(CONTEXT_PAGE, last + 1) if last else CONTEXT_PAGE
        page = store.message_texts(run["thread_id"], run["id"], before, size)
        for _seq, role, text in page:
            used += len(text) // 4 + MESSAGE_FRAME_TOKENS
            if (last and len(newest_first) >= last) or (
                not last and newest_first and used > budget
            ):
                return newest_first[::-1]
            newest_first.append(ContextMessage(role, text))
        if len(page) < size:
            return newest_first[::-1]
        before = page[-1][0]


def _unheard(event: str, data: ApiObject) -> None:
    """Where the events of a run nobody streams go."""


class RunExecutor:
    """One daemon thread per busy run; at most one execution of a run in this process."""

    def __init__(
        self, store: Store, engine: Callable[[], Engine], search: Search, code: CodeInterpreter
    ) -> None:
        self._store = store
        self._build_engine = engine
        self._search = search
        self._code = code
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
                self._engine = self._build_engine()
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
        claimed = token or self.claim(run_id)
        if claimed is None:
            return

        def work() -> None:
            try:
                self._execute(thread_id, run_id, None, claimed)
            except StoreClosed:
                log.info("run %s left for later: the account was closed", run_id)
            except Exception:
                log.exception("run %s failed in the background", run_id)
            finally:
                self.release(run_id, claimed)

        in_background(work, f"assistctl-{run_id}")

    def execute_claimed(self, thread_id: str, run_id: str, emit: Emit, token: object) -> None:
        """Execute a run the caller claimed, in the calling thread, emitting its events."""
        try:
            self._execute(thread_id, run_id, emit, token)
        finally:
            self.release(run_id, token)

    def refresh(self, run: ApiObject) -> ApiObject:
        """Expire a run whose time is up; restart one that no thread executes any more."""
        store = self._store
        status = run["status"]
        if status in ("queued", "in_progress", "requires_action") and now() >= run["expires_at"]:
            with store.transaction():
                current = store.get(RUN, run["id"], run["thread_id"]) or run
                if current["status"] == status:
                    current.update(status="expired", required_action=None)
                    close_pending_step(store, current, "expired")
                    store.put(RUN, current, current["thread_id"])
                return current
        if status in ("queued", "in_progress", "cancelling"):
            with self._lock:
                orphan = run["id"] not in self._busy
            if orphan:
                self.start(run["thread_id"], run["id"])
        return run

    # -- one pass of a run: queued → in_progress → an outcome ------------------------------------

    def _execute(self, thread_id: str, run_id: str, emit: Emit | None, token: object) -> None:
        """``emit`` is None when nobody streams the run: its answer is then written at once."""
        store = self._store
        send = emit or _unheard
        with store.transaction():
            run = store.get(RUN, run_id, thread_id)
            if run is None:
                return
            if run["status"] == "cancelling":
                cancel(store, run)
                store.put(RUN, run, thread_id)
                send("thread.run.cancelled", public(run))
                return
            if run["status"] not in ("queued", "in_progress"):
                return
            run["status"] = "in_progress"
            run["started_at"] = run.get("started_at") or now()
            store.put(RUN, run, thread_id)
        send("thread.run.in_progress", public(run))
        live = LiveMessage(store, run, emit) if emit is not None else None
        try:
            outcome: Outcome = self.engine.respond(
                self._input(run), self._search, new_id, live, None, self._code_session(run)
            )
        except Exception as exc:
            log.exception("engine failed on run %s", run_id)
            outcome = Failure("server_error", f"The run engine failed: {exc}")
        self._record(thread_id, run_id, outcome, send, token, live)

    def _input(self, run: ApiObject) -> RunInput:
        """The run as the engine sees it: effective settings, the thread's messages (after
        ``truncation_strategy``), and every vector store it may search."""
        store = self._store
        thread = store.get(THREAD, run["thread_id"]) or {}
        assistant = store.get(ASSISTANT, run["assistant_id"]) or {}
        messages = context_messages(store, run)
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

    def _code_session(self, run: ApiObject) -> CodeSession | None:
        """The thread's code interpreter, with the assistant's and the thread's files in
        ``/mnt/data``, when the run has the tool."""
        if not any(tool.get("type") == "code_interpreter" for tool in run.get("tools") or ()):
            return None
        file_ids: list[str] = []
        for owner in (
            self._store.get(ASSISTANT, run["assistant_id"]) or {},
            self._store.get(THREAD, run["thread_id"]) or {},
        ):
            resources = owner.get("tool_resources") or {}
            file_ids += (resources.get("code_interpreter") or {}).get("file_ids") or []
        return self._code.session(run["thread_id"], file_ids)

    def _record(
        self,
        thread_id: str,
        run_id: str,
        outcome: Outcome,
        emit: Emit,
        token: object,
        live: LiveMessage | None,
    ) -> None:
        """Commit the outcome (steps, message, run status), then emit its events in order.

        The claim is released inside the transaction: once the new status is visible, a
        ``submit_tool_outputs`` may claim the run again while these events are still sent.
        """
        store = self._store
        events: list[Event] = []
        with store.transaction():
            run = store.get(RUN, run_id, thread_id)
            if run is None or run["status"] not in ("in_progress", "cancelling"):
                return
            recorder = Recorder(store, run, events, live)
            if run["status"] == "cancelling":
                recorder.close_live("cancelled")
                cancel(store, run)
                events.append(("thread.run.cancelled", public(run)))
            else:
                recorder.record(outcome)
            store.put(RUN, run, thread_id)
            self.release(run_id, token)
        for event, data in events:
            emit(event, data)
