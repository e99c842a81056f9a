"""``/v1/threads`` and ``/v1/threads/{thread_id}/messages``, validated as the API does."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.api.endpoints import Body, account_of, endpoint, page_request
from assistctl.local.api.tool_resources import parse_tool_resources
from assistctl.local.api.validation import (
    check_array_length,
    expect_type,
    image_detail,
    objects_in,
    one_of,
    reject_unknown,
    require,
    validate_metadata,
)
from assistctl.local.domain import (
    Account,
    InvalidRequest,
    JsonText,
    NewMessage,
    NewThread,
    text_part,
)

MAX_THREAD_MESSAGES = 32
MAX_MESSAGE_LENGTH = 256_000
MAX_ATTACHMENTS = 10
MESSAGE_FIELDS = ("role", "content", "attachments", "metadata")


# --- validation ----------------------------------------------------------------------------


def parse_message(account: Account, body: Any, param: str = "") -> NewMessage:
    """A message to add (``param`` prefixes field names in errors, e.g. ``messages[0]``)."""
    prefix = f"{param}." if param else ""
    expect_type(body, dict, param or "body", "an object")
    reject_unknown(body, MESSAGE_FIELDS)
    require(body, "role")
    role = one_of(body.get("role"), f"{prefix}role", ("user", "assistant"))
    if body.get("content") is None:
        raise InvalidRequest(f"Missing required parameter: '{prefix}content'.", f"{prefix}content")
    content = parse_content(account, body["content"], f"{prefix}content")
    attachments = parse_attachments(account, body.get("attachments"), f"{prefix}attachments")
    metadata = validate_metadata(body.get("metadata"), f"{prefix}metadata")
    return NewMessage(role, tuple(content), tuple(attachments), metadata)


def parse_thread(account: Account, body: Any) -> NewThread:
    """A thread to create, with its first ``messages``."""
    expect_type(body, dict, "thread", "an object")
    reject_unknown(body, ("messages", "tool_resources", "metadata"))
    messages = body.get("messages") or []
    expect_type(messages, list, "messages", "an array")
    check_array_length(messages, "messages", MAX_THREAD_MESSAGES)
    metadata = validate_metadata(body.get("metadata"))
    tool_resources = parse_tool_resources(account, body.get("tool_resources"))
    return NewThread(
        metadata,
        tool_resources,
        tuple(
            parse_message(account, message, f"messages[{index}]")
            for index, message in enumerate(messages)
        ),
    )


def parse_content(account: Account, value: Any, param: str = "content") -> list[Body]:
    """A string or content parts (text, image_file, image_url) as stored message content."""
    if isinstance(value, str):
        if len(value) > MAX_MESSAGE_LENGTH:
            raise InvalidRequest(
                f"Invalid '{param}': string too long. Expected a string with maximum length "
                f"{MAX_MESSAGE_LENGTH}, but got a string with length {len(value)} instead.",
                param,
            )
        return [text_part(value)]
    expect_type(value, list, param, "a string or an array of content parts")
    if not value:
        raise InvalidRequest(f"Invalid '{param}': empty array. Expected at least 1 part.", param)
    parts = []
    for index, part in enumerate(value):
        where = f"{param}[{index}]"
        expect_type(part, dict, where, "an object")
        kind = one_of(part.get("type"), f"{where}.type", ("text", "image_file", "image_url"))
        reject_unknown(part, ("type", kind))
        if kind == "text":
            text = part.get("text")
            expect_type(text, str, f"{where}.text", "a string")
            parts.append(text_part(text))
        elif kind == "image_file":
            image = part.get("image_file")
            expect_type(image, dict, f"{where}.image_file", "an object")
            reject_unknown(image, ("file_id", "detail"))
            detail = image_detail(image, f"{where}.image_file")
            file_id = image.get("file_id")
            if not isinstance(file_id, str) or not account.files.exists(file_id):
                raise InvalidRequest(
                    f"Invalid '{where}.image_file.file_id': no file with id '{file_id}'.",
                    f"{where}.image_file.file_id",
                )
            parts.append(
                {
                    "type": "image_file",
                    "image_file": {"file_id": file_id, "detail": detail},
                }
            )
        else:
            image = part.get("image_url")
            expect_type(image, dict, f"{where}.image_url", "an object")
            reject_unknown(image, ("url", "detail"))
            expect_type(image.get("url"), str, f"{where}.image_url.url", "a string")
            detail = image_detail(image, f"{where}.image_url")
            parts.append(
                {"type": "image_url", "image_url": {"url": image["url"], "detail": detail}}
            )
    return parts


def parse_attachments(account: Account, value: Any, param: str = "attachments") -> list[Body]:
    if value is None:
        return []
    attachments = []
    for where, attachment in objects_in(value, param, MAX_ATTACHMENTS):
        reject_unknown(attachment, ("file_id", "tools"))
        file_id = attachment.get("file_id")
        if not isinstance(file_id, str) or not account.files.exists(file_id):
            raise InvalidRequest(f"Invalid '{where}.file_id': no file with id '{file_id}'.", where)
        tools = attachment.get("tools") or []
        expect_type(tools, list, f"{where}.tools", "an array")
        for tool_index, tool in enumerate(tools):
            expect_type(tool, dict, f"{where}.tools[{tool_index}]", "an object")
            one_of(
                tool.get("type"),
                f"{where}.tools[{tool_index}].type",
                ("code_interpreter", "file_search"),
            )
        attachments.append({"file_id": file_id, "tools": [{"type": t["type"]} for t in tools]})
    return attachments


# --- endpoints: threads ------------------------------------------------------------------


def create(request: Request, body: Body) -> Body:
    account = account_of(request)
    return account.threads.create(parse_thread(account, body))


def retrieve(request: Request, body: Body) -> JsonText:
    return account_of(request).threads.get_json(request.path_params["thread_id"])


def modify(request: Request, body: Body) -> Body:
    reject_unknown(body, ("tool_resources", "metadata"))
    account = account_of(request)
    with account.transaction():
        thread = account.threads.get(request.path_params["thread_id"])
        metadata = validate_metadata(body["metadata"]) if "metadata" in body else None
        tool_resources = (
            parse_tool_resources(account, body["tool_resources"])
            if "tool_resources" in body
            else None
        )
        return account.threads.update(thread, metadata, tool_resources)


def delete(request: Request, body: Body) -> Body:
    thread_id = request.path_params["thread_id"]
    account_of(request).threads.delete(thread_id)
    return {"id": thread_id, "object": "thread.deleted", "deleted": True}


# --- endpoints: messages -----------------------------------------------------------------


def create_message(request: Request, body: Body) -> Body:
    account = account_of(request)
    thread_id = request.path_params["thread_id"]
    with account.transaction():
        account.threads.get(thread_id)
        account.runs.refuse_messages_while_active(thread_id)
        return account.threads.add_message(thread_id, parse_message(account, body))


def list_messages(request: Request, body: Body) -> JsonText:
    threads = account_of(request).threads
    thread_id = request.path_params["thread_id"]
    threads.get_json(thread_id)  # its 404; the thread itself is not needed
    run_id = request.query_params.get("run_id")
    return threads.messages_page(thread_id, page_request(request), run_id)


def retrieve_message(request: Request, body: Body) -> JsonText:
    params = request.path_params
    return account_of(request).threads.get_message_json(params["thread_id"], params["message_id"])


def modify_message(request: Request, body: Body) -> Body:
    reject_unknown(body, ("metadata",))
    account = account_of(request)
    params = request.path_params
    with account.transaction():
        message = account.threads.get_message(params["thread_id"], params["message_id"])
        metadata = validate_metadata(body["metadata"]) if "metadata" in body else None
        return account.threads.update_message(message, metadata)


def delete_message(request: Request, body: Body) -> Body:
    params = request.path_params
    account_of(request).threads.delete_message(params["thread_id"], params["message_id"])
    return {"id": params["message_id"], "object": "thread.message.deleted", "deleted": True}


def routes() -> list[Route]:
    base = "/v1/threads/{thread_id}"
    return [
        Route("/v1/threads", endpoint(create), methods=["POST"]),
        Route(base, endpoint(retrieve, inline=True), methods=["GET"]),
        Route(base, endpoint(modify), methods=["POST"]),
        Route(base, endpoint(delete), methods=["DELETE"]),
        Route(f"{base}/messages", endpoint(create_message), methods=["POST"]),
        Route(f"{base}/messages", endpoint(list_messages, inline=True), methods=["GET"]),
        Route(
            f"{base}/messages/{{message_id}}",
            endpoint(retrieve_message, inline=True),
            methods=["GET"],
        ),
        Route(f"{base}/messages/{{message_id}}", endpoint(modify_message), methods=["POST"]),
        Route(f"{base}/messages/{{message_id}}", endpoint(delete_message), methods=["DELETE"]),
    ]
