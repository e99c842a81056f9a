"""Items: the unit of the Responses and Conversations APIs (messages, function calls and their
outputs, file-search and code-interpreter calls, reasoning), as they are stored, as the API
shows them, and as an engine sees a list of them.

An engine sees a list of items as the messages of a conversation plus the tool calls of the
current turn (the items after the last user message: function calls and their outputs), the
same two things a run gives it, so the engines' rules are written once. Earlier turns' tool
calls, server-side tool calls and reasoning are not shown to engines: their answers carry what
they found.
"""

from __future__ import annotations

from collections.abc import Callable

from assistctl.local.domain.errors import InvalidRequest
from assistctl.local.domain.records import ApiObject, new_id
from assistctl.local.engines import ContextMessage, ToolExchange

ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "file_search_call": "fs",
    "code_interpreter_call": "ci",
    "reasoning": "rs",
}
WITH_STATUS = ("message", "function_call", "function_call_output")
SEARCH_RESULTS = "file_search_call.results"
CODE_OUTPUTS = "code_interpreter_call.outputs"
FileText = Callable[[ApiObject], str]


def stored_item(item: ApiObject) -> ApiObject:
    """A validated input item as it is kept: with an id (the client's, else a new one) and,
    where the API shows one, a status."""
    stored: ApiObject = {"id": item.get("id") or new_id(ID_PREFIXES[item["type"]])}
    stored.update((key, value) for key, value in item.items() if key != "id")
    if item["type"] in WITH_STATUS:
        stored.setdefault("status", "completed")
    return stored


def item_view(item: ApiObject, include: tuple[str, ...]) -> ApiObject:
    """An item as the API shows it: file-search results and code-interpreter outputs only
    when ``include``d."""
    if item["type"] == "file_search_call" and SEARCH_RESULTS not in include:
        return {**item, "results": None}
    if item["type"] == "code_interpreter_call" and CODE_OUTPUTS not in include:
        return {**item, "outputs": None}
    return item


def check_calls(items: list[ApiObject]) -> None:
    """Every function call output answers an earlier call, and every call is answered, as
    the API requires of a response's input with its context."""
    answered: dict[str, bool] = {}
    for item in items:
        if item["type"] == "function_call":
            answered[item["call_id"]] = False
        elif item["type"] == "function_call_output":
            call_id = item["call_id"]
            if call_id not in answered:
                raise InvalidRequest(
                    f"No tool call found for function call output with call_id {call_id}.",
                    param="input",
                )
            answered[call_id] = True
    for call_id, done in answered.items():
        if not done:
            raise InvalidRequest(
                f"No tool output found for function call {call_id}.", param="input"
            )


def engine_turn(
    items: list[ApiObject], file_text: FileText
) -> tuple[tuple[ContextMessage, ...], tuple[ToolExchange, ...]]:
    """The messages of ``items`` and the function calls of the current turn with their
    outputs; ``file_text`` reads an ``input_file`` part."""
    messages = []
    last_user = -1
    for index, item in enumerate(items):
        if item["type"] == "message":
            messages.append(ContextMessage(item["role"], message_text(item, file_text)))
            if item["role"] == "user":
                last_user = index
    turn = items[last_user + 1 :]
    outputs = {i["call_id"]: i["output"] for i in turn if i["type"] == "function_call_output"}
    exchanges = tuple(
        ToolExchange(
            item["call_id"],
            "function",
            item["name"],
            item["arguments"],
            output_text(outputs[item["call_id"]]) if item["call_id"] in outputs else None,
        )
        for item in turn
        if item["type"] == "function_call"
    )
    return tuple(messages), exchanges


def message_text(item: ApiObject, file_text: FileText) -> str:
    """A message's text parts (and the text of its files), joined by blank lines; images are
    not read."""
    parts = []
    for part in item["content"]:
        kind = part["type"]
        if kind in ("input_text", "output_text"):
            parts.append(part["text"])
        elif kind == "refusal":
            parts.append(part["refusal"])
        elif kind == "input_file":
            parts.append(file_text(part))
    return "\n\n".join(parts)


def output_text(output: str | list[ApiObject]) -> str:
    """A function call output: a string, or the text of its content parts."""
    if isinstance(output, str):
        return output
    return "\n\n".join(part["text"] for part in output if part["type"] == "input_text")


def message_item(item_id: str, status: str, text: str, annotations: list[ApiObject]) -> ApiObject:
    """An assistant message with one ``output_text`` part."""
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [output_text_part(text, annotations)],
    }


def output_text_part(text: str, annotations: list[ApiObject]) -> ApiObject:
    return {"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}
