"""Writing a run's progress: the outcome of an engine as steps, a message and a run status,
and the events a streamed run sends about them.

Events are ``(name, data)`` pairs as the API streams them (``thread.run.step.created``,
``thread.message.delta``, ...); ``Emit`` is where they go (the api frames them as server-sent
events).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict

from assistctl.local.domain.records import MESSAGE, RUN_STEP, ApiObject, now, public
from assistctl.local.domain.run_steps import (
    answer_parts,
    message_creation_details,
    message_delta,
    new_message,
    new_step,
    public_step,
    text_deltas,
    tool_call_body,
)
from assistctl.local.engines import (
    ActionRequired,
    Answer,
    Failure,
    Outcome,
    ServerToolCall,
    ToolExchange,
    Usage,
)
from assistctl.local.storage import Store

Event = tuple[str, ApiObject]
Emit = Callable[[str, ApiObject], None]


def close_pending_step(store: Store, run: ApiObject, status: str) -> None:
    """End the step that waits for tool outputs (if any) with ``status``."""
    step_id = run.pop("_pending_step", None)
    if not step_id:
        return
    step = store.get(RUN_STEP, step_id, run["id"])
    if step is not None:
        stamp = {"cancelled": "cancelled_at", "expired": "expired_at", "failed": "failed_at"}
        step.update(status=status, **{stamp[status]: now()})
        store.put(RUN_STEP, step, run["id"])


def discard_unfinished(store: Store, run: ApiObject) -> None:
    """Remove the message a lost execution of the run had opened while streaming it (and its
    step), so the execution that takes the run over writes the run's answer once."""
    for step in store.all(RUN_STEP, run["id"]):
        if step["status"] == "in_progress" and step["type"] == "message_creation":
            message_id = step["step_details"]["message_creation"]["message_id"]
            store.delete(MESSAGE, message_id, run["thread_id"])
            store.delete(RUN_STEP, step["id"], run["id"])


def cancel(store: Store, run: ApiObject) -> None:
    """The run ends ``cancelled``; a step waiting for tool outputs is cancelled with it."""
    run.update(status="cancelled", cancelled_at=now(), required_action=None)
    close_pending_step(store, run, "cancelled")


class LiveMessage:
    """The assistant message of a streamed run, opened when the engine's first text piece
    arrives, so a client reads the answer while the model writes it. ``transaction`` is the
    run's fenced transaction (its job's lease must still be held)."""

    def __init__(
        self,
        store: Store,
        run: ApiObject,
        emit: Emit,
        transaction: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self.store = store
        self.transaction = transaction
        self.run = run
        self.emit = emit
        self.include = bool(run.get("_include"))
        self.message: ApiObject | None = None
        self.step: ApiObject | None = None
        self.text = ""

    def __call__(self, piece: str) -> None:
        if not piece:
            return
        if self.message is None:
            message = new_message(self.run)
            step = new_step(self.run, "message_creation", message_creation_details(message["id"]))
            with self.transaction():
                self.store.insert(RUN_STEP, step, self.run["id"])
                self.store.insert(MESSAGE, message, self.run["thread_id"])
            self.message, self.step = message, step
            self.emit("thread.run.step.created", public_step(step, self.include))
            self.emit("thread.run.step.in_progress", public_step(step, self.include))
            self.emit("thread.message.created", dict(message))
            self.emit("thread.message.in_progress", dict(message))
        self.text += piece
        self.emit("thread.message.delta", message_delta(self.message["id"], {"value": piece}))


class Recorder:
    """Writes one outcome into the store inside the caller's transaction, noting events."""

    def __init__(
        self,
        store: Store,
        run: ApiObject,
        events: list[Event],
        live: LiveMessage | None = None,
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
        self.store.put(RUN_STEP, step, self.run["id"])
        self.events.append((f"thread.message.{message['status']}", dict(message)))
        self.events.append((f"thread.run.step.{step['status']}", self._view(step)))

    def _step(self, kind: str, details: ApiObject) -> ApiObject:
        step = new_step(self.run, kind, details)
        self.store.insert(RUN_STEP, step, self.run["id"])
        self.events.append(("thread.run.step.created", self._view(step)))
        self.events.append(("thread.run.step.in_progress", self._view(step)))
        return step

    def _view(self, step: ApiObject) -> ApiObject:
        return public_step(step, self.include)

    def _complete_step(self, step: ApiObject, usage: Usage) -> None:
        step.update(status="completed", completed_at=now(), usage=usage.body())
        self.store.put(RUN_STEP, step, self.run["id"])
        self.events.append(("thread.run.step.completed", self._view(step)))

    def _tool_delta(self, step: ApiObject, calls: list[ApiObject]) -> None:
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
        self.store.put(RUN_STEP, step, run["id"])
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
        annotations, images = answer_parts(outcome.text, annotations, outcome.tool_calls)
        if self.live is not None:
            message, step = self.live.message, self.live.step
            assert message is not None and step is not None
            streamed = self.live.text
            rest = outcome.text[len(streamed) :] if outcome.text.startswith(streamed) else ""
            if rest or annotations:
                text: ApiObject = {"value": rest}
                if annotations:
                    text["annotations"] = [{"index": i, **a} for i, a in enumerate(annotations)]
                self.events.append(("thread.message.delta", message_delta(message["id"], text)))
        else:
            message = new_message(run)
            step = self._step("message_creation", message_creation_details(message["id"]))
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
            {"type": "text", "text": {"value": outcome.text, "annotations": annotations}},
            *images,
        ]
        if images:
            delta = {"content": [{"index": i, **part} for i, part in enumerate(images, 1)]}
            self.events.append(
                (
                    "thread.message.delta",
                    {"id": message["id"], "object": "thread.message.delta", "delta": delta},
                )
            )
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
