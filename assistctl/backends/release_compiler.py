"""An assistant, compiled into a release (a Responses request template), and back.

The Responses-era backend serves the ``assistants`` collection from release files, so the rest
of assistctl keeps speaking assistant objects: ``compile_request`` turns an assistant request
(what the planner sends: model, instructions, tools, tool_resources with ids resolved,
sampling, response_format, reasoning_effort, the run settings, metadata) into the keyword
arguments of ``responses.create``; ``assistant_of`` reads a release back as the assistant object
it was compiled from. ``compile_request(assistant_of(x))`` is ``x`` for every release assistctl
writes, which is how a release edited by hand is told apart (``alteration``).

What the Responses API cannot hold is refused here, before anything is written (``PlanError``):
a file_search tool without a vector store, the Assistants-only ranker, more metadata keys than
the release leaves room for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assistctl import release
from assistctl.errors import PlanError
from assistctl.model import MAX_METADATA_KEYS, NAME_KEY, STACK_KEY, ownership

# Written explicitly, so the app's behaviour never depends on the platform's defaults: what an
# Assistants run did unless told otherwise. With ``max_output_tokens``, what only a release holds
# (the Assistants API set them per run): ``AssistantsBackend.check`` refuses them.
TOOL_CHOICE = "auto"
PARALLEL_TOOL_CALLS = True
RUN_SETTINGS = {
    "tool_choice": TOOL_CHOICE,
    "parallel_tool_calls": PARALLEL_TOOL_CALLS,
    "max_output_tokens": None,
}
RELEASE_METADATA_KEYS = (STACK_KEY, NAME_KEY, release.DIGEST_KEY)
ASSISTANTS_ONLY_RANKERS = frozenset({"default_2024_08_21"})


def compile_request(assistant: Mapping[str, Any]) -> dict[str, Any]:
    """The Responses request an assistant's settings describe (ids may still be plan
    references: nothing here looks inside them)."""
    label = _label(assistant)
    resources = assistant.get("tool_resources") or {}
    request: dict[str, Any] = {"model": assistant.get("model")}
    if assistant.get("instructions") is not None:
        request["instructions"] = assistant["instructions"]
    request["tools"] = [_tool(tool, resources, label) for tool in assistant.get("tools") or ()]
    choice = assistant.get("tool_choice")
    request["tool_choice"] = TOOL_CHOICE if choice is None else choice
    parallel = assistant.get("parallel_tool_calls")
    request["parallel_tool_calls"] = PARALLEL_TOOL_CALLS if parallel is None else parallel
    text_format = _text_format(assistant.get("response_format"))
    if text_format is not None:
        request["text"] = {"format": text_format}
    request["temperature"] = assistant.get("temperature", 1.0)
    request["top_p"] = assistant.get("top_p", 1.0)
    if assistant.get("reasoning_effort") is not None:
        request["reasoning"] = {"effort": assistant["reasoning_effort"]}
    if assistant.get("max_output_tokens") is not None:
        request["max_output_tokens"] = assistant["max_output_tokens"]
    request["metadata"] = _metadata(assistant.get("metadata") or {}, label)
    return request


def compile_document(assistant: Mapping[str, Any]) -> dict[str, Any]:
    """The release file's content (see ``assistctl.release.document``)."""
    return release.document(
        compile_request(assistant),
        display_name=assistant.get("name"),
        description=assistant.get("description"),
    )


def assistant_of(content: Mapping[str, Any], release_id: str) -> dict[str, Any]:
    """A release file read back as the assistant object it was compiled from. Raises
    ``KeyError``/``TypeError``/``ValueError`` for content that is no release."""
    if content.get("format") != release.FORMAT:
        raise ValueError(f"format is not {release.FORMAT!r}")
    request = content["request"]
    assistant_fields = content.get("assistant") or {}
    tools: list[dict[str, Any]] = []
    resources: dict[str, Any] = {}
    for tool in request.get("tools") or ():
        kind = tool["type"]
        if kind == "file_search":
            options = {k: tool[k] for k in ("max_num_results", "ranking_options") if k in tool}
            tools.append({"type": "file_search", "file_search": options})
            resources["file_search"] = {"vector_store_ids": list(tool["vector_store_ids"])}
        elif kind == "code_interpreter":
            tools.append({"type": "code_interpreter"})
            resources["code_interpreter"] = {"file_ids": list(tool["container"]["file_ids"])}
        elif kind == "function":
            function = {key: tool[key] for key in ("name", "description") if key in tool}
            function["parameters"] = tool["parameters"]
            function["strict"] = tool["strict"]
            tools.append({"type": "function", "function": function})
        else:
            tools.append(dict(tool))
    text_format = (request.get("text") or {}).get("format")
    metadata = dict(request["metadata"])  # with the digest: apps read it through `output`
    return {
        "id": release_id,
        "object": "assistant",
        "created_at": 0,
        "name": assistant_fields.get("name"),
        "description": assistant_fields.get("description"),
        "model": request["model"],
        "instructions": request.get("instructions"),
        "tools": tools,
        "tool_resources": resources,
        "temperature": request["temperature"],
        "top_p": request["top_p"],
        "response_format": _response_format(text_format),
        "reasoning_effort": (request.get("reasoning") or {}).get("effort"),
        "tool_choice": request["tool_choice"],
        "parallel_tool_calls": request["parallel_tool_calls"],
        "max_output_tokens": request.get("max_output_tokens"),
        "metadata": metadata,
    }


def alteration(content: Mapping[str, Any], assistant: Mapping[str, Any]) -> str | None:
    """Why a release file is not what assistctl would write for the assistant it reads as
    (edited by hand), or None when it is."""
    if content.get("digest") != release.request_digest(content.get("request") or {}):
        return "the release file does not match its digest: it was edited after apply wrote it"
    try:
        recompiled = compile_document(assistant)
    except PlanError as problem:
        return f"the release file holds what a release cannot: {problem.message}"
    if recompiled != content:
        changed = sorted(
            {
                *(k for k in content if recompiled.get(k) != content.get(k)),
                *(k for k in recompiled if k not in content),
            }
        )
        return (
            "the release file holds settings assistctl does not write "
            f"(in {', '.join(changed)}): it was edited after apply wrote it"
        )
    return None


# --- the parts ---------------------------------------------------------------------------------


def _label(assistant: Mapping[str, Any]) -> str:
    _, name = ownership(assistant.get("metadata"))
    return f"assistant.{name}" if name else "the assistant"


def _tool(tool: Mapping[str, Any], resources: Mapping[str, Any], label: str) -> dict[str, Any]:
    kind = tool.get("type")
    if kind == "file_search":
        stores = list((resources.get("file_search") or {}).get("vector_store_ids") or ())
        if not stores:
            raise PlanError(
                f"{label}: a file_search tool needs a vector store in responses mode (the "
                "Responses API searches the stores the request names, and there are no "
                "thread-level stores)",
                hint="name one under spec.tool_resources.file_search.vector_stores",
            )
        compiled: dict[str, Any] = {"type": "file_search", "vector_store_ids": stores}
        options = tool.get("file_search") or {}
        if options.get("max_num_results") is not None:
            compiled["max_num_results"] = options["max_num_results"]
        ranking = options.get("ranking_options")
        if ranking is not None:
            if ranking.get("ranker") in ASSISTANTS_ONLY_RANKERS:
                raise PlanError(
                    f"{label}: the ranker {ranking['ranker']} exists only in the Assistants "
                    "API; the Responses API ranks with auto",
                    hint="use ranker: auto (or leave it out) in responses mode",
                )
            compiled["ranking_options"] = dict(ranking)
        return compiled
    if kind == "code_interpreter":
        files = list((resources.get("code_interpreter") or {}).get("file_ids") or ())
        return {"type": "code_interpreter", "container": {"type": "auto", "file_ids": files}}
    if kind == "function":
        function = tool.get("function") or {}
        compiled = {"type": "function", "name": function.get("name")}
        if function.get("description"):
            compiled["description"] = function["description"]
        compiled["parameters"] = function.get("parameters")
        # The Responses API makes functions strict unless told otherwise; Assistants did not.
        compiled["strict"] = bool(function.get("strict") or False)
        return compiled
    return dict(tool)


def _text_format(response_format: Any) -> dict[str, Any] | None:
    """``response_format`` as ``text.format``; ``auto`` (the default) sets none."""
    if response_format is None or response_format == "auto":
        return None
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema") or {}
        return {"type": "json_schema", **schema}
    return dict(response_format)


def _response_format(text_format: Mapping[str, Any] | None) -> Any:
    if text_format is None:
        return "auto"
    if text_format.get("type") == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {k: v for k, v in text_format.items() if k != "type"},
        }
    return dict(text_format)


def _metadata(metadata: Mapping[str, Any], label: str) -> dict[str, Any]:
    user = [key for key in metadata if not str(key).startswith("assistctl_")]
    room = MAX_METADATA_KEYS - len(RELEASE_METADATA_KEYS)
    if len(user) > room:
        raise PlanError(
            f"{label}: {len(user)} metadata keys; a release has room for {room} (the Responses "
            f"API allows {MAX_METADATA_KEYS} and the release records "
            f"{', '.join(RELEASE_METADATA_KEYS)})",
            hint="drop a metadata key from the Assistant, or keep the stack in assistants mode",
        )
    return dict(sorted(metadata.items()))
