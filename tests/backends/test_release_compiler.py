"""Assistant -> release -> assistant: every manifest field lands where the Responses API reads
it, reads back to what it was compiled from, and what a release cannot express is refused."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from assistctl import release
from assistctl.backends.release_compiler import (
    alteration,
    assistant_of,
    compile_document,
    compile_request,
)
from assistctl.errors import PlanError
from assistctl.kinds.assistant import AssistantSpec
from assistctl.model import Live, Ref, Verb
from assistctl.plan import plan
from tests import builders

OWNER = "support"
SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}


def planned_body(view: Mapping[str, Any], files: tuple = ()) -> dict[str, Any]:
    """The create request the planner sends for an assistant, ids filled in."""
    stores = [
        builders.desired_store(name, {"name": name})
        for name in (view.get("tool_resources") or {})
        .get("file_search", {})
        .get("vector_stores", [])
    ]
    assistant = builders.desired_assistant("bot", {"name": "Bot", **view}, files)
    result = plan(builders.desired(OWNER, [assistant], stores), Live(owner=OWNER))
    (create,) = [
        op for op in result.operations if op.verb is Verb.CREATE and op.collection == "assistants"
    ]

    def resolved(value: Any) -> Any:
        if isinstance(value, Ref):
            return value.key.replace("create vector_store.", "vs_").replace("upload file.", "file-")
        if isinstance(value, Mapping):
            return {k: resolved(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [resolved(v) for v in value]
        return value

    return resolved(dict(create.body))


RANKING = {"ranker": "auto", "score_threshold": 0.5}
JSON_REPLY = {"name": "reply", "schema": SCHEMA, "strict": True}
RICH = {
    "model": "o3-mini",
    "description": "Answers.",
    "instructions": "Be brief.\nCite the handbook.",
    "tools": [
        {"type": "file_search", "file_search": {"max_num_results": 8, "ranking_options": RANKING}},
        {"type": "code_interpreter"},
        {
            "type": "function",
            "function": {
                "name": "get_order",
                "description": "Look up.",
                "parameters": SCHEMA,
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "ping", "parameters": {"type": "object"}}},
    ],
    "tool_resources": {"file_search": {"vector_stores": ["handbook"]}},
    "temperature": 0.3,
    "top_p": 0.9,
    "response_format": {"type": "json_schema", "json_schema": JSON_REPLY},
    "reasoning_effort": "low",
    "metadata": {"team": "support"},
}


def test_every_field_lands_where_the_responses_api_reads_it():
    request = compile_request(planned_body(RICH))
    assert request == {
        "model": "o3-mini",
        "instructions": "Be brief.\nCite the handbook.",
        "tools": [
            {
                "type": "file_search",
                "vector_store_ids": ["vs_handbook"],
                "max_num_results": 8,
                "ranking_options": {"ranker": "auto", "score_threshold": 0.5},
            },
            {"type": "code_interpreter", "container": {"type": "auto", "file_ids": []}},
            {
                "type": "function",
                "name": "get_order",
                "description": "Look up.",
                "parameters": SCHEMA,
                "strict": True,
            },
            {"type": "function", "name": "ping", "parameters": {"type": "object"}, "strict": False},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "text": {
            "format": {"type": "json_schema", "name": "reply", "schema": SCHEMA, "strict": True}
        },
        "temperature": 0.3,
        "top_p": 0.9,
        "reasoning": {"effort": "low"},
        "metadata": {"assistctl_name": "bot", "assistctl_stack": OWNER, "team": "support"},
    }


def test_code_interpreter_files_go_to_an_auto_container():
    body = {
        "model": "gpt-4o",
        "tools": [{"type": "code_interpreter"}],
        "tool_resources": {"code_interpreter": {"file_ids": ["file-1", "file-2"]}},
        "metadata": {},
    }
    (tool,) = compile_request(body)["tools"]
    assert tool == {
        "type": "code_interpreter",
        "container": {"type": "auto", "file_ids": ["file-1", "file-2"]},
    }


@pytest.mark.parametrize(
    ("response_format", "text"),
    [
        ("auto", None),
        ({"type": "text"}, {"format": {"type": "text"}}),
        ({"type": "json_object"}, {"format": {"type": "json_object"}}),
    ],
)
def test_response_format_becomes_text_format(response_format, text):
    request = compile_request(planned_body({"model": "gpt-4o", "response_format": response_format}))
    assert request.get("text") == text


@pytest.mark.parametrize(
    "view",
    [
        RICH,
        {"model": "gpt-4o", "instructions": "Hi."},
        {"model": "gpt-4o", "response_format": {"type": "text"}, "temperature": 0},
        {"model": "gpt-4o", "response_format": {"type": "json_object"}},
    ],
)
def test_a_release_reads_back_as_the_assistant_it_was_compiled_from(view):
    body = planned_body(view)
    content = json.loads(release.dumps(compile_document(body)))
    read_back = assistant_of(content, "releases/support/bot.json")
    assert AssistantSpec.of(read_back).view() == AssistantSpec.of(body).view()
    assert read_back["id"] == "releases/support/bot.json"
    assert read_back["metadata"]["assistctl_release"] == content["digest"]
    assert compile_document(read_back) == content
    assert alteration(content, read_back) is None


def test_compiling_is_deterministic_and_content_addressed():
    body = planned_body(RICH)
    first, second = compile_document(body), compile_document(json.loads(json.dumps(body)))
    assert release.dumps(first) == release.dumps(second)
    changed = compile_document({**body, "instructions": "Be long."})
    assert changed["digest"] != first["digest"]
    renamed = compile_document({**body, "name": "Another display name"})
    assert renamed["digest"] == first["digest"]  # the display name is never sent
    assert first["request"]["metadata"]["assistctl_release"] == first["digest"]


def test_hand_edits_are_told_apart():
    content = json.loads(release.dumps(compile_document(planned_body(RICH))))
    edited = json.loads(json.dumps(content))
    edited["request"]["tool_choice"] = "required"
    assert "does not match its digest" in alteration(edited, assistant_of(edited, "x"))
    restamped = json.loads(json.dumps(edited))
    digest = release.request_digest(restamped["request"])
    restamped["digest"] = restamped["request"]["metadata"]["assistctl_release"] = digest
    assert alteration(restamped, assistant_of(restamped, "x")) is None  # a setting it can hold
    unknown = json.loads(json.dumps(content))
    unknown["request"]["store"] = False
    digest = release.request_digest(unknown["request"])
    unknown["digest"] = unknown["request"]["metadata"]["assistctl_release"] = digest
    reason = alteration(unknown, assistant_of(unknown, "x"))
    assert "settings assistctl does not write (in digest, request)" in reason


def test_the_run_settings_only_a_release_holds():
    view = {
        "model": "gpt-4o",
        "tools": RICH["tools"][2:3],
        "tool_choice": {"type": "function", "name": "get_order"},
        "parallel_tool_calls": False,
        "max_output_tokens": 500,
    }
    body = planned_body(view)
    request = compile_request(body)
    assert request["tool_choice"] == {"type": "function", "name": "get_order"}
    assert (request["parallel_tool_calls"], request["max_output_tokens"]) == (False, 500)
    read_back = assistant_of(json.loads(release.dumps(compile_document(body))), "x")
    assert AssistantSpec.of(read_back).view() == AssistantSpec.of(body).view()
    plain = compile_request(planned_body({"model": "gpt-4o"}))
    assert (plain["tool_choice"], plain["parallel_tool_calls"]) == ("auto", True)
    assert "max_output_tokens" not in plain


def test_a_file_search_tool_without_a_store_is_refused():
    with pytest.raises(PlanError, match="assistant.bot: a file_search tool needs a vector store"):
        compile_request(planned_body({"model": "gpt-4o", "tools": [{"type": "file_search"}]}))


def test_the_assistants_only_ranker_is_refused():
    view = {
        "model": "gpt-4o",
        "tools": [
            {
                "type": "file_search",
                "file_search": {
                    "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.4}
                },
            }
        ],
        "tool_resources": {"file_search": {"vector_stores": ["handbook"]}},
    }
    with pytest.raises(PlanError, match="default_2024_08_21 exists only in the Assistants API"):
        compile_request(planned_body(view))


def test_metadata_needs_room_for_the_release_keys():
    fits = {f"k{i}": "v" for i in range(13)}
    assert len(compile_request(planned_body({"model": "m", "metadata": fits}))["metadata"]) == 15
    with pytest.raises(PlanError, match="14 metadata keys; a release has room for 13"):
        compile_request(planned_body({"model": "m", "metadata": {**fits, "k13": "v"}}))


def test_ids_the_plan_has_not_made_yet_pass_through_untouched():
    reference = Ref("create vector_store.handbook")
    body = {
        "model": "gpt-4o",
        "tools": [{"type": "file_search"}],
        "tool_resources": {"file_search": {"vector_store_ids": [reference]}},
        "metadata": {},
    }
    assert compile_request(body)["tools"][0]["vector_store_ids"] == [reference]
