"""Responses: created from a validated request and the context it continues (the chain of
``previous_response_id``, or a conversation's items), answered by the account's engine through
the same protocol as runs, stored unless ``store`` is false, run in the background when asked,
cancelled, deleted, and read with their input items.

A stored response is written when it starts (``queued`` in the background, else
``in_progress``), with its job held by the replica that accepted it, and again when it ends, so
it can be read meanwhile; a response whose replica stopped or died is executed again from the
start by the replica that takes its job over. A background response also keeps its events, so
it can be streamed again from any ``sequence_number`` while it runs and after, from any
replica. Private bookkeeping in a stored response: ``_input`` (its input items, as stored),
``_context`` (the items before them, kept only until it ends) and ``_sampling`` (the sampling
settings the request gave, which are passed on to engines; the response shows the API's
defaults for the others) and ``_container`` (the code interpreter's container, when the response
has the tool; see ``code_interpreter``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from assistctl.local.domain.background import MAX_ATTEMPTS, LeaseLost, Replica
from assistctl.local.domain.code_interpreter import CodeInterpreter
from assistctl.local.domain.conversations import Conversations
from assistctl.local.domain.documents import document_text
from assistctl.local.domain.errors import InvalidRequest, NotFound
from assistctl.local.domain.files import Files
from assistctl.local.domain.items import check_calls, engine_turn, item_view, stored_item
from assistctl.local.domain.pages import PageRequest, list_objects
from assistctl.local.domain.recorder import Emit
from assistctl.local.domain.records import (
    CONTAINER,
    RESPONSE,
    RESPONSE_EVENT,
    ApiObject,
    new_id,
    now,
)
from assistctl.local.domain.response_output import ResponseWriter, response_view
from assistctl.local.engines import CodeSession, Engine, Failure, Outcome, RunInput, Search
from assistctl.local.storage import CursorNotFound, Lease, Store

log = logging.getLogger(__name__)

UNFINISHED = ("queued", "in_progress")
LAST_EVENTS = ("response.completed", "response.incomplete", "response.failed", "error")
REPLAY_POLL_S = 0.02
REPLAY_PAGE = 100
SERVER_ERROR = "The server had an error while processing your request."
INLINE_FILE_NAME = "input.txt"  # inline file data without a filename is read as text
ENDED_IN_CONVERSATION = ("completed", "incomplete")


@dataclass(frozen=True)
class ResponseRequest:
    """A validated ``POST /v1/responses``: the settings as the response shows them, and the
    ``sampling`` values the request gave (passed on to engines)."""

    model: str
    instructions: str | None
    input: tuple[ApiObject, ...]
    tools: tuple[ApiObject, ...]
    tool_choice: Any
    parallel_tool_calls: bool
    text: ApiObject
    sampling: dict[str, float]
    max_output_tokens: int | None
    max_tool_calls: int | None
    truncation: str
    reasoning: ApiObject
    metadata: dict[str, Any]
    store: bool
    background: bool
    stream: bool
    previous_response_id: str | None
    conversation_id: str | None
    include: tuple[str, ...]
    user: str | None
    safety_identifier: str | None
    prompt_cache_key: str | None
    prompt_cache_retention: str | None


@dataclass(frozen=True)
class OpenResponse:
    """A response ready to execute: the object, what ``include`` asks of its views, and the
    lease on its job (None: not stored, so executed by the request alone)."""

    response: ApiObject
    include: tuple[str, ...]
    lease: Lease | None


def response_not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.")


class Responses:
    def __init__(
        self,
        store: Store,
        files: Files,
        conversations: Conversations,
        engine: Callable[[], Engine],
        search: Search,
        code: CodeInterpreter,
        replica: Replica,
    ) -> None:
        self._store = store
        self._files = files
        self._conversations = conversations
        self._engine = engine
        self._search = search
        self._code = code
        self._replica = replica
        replica.handle("response", self._take_over)

    # --- creating -----------------------------------------------------------------------------

    def open(self, request: ResponseRequest) -> OpenResponse:
        """Check the request against its context, then create the response (stored ``queued``
        or ``in_progress`` unless ``store`` is false, with its job held by this replica)."""
        context = self._context(request)
        inputs = [stored_item(item) for item in request.input]
        check_calls(context + inputs)
        for index, item in enumerate(inputs):
            self._readable_files(item, f"input[{index}]")
        response = _new_response(request, inputs, context)
        code_tool = next((t for t in request.tools if t["type"] == "code_interpreter"), None)
        if code_tool is not None:
            response["_container"] = self._code.container(code_tool, context + inputs)["id"]
        lease = None
        if request.store:
            with self._store.transaction():
                self._store.insert(RESPONSE, response)
                lease = self._replica.add("response", response["id"])
        return OpenResponse(response, request.include, lease)

    def start(self, opened: OpenResponse) -> None:
        """Execute a stored response in the background (background responses are stored)."""
        assert opened.lease is not None, "a background response is stored"
        self._replica.execute(opened.lease, lambda: self.execute(opened, None))

    def announce(self, opened: OpenResponse) -> ApiObject:
        """The ``response.created`` event of a streamed response, for the stream to send at
        once, before the response executes (``execute(..., announced=True)`` then goes on from
        there); a background response keeps it with its other events."""
        response = opened.response
        view = response_view(response, opened.include)
        event = {"type": "response.created", "response": view, "sequence_number": 0}
        keep = self._event_sink(response, None, opened.lease)
        if keep is not None:
            keep("response.created", event)
        return event

    def execute(
        self, opened: OpenResponse, emit: Emit | None, *, announced: bool = False
    ) -> ApiObject:
        """Run the engine on an open response and record its outcome; with ``emit`` every
        step is also sent as a typed event (after ``response.created`` when ``announced``).
        The view of the response as it ended comes back."""
        response, lease = opened.response, opened.lease
        writer = ResponseWriter(
            response, opened.include, self._event_sink(response, emit, lease), self._image_url
        )
        holding = self._replica.holding(lease) if lease is not None else nullcontext()
        with holding:
            try:
                if announced:
                    writer.sequence = 1
                else:
                    writer.lifecycle("response.created")
                if response["status"] == "queued":
                    writer.lifecycle("response.queued")
                    if not self._begin(response, lease):
                        return writer.view()
                writer.lifecycle("response.in_progress")
                live = response["background"] or emit is not None
                outcome = self._respond(response, writer if live else None)
                self._record(writer, outcome, lease)
            except LeaseLost:
                raise
            except Exception:
                if emit is None:
                    raise
                log.exception("streamed response %s failed", response["id"])
                error = {"code": "server_error", "message": SERVER_ERROR, "param": None}
                writer.event("error", error)
        return writer.view()

    # --- reading and changing -------------------------------------------------------------

    def get(self, response_id: str) -> ApiObject:
        """A stored response (reading never starts an execution: work left by a stopped
        replica is taken over by the replicas' pollers)."""
        found = self._store.get(RESPONSE, response_id)
        if found is None:
            raise response_not_found(response_id)
        return found

    def view(self, response_id: str, include: tuple[str, ...]) -> ApiObject:
        return response_view(self.get(response_id), include)

    def view_of(self, opened: OpenResponse) -> ApiObject:
        """A response just opened, as the API shows it."""
        return response_view(opened.response, opened.include)

    def delete(self, response_id: str) -> None:
        with self._store.transaction():
            if not self._store.delete(RESPONSE, response_id):
                raise response_not_found(response_id)
            self._store.delete_children(RESPONSE_EVENT, response_id)

    def replay(self, response_id: str, starting_after: int | None) -> Iterator[ApiObject]:
        """The events of a background response after ``starting_after`` (all without it),
        following it until it ends; only background responses keep their events."""
        if not self.get(response_id)["background"]:
            raise InvalidRequest(
                f"Response '{response_id}' was not created with background=true, so it cannot "
                "be streamed again; retrieve it without 'stream'.",
                param="stream",
            )
        return self._follow(response_id, starting_after)

    def cancel(self, response_id: str) -> ApiObject:
        """Stop a background response that has not ended (an ended one is returned as it is);
        a response created without ``background`` cannot be cancelled."""
        with self._store.transaction():
            response = self.get(response_id)
            if not response["background"]:
                raise InvalidRequest(
                    "Only responses created with background=true can be cancelled."
                )
            if response["status"] in UNFINISHED:
                response["status"] = "cancelled"
                response.pop("_context", None)
                self._store.put(RESPONSE, response)
        return response_view(response, ())

    def input_items(
        self, response_id: str, request: PageRequest, include: tuple[str, ...]
    ) -> ApiObject:
        page = list_objects(self.get(response_id)["_input"], request)
        page["data"] = [item_view(item, include) for item in page["data"]]
        return page

    # --- inside -------------------------------------------------------------------------------

    def _context(self, request: ResponseRequest) -> list[ApiObject]:
        """The items a new response continues: its conversation's, or those of the chain of
        previous responses (their input and output, oldest first)."""
        if request.conversation_id is not None:
            self._conversations.get(request.conversation_id)
            return self._conversations.items(request.conversation_id)
        if request.previous_response_id is None:
            return []
        previous = self._store.get(RESPONSE, request.previous_response_id)
        if previous is None:
            raise InvalidRequest(
                f"Previous response with id '{request.previous_response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        if previous["status"] in UNFINISHED:
            raise InvalidRequest(
                f"Previous response with id '{previous['id']}' is still {previous['status']}; "
                "wait for it to end before continuing it.",
                param="previous_response_id",
            )
        turns = []
        while previous is not None:
            turns.append(previous["_input"] + previous["output"])
            earlier = previous.get("previous_response_id")
            previous = self._store.get(RESPONSE, earlier) if earlier else None
        return [item for turn in reversed(turns) for item in turn]

    def _readable_files(self, item: ApiObject, where: str) -> None:
        """The files a message gives (``input_file``) must have text the engines can read."""
        if item["type"] != "message":
            return
        for index, part in enumerate(item["content"]):
            if part["type"] != "input_file":
                continue
            _, problem = self._file_text(part)
            if problem is not None:
                raise InvalidRequest(
                    f"Invalid input file: {problem}", param=f"{where}.content[{index}]"
                )

    def _file_text(self, part: ApiObject) -> tuple[str | None, str | None]:
        """The text of an ``input_file`` part (an uploaded file or inline ``file_data``), read as
        vector stores read files (PDF, Word, PowerPoint and HTML have their text extracted),
        or what is wrong with it."""
        if part.get("file_id"):
            if not self._files.exists(part["file_id"]):
                return None, f"the file {part['file_id']} was deleted."
            content = self._files.bytes_of(part["file_id"])
            name = self._files.get(part["file_id"])["filename"]
        else:
            data = str(part.get("file_data") or "")
            encoded = data.split(",", 1)[1] if data.startswith("data:") else data
            name = part.get("filename") or INLINE_FILE_NAME
            try:
                content = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                return None, f"{name}: 'file_data' is not base64."
        text, error = document_text(content, name)
        return text, error["message"] if error is not None else None

    def _event_sink(
        self, response: ApiObject, emit: Emit | None, lease: Lease | None
    ) -> Emit | None:
        """Where a response's events go: to ``emit`` (a stream), and for a background
        response also into the store (fenced by its job's lease), for ``replay``."""
        if not response["background"] or lease is None:
            return emit
        response_id = response["id"]
        held = lease

        def keep(name: str, data: ApiObject) -> None:
            record = {"id": f"evt_{data['sequence_number']:08d}", "event": data}
            with self._replica.fenced(held):
                self._store.insert(RESPONSE_EVENT, record, response_id)
            if emit is not None:
                emit(name, data)

        return keep

    def _follow(self, response_id: str, starting_after: int | None) -> Iterator[ApiObject]:
        """Poll the stored events, whichever replica writes them. A response taken over by
        another replica starts over: the stream goes on with the new execution's events after
        the last sequence number it sent (a model may word the retry differently; the final
        event carries the whole response). A response that ended without a final event
        (failed after its replicas died) ends the stream once its job is gone: an executor
        stores its last events before it ends its job."""
        sent = -1 if starting_after is None else starting_after
        after = None
        ended = False
        while True:
            try:
                page = self._store.list(
                    RESPONSE_EVENT, response_id, order="asc", after=after, limit=REPLAY_PAGE
                )
            except CursorNotFound:  # the response started over (or was deleted: see below)
                after = None
                continue
            for record in page.data:
                after = record["id"]
                event = record["event"]
                if event["sequence_number"] > sent:
                    sent = event["sequence_number"]
                    yield event
                if event["type"] in LAST_EVENTS:
                    return
            if page.has_more:
                continue
            if ended:
                return
            current = self._store.get(RESPONSE, response_id)
            if current is None or current["status"] == "cancelled":
                return
            if current["status"] not in UNFINISHED and not self._replica.pending(response_id):
                ended = True  # one more read sees its last events
                continue
            time.sleep(REPLAY_POLL_S)

    def _fenced(self, lease: Lease | None) -> AbstractContextManager[None]:
        """The transaction recording an execution: fenced by its job's lease when stored."""
        return self._replica.fenced(lease) if lease is not None else self._store.transaction()

    def _take_over(self, lease: Lease) -> None:
        """Execute again, from the start, a response whose replica stopped or died."""
        with self._replica.fenced(lease):
            found = self._store.get(RESPONSE, lease.id)
            if found is None or found["status"] not in UNFINISHED:
                self._replica.finish(lease)
                return
            if lease.attempt > MAX_ATTEMPTS:
                message = f"The response was interrupted {MAX_ATTEMPTS} times."
                found.update(status="failed", error={"code": "server_error", "message": message})
                found.pop("_context", None)
                self._store.put(RESPONSE, found)
                self._replica.finish(lease)
                return
            self._store.delete_children(RESPONSE_EVENT, found["id"])  # it starts over
        self.execute(OpenResponse(found, (), lease), None)

    def _begin(self, response: ApiObject, lease: Lease | None) -> bool:
        """A queued response starts (``in_progress``), unless it was cancelled meanwhile."""
        if not response["store"]:
            response["status"] = "in_progress"
            return True
        with self._fenced(lease):
            current = self._store.get(RESPONSE, response["id"])
            if current is None or current["status"] != "queued":
                if lease is not None:
                    self._replica.finish(lease)
                return False
            response["status"] = "in_progress"
            self._store.put(RESPONSE, response)
        return True

    def _respond(self, response: ApiObject, live: ResponseWriter | None) -> Outcome:
        items = response["_context"] + response["_input"]
        try:
            return self._engine().respond(
                self._run_input(response, items),
                self._search,
                new_id,
                live.text if live is not None else None,
                live.tool_call if live is not None else None,
                self._code_session(response),
            )
        except Exception as exc:
            log.exception("engine failed on response %s", response["id"])
            return Failure("server_error", f"The engine failed: {exc}")

    def _image_url(self, file_id: str) -> str:
        """An image the code showed, as the data URL a ``code_interpreter_call`` output shows
        (the account has no public URL for it; the file itself is ``file_id``)."""
        return "data:image/png;base64," + base64.b64encode(self._files.bytes_of(file_id)).decode()

    def _code_session(self, response: ApiObject) -> CodeSession | None:
        """The code interpreter of the response's container, with the container's files."""
        container_id = response.get("_container")
        container = self._store.get(CONTAINER, container_id) if container_id else None
        if container is None:
            return None
        return self._code.session(container["id"], container["_file_ids"])

    def _run_input(self, response: ApiObject, items: list[ApiObject]) -> RunInput:
        tools, vector_store_ids, tool_choice = engine_tools(
            response["tools"], response["tool_choice"]
        )
        messages, exchanges = engine_turn(items, lambda part: self._file_text(part)[0] or "")
        sampling = response["_sampling"]
        reasoning = {k: v for k, v in response["reasoning"].items() if v is not None}
        return RunInput(
            assistant_name=None,
            model=response["model"],
            instructions=response["instructions"] or "",
            tools=tuple(tools),
            messages=messages,
            vector_store_ids=tuple(vector_store_ids),
            exchanges=exchanges,
            tool_choice=tool_choice,
            response_format=response_format(response["text"]["format"]),
            temperature=sampling.get("temperature"),
            top_p=sampling.get("top_p"),
            max_completion_tokens=response["max_output_tokens"],
            parallel_tool_calls=response["parallel_tool_calls"],
            max_tool_calls=response["max_tool_calls"],
            reasoning=reasoning or None,
            truncation=response["truncation"],
            presence_penalty=sampling.get("presence_penalty"),
            frequency_penalty=sampling.get("frequency_penalty"),
        )

    def _record(self, writer: ResponseWriter, outcome: Outcome, lease: Lease | None) -> None:
        """Write the outcome into the response and, when stored, commit it (with the
        conversation's new items) before the final event is sent; the job ends once that
        event is stored too."""
        writer.hold()
        try:
            self._commit(writer, outcome, lease)
        finally:
            writer.release()
        if lease is not None:
            with self._replica.fenced(lease):
                self._replica.finish(lease)

    def _commit(self, writer: ResponseWriter, outcome: Outcome, lease: Lease | None) -> None:
        response = writer.response
        if not response["store"]:
            writer.finish(outcome)
            self._extend_conversation(response)
            return
        with self._fenced(lease):
            current = self._store.get(RESPONSE, response["id"])
            if current is None:
                writer.finish(outcome)  # deleted meanwhile: nothing to keep
                return
            if current["status"] == "cancelled":
                writer.cancel()
                return
            writer.finish(outcome)
            context = response.pop("_context")
            self._store.put(RESPONSE, response)
            self._extend_conversation(response)
            response["_context"] = context

    def _extend_conversation(self, response: ApiObject) -> None:
        conversation = response["conversation"]
        if conversation is None or response["status"] not in ENDED_IN_CONVERSATION:
            return
        try:
            self._conversations.append(conversation["id"], response["_input"] + response["output"])
        except NotFound:
            log.info("conversation %s was deleted before its response ended", conversation["id"])


def _new_response(
    request: ResponseRequest, inputs: list[ApiObject], context: list[ApiObject]
) -> ApiObject:
    """The response object with every field the API and the Open Responses specification
    define, the API's defaults where the request gave nothing."""
    sampling = request.sampling
    conversation = request.conversation_id
    return {
        "id": new_id("resp"),
        "object": "response",
        "created_at": now(),
        "status": "queued" if request.background else "in_progress",
        "background": request.background,
        "completed_at": None,
        "conversation": {"id": conversation} if conversation is not None else None,
        "error": None,
        "incomplete_details": None,
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": request.max_tool_calls,
        "metadata": request.metadata,
        "model": request.model,
        "output": [],
        "parallel_tool_calls": request.parallel_tool_calls,
        "previous_response_id": request.previous_response_id,
        "prompt_cache_key": request.prompt_cache_key,
        "prompt_cache_retention": request.prompt_cache_retention,
        "reasoning": request.reasoning,
        "safety_identifier": request.safety_identifier,
        "service_tier": "default",
        "store": request.store,
        "temperature": sampling.get("temperature", 1.0),
        "text": request.text,
        "tool_choice": request.tool_choice,
        "tools": list(request.tools),
        "top_logprobs": 0,
        "top_p": sampling.get("top_p", 1.0),
        "presence_penalty": sampling.get("presence_penalty", 0.0),
        "frequency_penalty": sampling.get("frequency_penalty", 0.0),
        "truncation": request.truncation,
        "usage": None,
        "user": request.user,
        "_input": inputs,
        "_context": context,
        "_sampling": dict(sampling),
    }


def engine_tools(
    tools: list[ApiObject], tool_choice: Any
) -> tuple[list[ApiObject], list[str], Any]:
    """A response's tools as engines take them (the Assistants API's shape), the vector
    stores its ``file_search`` searches, and its ``tool_choice`` in the runs' form;
    ``allowed_tools`` narrows the tools and gives its ``mode``."""
    choice = tool_choice
    allowed = None
    if isinstance(tool_choice, dict) and tool_choice["type"] == "allowed_tools":
        allowed = tool_choice["tools"]
        choice = tool_choice["mode"]
    converted: list[ApiObject] = []
    vector_store_ids: list[str] = []
    for tool in tools:
        if allowed is not None and not any(_names(tool, entry) for entry in allowed):
            continue
        kind = tool["type"]
        if kind == "function":
            function = {k: tool[k] for k in ("name", "description", "parameters", "strict")}
            converted.append({"type": "function", "function": function})
        elif kind == "file_search":
            options = {k: tool[k] for k in ("max_num_results", "ranking_options", "filters")}
            converted.append({"type": "file_search", "file_search": options})
            for store_id in tool["vector_store_ids"]:
                if store_id not in vector_store_ids:
                    vector_store_ids.append(store_id)
        else:
            converted.append({"type": kind})
    if isinstance(choice, dict) and choice["type"] == "function":
        choice = {"type": "function", "function": {"name": choice["name"]}}
    return converted, vector_store_ids, choice


def _names(tool: ApiObject, entry: ApiObject) -> bool:
    """Whether an ``allowed_tools`` entry names ``tool``."""
    if entry.get("type") != tool["type"]:
        return False
    return tool["type"] != "function" or entry.get("name") == tool["name"]


def response_format(text_format: ApiObject) -> Any:
    """``text.format`` as the runs' ``response_format`` that engines read."""
    kind = text_format["type"]
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {k: text_format[k] for k in ("name", "schema", "strict", "description")}
        return {"type": "json_schema", "json_schema": schema}
    return "auto"
