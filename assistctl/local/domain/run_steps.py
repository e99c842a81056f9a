"""What a run writes and how the API shows it: run steps, the run's assistant message, stream
deltas, and tool calls as step entries. Pure functions: the recorder stores what they build."""

from __future__ import annotations

import re

from assistctl.local.domain.code_interpreter import code_images, file_mentions
from assistctl.local.domain.records import MESSAGE, RUN_STEP, ApiObject, new_id, now, public
from assistctl.local.engines import CodeInterpreterCall, FileSearchCall, ServerToolCall

DELTA_WORDS = 6


def public_step(step: ApiObject, include_content: bool) -> ApiObject:
    """A step as the API shows it: file-search result content only when ``include``d."""
    view = public(step)
    if include_content:
        return view
    details = view.get("step_details") or {}
    if details.get("type") != "tool_calls":
        return view
    calls = []
    for call in details.get("tool_calls") or []:
        if call.get("type") == "file_search" and call["file_search"].get("results"):
            results = [
                {k: v for k, v in r.items() if k != "content"}
                for r in call["file_search"]["results"]
            ]
            call = {**call, "file_search": {**call["file_search"], "results": results}}
        calls.append(call)
    return {**view, "step_details": {**details, "tool_calls": calls}}


def new_step(run: ApiObject, kind: str, details: ApiObject) -> ApiObject:
    return {
        "id": new_id("step"),
        "object": RUN_STEP,
        "created_at": now(),
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "run_id": run["id"],
        "type": kind,
        "status": "in_progress",
        "step_details": details,
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "metadata": {},
        "usage": None,
    }


def new_message(run: ApiObject) -> ApiObject:
    """The run's assistant message, ``in_progress`` and still empty."""
    return {
        "id": new_id("msg"),
        "object": MESSAGE,
        "created_at": now(),
        "thread_id": run["thread_id"],
        "status": "in_progress",
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "role": "assistant",
        "content": [],
        "assistant_id": run["assistant_id"],
        "run_id": run["id"],
        "attachments": [],
        "metadata": {},
    }


def message_delta(message_id: str, text: ApiObject) -> ApiObject:
    return {
        "id": message_id,
        "object": "thread.message.delta",
        "delta": {"content": [{"index": 0, "type": "text", "text": text}]},
    }


def message_creation_details(message_id: str) -> ApiObject:
    return {"type": "message_creation", "message_creation": {"message_id": message_id}}


def tool_call_body(call: ServerToolCall) -> ApiObject:
    """A server-side tool call as a run step's ``tool_calls`` entry."""
    if isinstance(call, FileSearchCall):
        results = [
            {
                "file_id": r.file_id,
                "file_name": r.file_name,
                "score": round(r.score, 6),
                "content": [{"type": "text", "text": r.text}],
            }
            for r in call.results
        ]
        return {
            "id": call.id,
            "type": "file_search",
            "file_search": {"ranking_options": dict(call.ranking_options), "results": results},
        }
    assert isinstance(call, CodeInterpreterCall)
    outputs: list[ApiObject] = [{"type": "logs", "logs": call.logs}]
    outputs += [{"type": "image", "image": {"file_id": image}} for image in call.image_file_ids]
    return {
        "id": call.id,
        "type": "code_interpreter",
        "code_interpreter": {"input": call.input, "outputs": outputs},
    }


def answer_parts(
    text: str, annotations: list[ApiObject], calls: tuple[ServerToolCall, ...]
) -> tuple[list[ApiObject], list[ApiObject]]:
    """An answer's annotations with a ``file_path`` one wherever it links a file the code
    wrote (in text order), and the ``image_file`` parts of the images the code showed (they
    follow the text part)."""
    linked = [
        {
            "type": "file_path",
            "text": mention.text,
            "start_index": mention.start,
            "end_index": mention.end,
            "file_path": {"file_id": mention.file.file_id},
        }
        for mention in file_mentions(text, calls)
    ]
    ordered = sorted(annotations + linked, key=lambda a: a["start_index"])
    images = [{"type": "image_file", "image_file": {"file_id": f}} for f in code_images(calls)]
    return ordered, images


def text_pieces(text: str) -> list[str]:
    """An answer cut into a few words per piece (what one stream delta carries); the pieces
    join to the whole text."""
    words = re.findall(r"\s*\S+", text) or [text]
    chunks = ["".join(words[i : i + DELTA_WORDS]) for i in range(0, len(words), DELTA_WORDS)]
    if chunks and len("".join(chunks)) < len(text):
        chunks[-1] += text[len("".join(chunks)) :]
    return chunks


def text_deltas(text: str, annotations: list[ApiObject]) -> list[ApiObject]:
    """The answer in ``text_pieces``; each annotation rides on the delta that completes its
    marker, so an SDK accumulating deltas ends with the stored message."""
    chunks = text_pieces(text)
    deltas = []
    offset = 0
    for chunk in chunks:
        end = offset + len(chunk)
        riding = [
            {"index": i, **a}
            for i, a in enumerate(annotations)
            if offset < a["end_index"] <= end or (offset == 0 and a["end_index"] == 0)
        ]
        text_delta: ApiObject = {"value": chunk}
        if riding:
            text_delta["annotations"] = riding
        deltas.append({"content": [{"index": 0, "type": "text", "text": text_delta}]})
        offset = end
    return deltas
