"""Writing a response: the output items an engine's outcome becomes, its final status, and, when
streamed, the Responses API's typed events in order, each with its ``sequence_number``.

Items are added as they happen: text the engine streams opens the message at once, a tool call
the engine reports as it runs becomes its item then, and whatever the outcome still holds is
added when it arrives (reasoning, then server-side tool calls, then the message or the function
calls). The response's ``output`` is kept in ``output_index`` order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from assistctl.local.domain.code_interpreter import file_mentions
from assistctl.local.domain.items import item_view, output_text_part
from assistctl.local.domain.recorder import Emit
from assistctl.local.domain.records import ApiObject, new_id, now, public
from assistctl.local.domain.run_steps import text_pieces
from assistctl.local.engines import (
    ActionRequired,
    Answer,
    CodeInterpreterCall,
    Failure,
    FileSearchCall,
    FunctionCall,
    Outcome,
    ReasoningNote,
    ServerToolCall,
    Usage,
)

FINAL_EVENTS = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}
INCOMPLETE_REASONS = {"max_completion_tokens": "max_output_tokens"}


def usage_body(usage: Usage) -> ApiObject:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def response_view(response: ApiObject, include: tuple[str, ...]) -> ApiObject:
    """A response as the API shows it: private keys dropped, items as ``include`` asks."""
    view = public(response)
    view["output"] = [item_view(item, include) for item in response["output"]]
    return view


@dataclass
class _OpenMessage:
    """The assistant message being written: where it sits and the text sent so far."""

    index: int
    item: ApiObject
    part: ApiObject
    streamed: str = ""


class ResponseWriter:
    """Writes one response's output into ``response`` (its ``output`` list and final fields);
    with ``emit`` (a streamed response) each step is also sent as an event. ``image_url(file_id)``
    is how a code-interpreter call's image output points at the image."""

    def __init__(
        self,
        response: ApiObject,
        include: tuple[str, ...],
        emit: Emit | None,
        image_url: Callable[[str], str] = lambda file_id: f"/v1/files/{file_id}/content",
    ) -> None:
        self.response = response
        self._image_url = image_url
        self.include = include
        self._emit = emit
        self._held: list[tuple[str, ApiObject]] | None = None
        self.sequence = 0
        self._message: _OpenMessage | None = None
        self._announced: set[str] = set()
        self._container_id: str | None = None

    def view(self) -> ApiObject:
        return response_view(self.response, self.include)

    def event(self, name: str, fields: ApiObject) -> None:
        if self._emit is None:
            return
        data = {"type": name, **fields, "sequence_number": self.sequence}
        self.sequence += 1
        if self._held is not None:
            self._held.append((name, copy.deepcopy(data)))  # items change after the event
        else:
            self._emit(name, data)

    def hold(self) -> None:
        """Keep events back (while the outcome is committed, so a client that reads the
        response on its final event sees it stored)."""
        self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        if self._emit is not None:
            for name, data in held:
                self._emit(name, data)

    def lifecycle(self, name: str) -> None:
        """``response.created``, ``.queued``, ``.in_progress``…: the whole response."""
        self.event(name, {"response": self.view()})

    # --- what the engine reports while it works --------------------------------------------

    def text(self, piece: str) -> None:
        """A piece of the answer, as the engine writes it."""
        if not piece:
            return
        message = self._message or self._open_message()
        message.streamed += piece
        self._delta(message, piece)

    def tool_call(self, call: ServerToolCall) -> None:
        """A server-side tool call that has run (once per call, however often reported)."""
        if call.id in self._announced:
            return
        self._announced.add(call.id)
        if isinstance(call, FileSearchCall):
            self._file_search(call)
        else:
            self._code_interpreter(call)

    # --- the outcome ----------------------------------------------------------------------------

    def finish(self, outcome: Outcome) -> None:
        """Add what ``outcome`` holds, set the final status and usage, send the final event."""
        if not isinstance(outcome, Failure):
            for note in outcome.reasoning:
                self._reasoning(note)
        for call in outcome.tool_calls:
            self.tool_call(call)
        response = self.response
        response["usage"] = usage_body(outcome.usage)
        if isinstance(outcome, Answer):
            self._answer(outcome)
        elif isinstance(outcome, ActionRequired):
            self._close_message("completed")
            for function_call in outcome.function_calls:
                self._function_call(function_call)
            response.update(status="completed", completed_at=now())
        else:
            self._close_message("incomplete")
            response.update(
                status="failed", error={"code": outcome.code, "message": outcome.message}
            )
        self.lifecycle(FINAL_EVENTS[response["status"]])

    def cancel(self) -> None:
        """The response was cancelled while it ran: what was written stays, unfinished."""
        self._close_message("incomplete")
        self.response["status"] = "cancelled"

    # --- items ------------------------------------------------------------------------------

    def _add(self, item: ApiObject) -> int:
        index = len(self.response["output"])
        self.response["output"].append(item)
        self.event("response.output_item.added", {"output_index": index, "item": item})
        return index

    def _item_event(self, name: str, index: int, fields: ApiObject | None = None) -> None:
        item_id = self.response["output"][index]["id"]
        self.event(name, {"item_id": item_id, "output_index": index, **(fields or {})})

    def _done(self, index: int) -> None:
        item = item_view(self.response["output"][index], self.include)
        self.event("response.output_item.done", {"output_index": index, "item": item})

    def _open_message(self) -> _OpenMessage:
        item: ApiObject = {
            "id": new_id("msg"),
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        index = self._add(item)
        part = output_text_part("", [])
        item["content"].append(part)
        self._item_event("response.content_part.added", index, {"content_index": 0, "part": part})
        self._message = _OpenMessage(index, item, part)
        return self._message

    def _delta(self, message: _OpenMessage, piece: str) -> None:
        self._item_event(
            "response.output_text.delta",
            message.index,
            {"content_index": 0, "delta": piece, "logprobs": []},
        )

    def _end_message(self, message: _OpenMessage, text: str, status: str) -> None:
        message.part["text"] = text
        self._item_event(
            "response.output_text.done",
            message.index,
            {"content_index": 0, "text": text, "logprobs": []},
        )
        self._item_event(
            "response.content_part.done", message.index, {"content_index": 0, "part": message.part}
        )
        message.item["status"] = status
        self._done(message.index)
        self._message = None

    def _close_message(self, status: str) -> None:
        """End a streamed message the outcome does not continue, with the text sent so far."""
        if self._message is not None:
            self._end_message(self._message, self._message.streamed, status)

    def _answer(self, outcome: Answer) -> None:
        message = self._message
        if message is None:
            message = self._open_message()
            for piece in text_pieces(outcome.text):
                self._delta(message, piece)
        elif outcome.text.startswith(message.streamed) and len(outcome.text) > len(
            message.streamed
        ):
            self._delta(message, outcome.text[len(message.streamed) :])
        annotations: list[ApiObject] = [
            {
                "type": "file_citation",
                "file_id": citation.file_id,
                "filename": citation.filename,
                "index": citation.start_index,
            }
            for citation in outcome.citations
        ]
        annotations += [
            {
                "type": "container_file_citation",
                "container_id": self._container(),
                "file_id": mention.file.file_id,
                "filename": mention.file.path.rsplit("/", 1)[-1],
                "start_index": mention.start,
                "end_index": mention.end,
            }
            for mention in file_mentions(outcome.text, outcome.tool_calls)
        ]
        annotations.sort(key=lambda a: int(a["index"] if "index" in a else a["start_index"]))
        for position, annotation in enumerate(annotations):
            self._item_event(
                "response.output_text.annotation.added",
                message.index,
                {"content_index": 0, "annotation_index": position, "annotation": annotation},
            )
        message.part["annotations"] = annotations
        reason = outcome.incomplete_reason
        self._end_message(message, outcome.text, "incomplete" if reason else "completed")
        if reason:
            details = {"reason": INCOMPLETE_REASONS.get(reason, reason)}
            self.response.update(status="incomplete", incomplete_details=details)
        else:
            self.response.update(status="completed", completed_at=now())

    def _function_call(self, call: FunctionCall) -> None:
        item: ApiObject = {
            "id": new_id("fc"),
            "type": "function_call",
            "status": "in_progress",
            "call_id": call.id,
            "name": call.name,
            "arguments": "",
        }
        index = self._add(item)
        self._item_event("response.function_call_arguments.delta", index, {"delta": call.arguments})
        self._item_event(
            "response.function_call_arguments.done", index, {"arguments": call.arguments}
        )
        item.update(arguments=call.arguments, status="completed")
        self._done(index)

    def _file_search(self, call: FileSearchCall) -> None:
        item: ApiObject = {
            "id": new_id("fs"),
            "type": "file_search_call",
            "status": "in_progress",
            "queries": [call.query],
            "results": None,
        }
        index = self._add(item)
        self._item_event("response.file_search_call.in_progress", index)
        self._item_event("response.file_search_call.searching", index)
        results = [
            {
                "file_id": result.file_id,
                "filename": result.file_name,
                "score": round(result.score, 6),
                "text": result.text,
                "attributes": result.attributes,
            }
            for result in call.results
        ]
        item.update(status="completed", results=results)
        self._item_event("response.file_search_call.completed", index)
        self._done(index)

    def _code_interpreter(self, call: CodeInterpreterCall) -> None:
        """Code that ran in the response's container: its logs and images as ``outputs``."""
        item: ApiObject = {
            "id": new_id("ci"),
            "type": "code_interpreter_call",
            "status": "in_progress",
            "code": "",
            "container_id": self._container(),
            "outputs": None,
        }
        index = self._add(item)
        self._item_event("response.code_interpreter_call.in_progress", index)
        self._item_event("response.code_interpreter_call_code.delta", index, {"delta": call.input})
        self._item_event("response.code_interpreter_call_code.done", index, {"code": call.input})
        self._item_event("response.code_interpreter_call.interpreting", index)
        outputs: list[ApiObject] = [{"type": "logs", "logs": call.logs}]
        outputs += [{"type": "image", "url": self._image_url(f)} for f in call.image_file_ids]
        item.update(code=call.input, status="completed", outputs=outputs)
        self._item_event("response.code_interpreter_call.completed", index)
        self._done(index)

    def _container(self) -> str:
        """The code interpreter's container: the response's, else the one the tool names, else
        one minted for this response."""
        if self._container_id is None and self.response.get("_container"):
            self._container_id = self.response["_container"]
        if self._container_id is None:
            tool = next(
                (t for t in self.response["tools"] if t["type"] == "code_interpreter"), None
            )
            container = tool.get("container") if tool is not None else None
            self._container_id = container if isinstance(container, str) else new_id("cntr")
        return self._container_id

    def _reasoning(self, note: ReasoningNote) -> None:
        item: ApiObject = {
            "id": new_id("rs"),
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": text} for text in note.summary],
        }
        if note.content:
            item["content"] = [{"type": "reasoning_text", "text": text} for text in note.content]
        if note.encrypted_content is not None:
            item["encrypted_content"] = note.encrypted_content
        index = self._add(item)
        self._done(index)
