"""The run executor: moves the runs of one account through their lifecycle.

A run is stored ``queued`` together with its job, held by the replica that accepted it, and
executed at once in a background thread (or in the thread of the response that streams it):
``queued`` → ``in_progress`` → the engine's outcome, recorded as ``requires_action`` |
``completed`` | ``incomplete`` | ``failed``, or ``cancelling`` → ``cancelled``, or ``expired``
once ``expires_at`` passes while it waits. Each stage commits before the next starts, so a
poll sees what the API would show, and each is fenced by the job's lease. A run whose replica
stopped or died is executed again by the replica that takes its job over, which first removes
what the lost execution left half-written, so the run still gets one answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from assistctl.local.domain.background import MAX_ATTEMPTS, Replica
from assistctl.local.domain.code_interpreter import CodeInterpreter
from assistctl.local.domain.recorder import (
    Emit,
    Event,
    LiveMessage,
    Recorder,
    cancel,
    close_pending_step,
    discard_unfinished,
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
from assistctl.local.storage import Lease, Store

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
    """Executes the runs this replica queued or took over, one thread per busy run."""

    def __init__(
        self,
        store: Store,
        engine: Callable[[], Engine],
        search: Search,
        code: CodeInterpreter,
        replica: Replica,
    ) -> None:
        self._store = store
        self._build_engine = engine
        self._search = search
        self._code = code
        self._replica = replica
        self._engine_lock = threading.Lock()
        self._engine: Engine | None = None
        replica.handle("run", lambda lease: self._execute(lease, None))

    @property
    def engine(self) -> Engine:
        """Built on first use (the chat engine's client is slow to create), under its own lock
        so reads of other runs never wait for it."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = self._build_engine()
            return self._engine

    def queue(self, run: ApiObject) -> Lease:
        """The job of a run just stored ``queued``, held by this replica: inside the
        transaction storing the run, so no other replica ever finds it unclaimed."""
        return self._replica.add("run", run["id"], run["thread_id"])

    def start(self, lease: Lease) -> None:
        """Execute a run this replica holds, in the background."""
        self._replica.execute(lease, lambda: self._execute(lease, None))

    def execute_held(self, lease: Lease, emit: Emit) -> None:
        """Execute a run this replica holds in the calling thread, emitting its events."""
        with self._replica.holding(lease):
            self._execute(lease, emit)

    def refresh(self, run: ApiObject) -> ApiObject:
        """Expire a run whose time is up (its job with it); reading never starts an execution:
        work left by a stopped replica is taken over by the replicas' pollers."""
        store = self._store
        status = run["status"]
        if status in ("queued", "in_progress", "requires_action") and now() >= run["expires_at"]:
            with store.transaction():
                current = store.get(RUN, run["id"], run["thread_id"]) or run
                if current["status"] == status:
                    current.update(status="expired", required_action=None)
                    close_pending_step(store, current, "expired")
                    store.put(RUN, current, current["thread_id"])
                    self._replica.drop(current["id"])
                return current
        return run

    # -- one pass of a run: queued → in_progress → an outcome ------------------------------------

    def _execute(self, lease: Lease, emit: Emit | None) -> None:
        """``emit`` is None when nobody streams the run: its answer is then written at once."""
        store = self._store
        send = emit or _unheard
        thread_id = lease.parent
        with self._replica.fenced(lease):
            run = store.get(RUN, lease.id, thread_id)
            if run is None or run["status"] not in ("queued", "in_progress", "cancelling"):
                self._replica.finish(lease)
                return
            if run["status"] == "cancelling":
                cancel(store, run)
            elif lease.attempt > MAX_ATTEMPTS:
                run.update(
                    status="failed",
                    failed_at=now(),
                    last_error={
                        "code": "server_error",
                        "message": f"The run was interrupted {MAX_ATTEMPTS} times.",
                    },
                )
            else:
                if lease.attempt > 1:
                    discard_unfinished(store, run)
                run["status"] = "in_progress"
                run["started_at"] = run.get("started_at") or now()
            store.put(RUN, run, thread_id)
            if run["status"] != "in_progress":
                self._replica.finish(lease)
        send(f"thread.run.{run['status']}", public(run))
        if run["status"] != "in_progress":
            return
        live = (
            LiveMessage(store, run, emit, lambda: self._replica.fenced(lease))
            if emit is not None
            else None
        )
        try:
            outcome: Outcome = self.engine.respond(
                self._input(run), self._search, new_id, live, None, self._code_session(run)
            )
        except Exception as exc:
            log.exception("engine failed on run %s", lease.id)
            outcome = Failure("server_error", f"The run engine failed: {exc}")
        self._record(lease, outcome, send, live)

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

    def _record(self, lease: Lease, outcome: Outcome, emit: Emit, live: LiveMessage | None) -> None:
        """Commit the outcome (steps, message, run status) and end the job, then emit its
        events in order. Once the new status is visible a ``submit_tool_outputs`` may queue
        the run again while these events are still sent."""
        store = self._store
        events: list[Event] = []
        with self._replica.fenced(lease):
            self._replica.finish(lease)
            run = store.get(RUN, lease.id, lease.parent)
            if run is None or run["status"] not in ("in_progress", "cancelling"):
                return
            recorder = Recorder(store, run, events, live)
            if run["status"] == "cancelling":
                recorder.close_live("cancelled")
                cancel(store, run)
                events.append(("thread.run.cancelled", public(run)))
            else:
                recorder.record(outcome)
            store.put(RUN, run, lease.parent)
        for event, data in events:
            emit(event, data)
