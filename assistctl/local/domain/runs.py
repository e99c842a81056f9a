"""Runs: created from an assistant's settings, one active run per thread, cancelled, given tool
outputs, read with their steps. The executor moves them through their lifecycle.

Private bookkeeping in a stored run: ``_exchanges`` (tool calls of this run and their outputs),
``_pending_step`` (the step waiting for tool outputs), ``_usage`` (tokens so far),
``_vector_store_ids`` (run-level ``tool_resources`` of create-thread-and-run) and ``_include``
(whether the create request asked for search result content, for streamed steps).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from assistctl.local.domain.errors import InvalidRequest
from assistctl.local.domain.executor import RunExecutor
from assistctl.local.domain.pages import PageRequest, list_page
from assistctl.local.domain.recorder import Emit, Event, cancel
from assistctl.local.domain.records import RUN, RUN_STEP, ApiObject, fetch, new_id, now, public
from assistctl.local.domain.run_steps import public_step
from assistctl.local.domain.threads import NewThread, Threads
from assistctl.local.domain.tool_resources import ToolResources
from assistctl.local.domain.vector_stores import VectorStores
from assistctl.local.engines import Usage
from assistctl.local.storage import Lease, Store

ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
RUN_LIFETIME_S = 600


@dataclass(frozen=True)
class RunRequest:
    """A validated request to run an assistant; a setting left None is the assistant's."""

    assistant: ApiObject
    model: str | None
    instructions: str | None
    additional_instructions: str | None
    tools: list[ApiObject] | None
    temperature: float | None
    top_p: float | None
    response_format: Any
    parallel_tool_calls: bool | None
    metadata: dict[str, Any]
    max_prompt_tokens: int | None
    max_completion_tokens: int | None
    truncation_strategy: ApiObject
    tool_choice: Any
    reasoning_effort: str | None
    include_search_content: bool


def pending_call_ids(run: ApiObject) -> list[str]:
    """The ids of the function calls a ``requires_action`` run waits for."""
    return [c["id"] for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]]


def run_tools(assistant: ApiObject, requested: list[ApiObject] | None) -> list[ApiObject]:
    """The tools a run has: the request's, else the assistant's."""
    return requested if requested is not None else list(assistant.get("tools") or [])


class Runs:
    def __init__(
        self,
        store: Store,
        threads: Threads,
        vector_stores: VectorStores,
        executor: RunExecutor,
    ) -> None:
        self._store = store
        self._threads = threads
        self._vector_stores = vector_stores
        self._executor = executor

    # --- creating and starting ------------------------------------------------------------

    def new(self, thread_id: str, request: RunRequest) -> ApiObject:
        """A ``queued`` run of ``request`` (not stored yet): the assistant's settings, with the
        run's own instructions, tools and sampling where given."""
        assistant = request.assistant
        instructions = request.instructions
        if instructions is None:
            instructions = assistant.get("instructions") or ""
        additional = request.additional_instructions
        if additional:
            instructions = f"{instructions}\n\n{additional}" if instructions else additional
        if request.response_format is not None:
            response_format = request.response_format
        else:
            response_format = assistant.get("response_format") or "auto"
        created = now()
        run: ApiObject = {
            "id": new_id("run"),
            "object": RUN,
            "created_at": created,
            "assistant_id": assistant["id"],
            "thread_id": thread_id,
            "status": "queued",
            "started_at": None,
            "expires_at": created + RUN_LIFETIME_S,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "required_action": None,
            "last_error": None,
            "model": request.model or assistant["model"],
            "instructions": instructions,
            "tools": run_tools(assistant, request.tools),
            "metadata": request.metadata,
            "incomplete_details": None,
            "usage": None,
            "temperature": _given_or(request.temperature, assistant.get("temperature")),
            "top_p": _given_or(request.top_p, assistant.get("top_p")),
            "max_prompt_tokens": request.max_prompt_tokens,
            "max_completion_tokens": request.max_completion_tokens,
            "truncation_strategy": request.truncation_strategy,
            "response_format": response_format,
            "tool_choice": request.tool_choice,
            "parallel_tool_calls": _given_or(request.parallel_tool_calls, True),
            "_usage": asdict(Usage()),
            "_exchanges": [],
            "_include": request.include_search_content,
        }
        if request.reasoning_effort is not None:
            run["reasoning_effort"] = request.reasoning_effort
        return run

    def enqueue(self, run: ApiObject) -> Lease:
        """Store a new run as ``queued`` with its job, held by this replica: the lease that
        ``start`` or ``execute`` takes."""
        with self._store.transaction():
            self._store.insert(RUN, run, run["thread_id"])
            return self._executor.queue(run)

    def create_thread_and_run(
        self, request: RunRequest, tool_resources: ToolResources, thread: NewThread
    ) -> tuple[ApiObject, ApiObject, Lease]:
        """A new thread and a ``queued`` run on it; the run searches the vector stores of
        ``tool_resources`` besides the assistant's and the thread's."""
        with self._store.transaction():
            probe = self.new("", request)
            resources = tool_resources.stored(self._vector_stores)
            created = self._threads.create(thread)
            run = {**probe, "thread_id": created["id"]}
            search = resources.get("file_search") or {}
            run["_vector_store_ids"] = list(search.get("vector_store_ids") or [])
            lease = self.enqueue(run)
        return created, run, lease

    def start(self, lease: Lease) -> None:
        """Execute a queued run in the background."""
        self._executor.start(lease)

    def execute(self, lease: Lease, emit: Emit) -> None:
        """Execute a queued run in the calling thread, emitting its events."""
        self._executor.execute_held(lease, emit)

    # --- reading ------------------------------------------------------------------------

    def get(self, thread_id: str, run_id: str) -> ApiObject:
        """The run, with its expiry applied."""
        run = fetch(
            self._store,
            RUN,
            run_id,
            "run",
            thread_id,
            check_parent=lambda: self._threads.get(thread_id),
        )
        return self._executor.refresh(run)

    def active(self, thread_id: str) -> ApiObject | None:
        """The thread's run that still blocks new runs and messages, if any. Only the newest run
        can be active (no run is created while another is), so only that one is read."""
        newest = self._store.list(RUN, thread_id, limit=1).data
        if not newest or newest[0]["status"] not in ACTIVE:
            return None
        run = self._executor.refresh(newest[0])
        return run if run["status"] in ACTIVE else None

    def refuse_if_active(self, thread_id: str) -> None:
        blocking = self.active(thread_id)
        if blocking is not None:
            raise InvalidRequest(f"Thread {thread_id} already has an active run {blocking['id']}.")

    def refuse_messages_while_active(self, thread_id: str) -> None:
        blocking = self.active(thread_id)
        if blocking is not None:
            raise InvalidRequest(
                f"Can't add messages to {thread_id} while a run {blocking['id']} is active."
            )

    def page(self, thread_id: str, request: PageRequest) -> ApiObject:
        result = list_page(self._store, RUN, thread_id, request)
        result["data"] = [public(self._executor.refresh(run)) for run in result["data"]]
        return result

    def steps_page(self, run: ApiObject, request: PageRequest, include_content: bool) -> ApiObject:
        result = list_page(self._store, RUN_STEP, run["id"], request)
        result["data"] = [public_step(step, include_content) for step in result["data"]]
        return result

    def step(self, run: ApiObject, step_id: str, include_content: bool) -> ApiObject:
        step = fetch(self._store, RUN_STEP, step_id, "run step", run["id"])
        return public_step(step, include_content)

    # --- changing -----------------------------------------------------------------------

    def set_metadata(self, run: ApiObject, metadata: dict[str, Any] | None) -> ApiObject:
        if metadata is not None:
            run["metadata"] = metadata
        return self._store.put(RUN, run, run["thread_id"])

    def cancel(self, thread_id: str, run_id: str) -> ApiObject:
        """Waiting for tool outputs: cancelled at once; executing: ``cancelling`` until the
        executor stops it."""
        with self._store.transaction():
            run = self.get(thread_id, run_id)
            status = run["status"]
            if status not in ACTIVE or status == "cancelling":
                raise InvalidRequest(f"Cannot cancel run with status '{status}'.")
            if status == "requires_action":
                cancel(self._store, run)
            else:
                run["status"] = "cancelling"
            self._store.put(RUN, run, thread_id)
        return run

    def awaiting_tool_outputs(self, thread_id: str, run_id: str) -> ApiObject:
        run = self.get(thread_id, run_id)
        if run["status"] != "requires_action":
            raise InvalidRequest(f'Runs in status "{run["status"]}" do not accept tool outputs.')
        return run

    def accept_tool_outputs(
        self, run: ApiObject, outputs: dict[str, str]
    ) -> tuple[list[Event], Lease]:
        """Complete the waiting step with ``outputs`` (by call id) and queue the run again,
        with its job held by this replica; the events of the completed step come back for a
        stream."""
        events: list[Event] = []
        with self._store.transaction():
            step_id = run.pop("_pending_step", None)
            step = self._store.get(RUN_STEP, step_id, run["id"]) if step_id else None
            if step is not None:
                for call in step["step_details"]["tool_calls"]:
                    if call["id"] in outputs:
                        call["function"]["output"] = outputs[call["id"]]
                usage = Usage(**step.pop("_usage", {}))
                step.update(status="completed", completed_at=now(), usage=usage.body())
                self._store.put(RUN_STEP, step, run["id"])
                events.append(
                    ("thread.run.step.completed", public_step(step, bool(run.get("_include"))))
                )
            for exchange in run.get("_exchanges") or []:
                if exchange["id"] in outputs:
                    exchange["output"] = outputs[exchange["id"]]
            run.update(status="queued", required_action=None)
            self._store.put(RUN, run, run["thread_id"])
            lease = self._executor.queue(run)
        return events, lease


def _given_or(value: Any, default: Any) -> Any:
    return value if value is not None else default
