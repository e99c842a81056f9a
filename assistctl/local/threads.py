"""``/v1/threads`` and ``/v1/threads/{thread_id}/messages``.

Storage: ``thread`` objects at the top level, ``thread.message`` children of their thread in
creation order (so list order is conversation order). Runs live under their thread as
``thread.run`` and their steps under the run as ``thread.run.step`` (runs.py); deleting a
thread deletes all of them. ``create_thread`` and ``create_message`` are shared with the run
endpoints (``/v1/threads/runs`` creates a thread; the engine posts assistant messages).

Attachments are applied to the thread as the API does: ``file_search`` files join the thread's
vector store (created on first use, expiring after 7 idle days) and are indexed there, so runs
search them with the assistant's stores; ``code_interpreter`` files join its
``tool_resources.code_interpreter.file_ids``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from assistctl.local.assistants import validate_tool_resources
from assistctl.local.domain.records import new_id, now
from assistctl.local.http import (
    account_of,
    bad_request,
    check_array_length,
    endpoint,
    expect_type,
    get_or_404,
    list_params,
    one_of,
    page,
    reject_unknown,
    require,
    validate_metadata,
)
from assistctl.local.vector_stores import AUTO_CHUNKING, attach, create_vector_store
from assistctl.local.vector_stores import STORE as VECTOR_STORE

THREAD = "thread"
MESSAGE = "thread.message"
RUN = "thread.run"
RUN_STEP = "thread.run.step"
MAX_THREAD_MESSAGES = 32
MAX_MESSAGE_LENGTH = 256_000
MAX_ATTACHMENTS = 10
MESSAGE_FIELDS = ("role", "content", "attachments", "metadata")
THREAD_STORE_EXPIRY = {"anchor": "last_active_at", "days": 7}  # the API's thread-created stores


def get_thread(account, thread_id: str) -> dict[str, Any]:
    return get_or_404(account, THREAD, thread_id, "thread")


def get_message(account, thread_id: str, message_id: str) -> dict[str, Any]:
    return get_or_404(
        account,
        MESSAGE,
        message_id,
        "message",
        thread_id,
        check_parent=lambda: get_thread(account, thread_id),
    )


def text_part(value: str) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def validate_content(account, value: Any, param: str = "content") -> list[dict[str, Any]]:
    """A string or content parts (text, image_file, image_url) as stored message content."""
    if isinstance(value, str):
        if len(value) > MAX_MESSAGE_LENGTH:
            raise bad_request(
                f"Invalid '{param}': string too long. Expected a string with maximum length "
                f"{MAX_MESSAGE_LENGTH}, but got a string with length {len(value)} instead.",
                param,
            )
        return [text_part(value)]
    expect_type(value, list, param, "a string or an array of content parts")
    if not value:
        raise bad_request(f"Invalid '{param}': empty array. Expected at least 1 part.", param)
    parts = []
    for index, part in enumerate(value):
        where = f"{param}[{index}]"
        expect_type(part, dict, where, "an object")
        kind = one_of(part.get("type"), f"{where}.type", ("text", "image_file", "image_url"))
        if kind == "text":
            text = part.get("text")
            expect_type(text, str, f"{where}.text", "a string")
            parts.append(text_part(text))
        elif kind == "image_file":
            image = part.get("image_file")
            expect_type(image, dict, f"{where}.image_file", "an object")
            file_id = image.get("file_id")
            if not isinstance(file_id, str) or account.store.get("file", file_id) is None:
                raise bad_request(
                    f"Invalid '{where}.image_file.file_id': no file with id '{file_id}'.",
                    f"{where}.image_file.file_id",
                )
            parts.append(
                {
                    "type": "image_file",
                    "image_file": {"file_id": file_id, "detail": image.get("detail", "auto")},
                }
            )
        else:
            image = part.get("image_url")
            expect_type(image, dict, f"{where}.image_url", "an object")
            expect_type(image.get("url"), str, f"{where}.image_url.url", "a string")
            parts.append(
                {
                    "type": "image_url",
                    "image_url": {"url": image["url"], "detail": image.get("detail", "auto")},
                }
            )
    return parts


def validate_attachments(account, value: Any, param: str = "attachments") -> list[dict[str, Any]]:
    if value is None:
        return []
    expect_type(value, list, param, "an array")
    check_array_length(value, param, MAX_ATTACHMENTS)
    attachments = []
    for index, attachment in enumerate(value):
        where = f"{param}[{index}]"
        expect_type(attachment, dict, where, "an object")
        reject_unknown(attachment, ("file_id", "tools"))
        file_id = attachment.get("file_id")
        if not isinstance(file_id, str) or account.store.get("file", file_id) is None:
            raise bad_request(f"Invalid '{where}.file_id': no file with id '{file_id}'.", where)
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


def create_message(
    account,
    thread_id: str,
    body: dict[str, Any],
    param: str = "",
    *,
    assistant_id: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Validate and store one message (``param`` prefixes field names in errors)."""
    prefix = f"{param}." if param else ""
    expect_type(body, dict, param or "body", "an object")
    reject_unknown(body, MESSAGE_FIELDS)
    require(body, "role")
    role = one_of(body.get("role"), f"{prefix}role", ("user", "assistant"))
    if body.get("content") is None:
        raise bad_request(f"Missing required parameter: '{prefix}content'.", f"{prefix}content")
    created_at = now()
    message = {
        "id": new_id("msg"),
        "object": "thread.message",
        "created_at": created_at,
        "thread_id": thread_id,
        "status": "completed",
        "incomplete_details": None,
        "completed_at": created_at,
        "incomplete_at": None,
        "role": role,
        "content": validate_content(account, body["content"], f"{prefix}content"),
        "assistant_id": assistant_id,
        "run_id": run_id,
        "attachments": validate_attachments(
            account, body.get("attachments"), f"{prefix}attachments"
        ),
        "metadata": validate_metadata(body.get("metadata"), f"{prefix}metadata"),
    }
    with account.store.transaction():
        account.store.insert(MESSAGE, message, thread_id)
        apply_attachments(account, thread_id, message["attachments"])
    return message


def _files_for(attachments: list[dict[str, Any]], tool: str) -> list[str]:
    return list(
        dict.fromkeys(
            a["file_id"] for a in attachments if any(t["type"] == tool for t in a["tools"])
        )
    )


def apply_attachments(account, thread_id: str, attachments: list[dict[str, Any]]) -> None:
    """Make attached files usable by the thread's runs, as the API does (see the module doc).
    A store id the thread names that no longer exists is replaced by a new store."""
    search_files = _files_for(attachments, "file_search")
    code_files = _files_for(attachments, "code_interpreter")
    if not search_files and not code_files:
        return
    with account.store.transaction():
        thread = get_thread(account, thread_id)
        resources = thread.get("tool_resources") or {}
        if code_files:
            known = (resources.get("code_interpreter") or {}).get("file_ids") or []
            resources["code_interpreter"] = {"file_ids": list(dict.fromkeys(known + code_files))}
        if search_files:
            store_ids = (resources.get("file_search") or {}).get("vector_store_ids") or []
            existing = [i for i in store_ids if account.store.get(VECTOR_STORE, i) is not None]
            if existing:
                for file_id in search_files:
                    attach(account, existing[0], file_id, {}, AUTO_CHUNKING)
            else:
                created = create_vector_store(
                    account, {"file_ids": search_files, "expires_after": THREAD_STORE_EXPIRY}
                )
                resources["file_search"] = {"vector_store_ids": [created["id"]]}
        thread["tool_resources"] = resources
        account.store.put(THREAD, thread)


def create_thread(account, body: dict[str, Any]) -> dict[str, Any]:
    """Validate and store a thread with its initial ``messages`` in one transaction."""
    expect_type(body, dict, "thread", "an object")
    reject_unknown(body, ("messages", "tool_resources", "metadata"))
    messages = body.get("messages") or []
    expect_type(messages, list, "messages", "an array")
    check_array_length(messages, "messages", MAX_THREAD_MESSAGES)
    with account.store.transaction():
        thread = {
            "id": new_id("thread"),
            "object": "thread",
            "created_at": now(),
            "metadata": validate_metadata(body.get("metadata")),
            "tool_resources": validate_tool_resources(account, body.get("tool_resources")),
        }
        account.store.insert(THREAD, thread)
        for index, message in enumerate(messages):
            create_message(account, thread["id"], message, f"messages[{index}]")
        return get_thread(account, thread["id"])  # as its messages' attachments left it


def delete_thread_tree(account, thread_id: str) -> None:
    """A thread with its messages, runs and run steps."""
    with account.store.transaction():
        for run in account.store.all(RUN, thread_id):
            account.store.delete_children(RUN_STEP, run["id"])
        account.store.delete_children(RUN, thread_id)
        account.store.delete_children(MESSAGE, thread_id)
        account.store.delete(THREAD, thread_id)


# --- endpoints: threads ------------------------------------------------------------------------


def create(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    return create_thread(account_of(request), body)


def retrieve(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    return get_thread(account_of(request), request.path_params["thread_id"])


def modify(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, ("tool_resources", "metadata"))
    account = account_of(request)
    with account.store.transaction():
        thread = get_thread(account, request.path_params["thread_id"])
        if "metadata" in body:
            thread["metadata"] = validate_metadata(body["metadata"])
        if "tool_resources" in body:
            thread["tool_resources"] = validate_tool_resources(account, body["tool_resources"])
        return account.store.put(THREAD, thread)


def delete(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    thread_id = request.path_params["thread_id"]
    get_thread(account, thread_id)
    delete_thread_tree(account, thread_id)
    return {"id": thread_id, "object": "thread.deleted", "deleted": True}


# --- endpoints: messages -------------------------------------------------------------------------


def create_message_endpoint(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    from assistctl.local.runs import active_run  # runs build on threads, not the reverse

    account = account_of(request)
    thread_id = request.path_params["thread_id"]
    with account.store.transaction():
        get_thread(account, thread_id)
        run = active_run(account, thread_id)
        if run is not None:
            raise bad_request(
                f"Can't add messages to {thread_id} while a run {run['id']} is active."
            )
        return create_message(account, thread_id, body)


def list_messages(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    thread_id = request.path_params["thread_id"]
    get_thread(account, thread_id)
    run_id = request.query_params.get("run_id")
    where = (lambda message: message.get("run_id") == run_id) if run_id else None
    return page(account.store, MESSAGE, thread_id, list_params(request), where)


def retrieve_message(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    return get_message(account, request.path_params["thread_id"], request.path_params["message_id"])


def modify_message(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, ("metadata",))
    account = account_of(request)
    thread_id = request.path_params["thread_id"]
    with account.store.transaction():
        message = get_message(account, thread_id, request.path_params["message_id"])
        if "metadata" in body:
            message["metadata"] = validate_metadata(body["metadata"])
        return account.store.put(MESSAGE, message, thread_id)


def delete_message(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    account = account_of(request)
    thread_id = request.path_params["thread_id"]
    message_id = request.path_params["message_id"]
    with account.store.transaction():
        get_message(account, thread_id, message_id)
        account.store.delete(MESSAGE, message_id, thread_id)
    return {"id": message_id, "object": "thread.message.deleted", "deleted": True}


def routes() -> list[Route]:
    base = "/v1/threads/{thread_id}"
    return [
        Route("/v1/threads", endpoint(create), methods=["POST"]),
        Route(base, endpoint(retrieve), methods=["GET"]),
        Route(base, endpoint(modify), methods=["POST"]),
        Route(base, endpoint(delete), methods=["DELETE"]),
        Route(f"{base}/messages", endpoint(create_message_endpoint), methods=["POST"]),
        Route(f"{base}/messages", endpoint(list_messages), methods=["GET"]),
        Route(f"{base}/messages/{{message_id}}", endpoint(retrieve_message), methods=["GET"]),
        Route(f"{base}/messages/{{message_id}}", endpoint(modify_message), methods=["POST"]),
        Route(f"{base}/messages/{{message_id}}", endpoint(delete_message), methods=["DELETE"]),
    ]
