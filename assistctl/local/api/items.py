"""Input items in requests (a response's ``input``, a conversation's ``items``): validated as the
API does and brought to one shape (every message has ``type`` and a list of content parts), with
every file they name looked up. Also the ``include`` query parameter of item lists."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from assistctl.local.api.validation import (
    IMAGE_DETAILS,
    expect_type,
    objects_in,
    one_of,
    reject_unknown,
    require,
)
from assistctl.local.domain import Account, ApiObject, InvalidRequest, NotFound

MAX_INPUT_ITEMS = 10_000
MAX_CONTENT_PARTS = 1_000
ITEM_TYPES = (
    "message",
    "function_call",
    "function_call_output",
    "file_search_call",
    "code_interpreter_call",
    "reasoning",
)
ROLES = ("user", "assistant", "system", "developer")
INPUT_PARTS = ("input_text", "input_image", "input_file")
ASSISTANT_PARTS = ("output_text", "refusal", "input_text")
INPUT_IMAGE_DETAILS = (*IMAGE_DETAILS, "original")  # the Responses API adds "original"
STATUSES = ("in_progress", "completed", "incomplete")
INCLUDABLE = (
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
)
NOT_INCLUDABLE = {
    "web_search_call.results": "the local account has no web_search tool",
    "web_search_call.action.sources": "the local account has no web_search tool",
    "computer_call_output.output.image_url": "the local account has no computer tool",
    "message.output_text.logprobs": "the local account's engines give no log probabilities",
}


def parse_include(values: Any, param: str = "include") -> tuple[str, ...]:
    """``include`` values the API knows; those naming what the local account cannot give
    (log probabilities, web search, computer use) are refused, never silently ignored."""
    if values is None:
        return ()
    expect_type(values, list, param, "an array")
    for index, value in enumerate(values):
        one_of(value, f"{param}[{index}]", INCLUDABLE)
        if value in NOT_INCLUDABLE:
            raise InvalidRequest(
                f"Invalid '{param}[{index}]': '{value}' is not supported here: "
                f"{NOT_INCLUDABLE[value]}.",
                param=f"{param}[{index}]",
            )
    return tuple(dict.fromkeys(values))


def query_include(request: Request) -> tuple[str, ...]:
    """The ``include`` (or ``include[]``) query parameters of a read."""
    query = request.query_params
    values = query.getlist("include[]") + query.getlist("include")
    return parse_include(values) if values else ()


def parse_input(account: Account, value: Any, param: str = "input") -> list[ApiObject]:
    """A response's ``input``: a string (one user message) or a list of items."""
    if value is None:
        return []
    if isinstance(value, str):
        return [_message("user", [{"type": "input_text", "text": value}])]
    return parse_items(account, value, param, MAX_INPUT_ITEMS)


def parse_items(account: Account, value: Any, param: str, maximum: int) -> list[ApiObject]:
    return [parse_item(account, item, where) for where, item in objects_in(value, param, maximum)]


def parse_item(account: Account, item: ApiObject, where: str) -> ApiObject:
    kind = item.get("type", "message")  # an easy message may leave out its type
    one_of(kind, f"{where}.type", ITEM_TYPES)
    if kind == "message":
        return _parse_message(account, item, where)
    if kind == "function_call":
        reject_unknown(item, ("type", "id", "call_id", "name", "arguments", "status"), where)
        parsed = {"type": kind, **_strings(item, where, ("call_id", "name", "arguments"))}
    elif kind == "function_call_output":
        reject_unknown(item, ("type", "id", "call_id", "output", "status"), where)
        parsed = {"type": kind, **_strings(item, where, ("call_id",))}
        parsed["output"] = _call_output(account, require(item, "output", where), f"{where}.output")
    elif kind == "reasoning":
        reject_unknown(
            item, ("type", "id", "summary", "content", "encrypted_content", "status"), where
        )
        parsed = {"type": kind, "summary": _texts(item, "summary", where, "summary_text")}
        if item.get("content") is not None:
            parsed["content"] = _texts(item, "content", where, "reasoning_text")
        if item.get("encrypted_content") is not None:
            expect_type(item["encrypted_content"], str, f"{where}.encrypted_content", "a string")
            parsed["encrypted_content"] = item["encrypted_content"]
    else:
        parsed = _earlier_tool_call(item, where)
    return _with_id_and_status(parsed, item, where)


def _parse_message(account: Account, item: ApiObject, where: str) -> ApiObject:
    reject_unknown(item, ("type", "role", "content", "id", "status", "phase"), where)
    role = one_of(item.get("role"), f"{where}.role", ROLES)
    content = require(item, "content", where)
    param = f"{where}.content"
    if isinstance(content, str):
        kind = "output_text" if role == "assistant" else "input_text"
        return _with_id_and_status(_message(role, [_text_part(kind, content)]), item, where)
    parts = []
    for part_where, part in objects_in(content, param, MAX_CONTENT_PARTS):
        allowed = ASSISTANT_PARTS if role == "assistant" else INPUT_PARTS
        kind = one_of(part.get("type"), f"{part_where}.type", allowed)
        parts.append(_part(account, role, kind, part, part_where))
    message = _message(role, parts)
    if role == "assistant" and item.get("phase") is not None:
        message["phase"] = one_of(item["phase"], f"{where}.phase", ("commentary", "final_answer"))
    return _with_id_and_status(message, item, where)


def _part(account: Account, role: str, kind: str, part: ApiObject, where: str) -> ApiObject:
    if kind in ("input_text", "output_text"):
        text = require(part, "text", where)
        expect_type(text, str, f"{where}.text", "a string")
        if role == "assistant":
            reject_unknown(part, ("type", "text", "annotations", "logprobs"), where)
            annotations = part.get("annotations") or []
            expect_type(annotations, list, f"{where}.annotations", "an array")
            return _text_part("output_text", text, annotations)
        reject_unknown(part, ("type", "text"), where)
        return _text_part(kind, text)
    if kind == "refusal":
        reject_unknown(part, ("type", "refusal"), where)
        refusal = require(part, "refusal", where)
        expect_type(refusal, str, f"{where}.refusal", "a string")
        return {"type": "refusal", "refusal": refusal}
    if kind == "input_image":
        reject_unknown(part, ("type", "image_url", "file_id", "detail"), where)
        detail = one_of(part.get("detail", "auto"), f"{where}.detail", INPUT_IMAGE_DETAILS)
        image: ApiObject = {"type": "input_image", "detail": detail}
        image.update(_file_or_inline(account, part, where, "image_url"))
        return image
    reject_unknown(part, ("type", "file_id", "file_data", "filename", "file_url", "detail"), where)
    if part.get("file_url") is not None:
        raise InvalidRequest(
            f"Invalid '{where}.file_url': the local account works offline and does not fetch "
            "URLs; upload the file and pass its 'file_id', or send 'file_data'.",
            param=f"{where}.file_url",
        )
    file: ApiObject = {"type": "input_file"}
    file.update(_file_or_inline(account, part, where, "file_data"))
    if part.get("filename") is not None:
        expect_type(part["filename"], str, f"{where}.filename", "a string")
        file["filename"] = part["filename"]
    return file


def _file_or_inline(account: Account, part: ApiObject, where: str, inline: str) -> ApiObject:
    """A part's ``file_id`` (an existing file), else its inline field (``image_url``,
    ``file_data``): one of the two is required."""
    if part.get("file_id") is not None:
        return {"file_id": existing_file(account, part["file_id"], f"{where}.file_id")}
    if part.get(inline) is None:
        raise InvalidRequest(
            f"Missing required parameter: '{where}.{inline}' (or '{where}.file_id').",
            param=f"{where}.{inline}",
        )
    expect_type(part[inline], str, f"{where}.{inline}", "a string")
    return {inline: part[inline]}


def _call_output(account: Account, output: Any, where: str) -> str | list[ApiObject]:
    """A function call's output: a string, or content parts (text, images, files)."""
    if isinstance(output, str):
        return output
    expect_type(output, list, where, "a string or an array")
    parts = []
    for part_where, part in objects_in(output, where, MAX_CONTENT_PARTS):
        kind = one_of(part.get("type"), f"{part_where}.type", INPUT_PARTS)
        parts.append(_part(account, "user", kind, part, part_where))
    return parts


def _earlier_tool_call(item: ApiObject, where: str) -> ApiObject:
    """A file-search or code-interpreter call an earlier response made, sent back as input:
    kept as it was (engines do not read them)."""
    if item["type"] == "file_search_call":
        reject_unknown(item, ("type", "id", "queries", "status", "results"), where)
        queries = require(item, "queries", where)
        expect_type(queries, list, f"{where}.queries", "an array")
        fields: tuple[str, ...] = ("queries", "results")
    else:
        reject_unknown(item, ("type", "id", "code", "container_id", "outputs", "status"), where)
        fields = ("code", "container_id", "outputs")
    if not isinstance(item.get("id"), str):
        raise InvalidRequest(f"Missing required parameter: '{where}.id'.", param=f"{where}.id")
    parsed = {"type": item["type"], **{key: item.get(key) for key in fields}}
    parsed["status"] = one_of(
        item.get("status", "completed"), f"{where}.status", (*STATUSES, "failed")
    )
    return parsed


def _with_id_and_status(parsed: ApiObject, item: ApiObject, where: str) -> ApiObject:
    if item.get("id") is not None:
        expect_type(item["id"], str, f"{where}.id", "a string")
        parsed = {"id": item["id"], **parsed}
    if "status" not in parsed and item.get("status") is not None:
        parsed["status"] = one_of(item["status"], f"{where}.status", STATUSES)
    return parsed


def _strings(item: ApiObject, where: str, names: tuple[str, ...]) -> ApiObject:
    found = {}
    for name in names:
        value = item.get(name)
        if value is None:
            raise InvalidRequest(
                f"Missing required parameter: '{where}.{name}'.", param=f"{where}.{name}"
            )
        expect_type(value, str, f"{where}.{name}", "a string")
        found[name] = value
    return found


def _texts(item: ApiObject, name: str, where: str, kind: str) -> list[ApiObject]:
    texts = []
    for part_where, part in objects_in(item.get(name) or [], f"{where}.{name}", MAX_CONTENT_PARTS):
        one_of(part.get("type"), f"{part_where}.type", (kind,))
        text = require(part, "text", part_where)
        expect_type(text, str, f"{part_where}.text", "a string")
        texts.append({"type": kind, "text": text})
    return texts


def existing_file(account: Account, file_id: Any, where: str) -> str:
    """A file id the request names at ``where``, which must exist (the API's 404)."""
    expect_type(file_id, str, where, "a string")
    if not account.files.exists(file_id):
        raise NotFound(f"No such File object: {file_id}", param=where)
    return str(file_id)


def _message(role: str, content: list[ApiObject]) -> ApiObject:
    return {"type": "message", "role": role, "content": content}


def _text_part(kind: str, text: str, annotations: list[Any] | None = None) -> ApiObject:
    if kind == "output_text":
        return {"type": kind, "text": text, "annotations": annotations or [], "logprobs": []}
    return {"type": kind, "text": text}
