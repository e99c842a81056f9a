"""The deterministic engine's documented rules, checked as pure functions (no server)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace

import jsonschema
import pytest

from assistctl.local.engines import (
    ActionRequired,
    Answer,
    CodeFile,
    CodeInterpreterCall,
    CodeRun,
    CodeSession,
    ContextMessage,
    DeterministicEngine,
    Failure,
    FileSearchCall,
    RunInput,
    ToolExchange,
)
from assistctl.local.engines.deterministic import extract_arguments, flatten_output, rank_functions
from assistctl.local.engines.file_search import display_filename

from ..tools import GET_ORDER

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current forecast for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}


@dataclass(frozen=True)
class Hit:
    file_id: str
    filename: str
    vector_store_id: str
    text: str
    score: float
    attributes: dict = field(default_factory=dict)


def ids():
    counter = itertools.count()
    return lambda prefix: f"{prefix}_{next(counter)}"


def run_input(message: str, tools=(), **fields) -> RunInput:
    return RunInput(
        assistant_name="Support Bot",
        model="gpt-4o",
        instructions="Be brief.",
        tools=tuple(tools),
        messages=(ContextMessage("user", message),),
        **fields,
    )


def respond(run: RunInput, hits=()):
    searches = []

    def search(vector_store_ids, query, limit, filters):
        searches.append((vector_store_ids, query, limit))
        return list(hits)

    outcome = DeterministicEngine().respond(run, search, ids())
    return outcome, searches


def test_function_named_in_message_is_called_with_id_argument():
    outcome, _ = respond(run_input("Where is my order 123?", [GET_ORDER, WEATHER]))
    assert isinstance(outcome, ActionRequired)
    (call,) = outcome.function_calls
    assert call.name == "get_order"
    assert json.loads(call.arguments) == {"order_id": "123"}
    assert call.id.startswith("call")
    assert outcome.usage.prompt_tokens == 2 + 5  # instructions + message words


def test_no_call_when_a_required_argument_is_missing():
    outcome, _ = respond(run_input("Where is my order?", [GET_ORDER]))
    assert isinstance(outcome, Answer)
    assert outcome.text == '[Support Bot] You said: "Where is my order?"'


def test_description_keywords_are_the_fallback_and_quoted_phrases_fill_strings():
    outcome, _ = respond(run_input('What is the forecast for "New York" in fahrenheit?', [WEATHER]))
    assert isinstance(outcome, ActionRequired)
    assert json.loads(outcome.function_calls[0].arguments) == {
        "city": "New York",
        "unit": "fahrenheit",
    }


def test_best_overlap_wins_and_plurals_match():
    ship = {
        "type": "function",
        "function": {"name": "get_order_shipping", "parameters": {"type": "object"}},
    }
    ranked = rank_functions([GET_ORDER["function"], ship["function"]], "shipping for orders")
    assert [f["name"] for f in ranked] == ["get_order_shipping", "get_order"]


@pytest.mark.parametrize(
    ("schema", "message", "expected"),
    [
        ({"quantity": {"type": "integer"}}, "send 3 boxes, quantity 7", {"quantity": 7}),
        ({"amount": {"type": "number"}}, "refund 12.5 dollars", {"amount": 12.5}),
        ({"ticket_code": {"type": "string"}}, "ticket A-42 please", {"ticket_code": "A-42"}),
        ({"express": {"type": "boolean"}}, "express delivery", {"express": True}),
        ({"express": {"type": "boolean"}}, "slow delivery", {"express": False}),
        ({"size": {"enum": ["small", "large"]}}, "a LARGE one", {"size": "large"}),
        ({"note": {"type": "string"}}, "no quotes here", {}),
    ],
)
def test_argument_extraction_per_schema_type(schema, message, expected):
    arguments, _ = extract_arguments({"type": "object", "properties": schema}, message)
    assert arguments == expected


def test_missing_required_arguments_are_reported():
    _, missing = extract_arguments(GET_ORDER["function"]["parameters"], "my order please")
    assert missing == ["order_id"]


def test_tool_outputs_are_flattened_into_the_answer():
    run = run_input(
        "Where is my order 123?",
        [GET_ORDER],
        exchanges=(
            ToolExchange(
                "call_1",
                "function",
                "get_order",
                '{"order_id":"123"}',
                json.dumps({"status": "shipped", "eta": "2026-12-01"}),
            ),
        ),
    )
    outcome, _ = respond(run)
    assert isinstance(outcome, Answer)
    assert outcome.text == "Here is what get_order returned: status: shipped, eta: 2026-12-01."


def test_flatten_output_shapes():
    assert flatten_output('{"a": {"b": 1}, "c": [1, 2]}') == "a.b: 1, c: 1, 2"
    assert flatten_output("plain words") == "plain words"
    assert flatten_output('"quoted"') == "quoted"


def test_file_search_quotes_the_best_chunk_with_an_exact_citation():
    hits = [
        Hit("file-a", "returns.md", "vs_1", "Returns are accepted   within 30 days.", 0.8),
        Hit("file-b", "other.md", "vs_1", "Unrelated.", 0.1),
    ]
    run = run_input(
        "How long do returns take?",
        [{"type": "file_search", "file_search": {"max_num_results": 5}}],
        vector_store_ids=("vs_1",),
    )
    outcome, searches = respond(run, hits)
    assert searches == [(["vs_1"], "How long do returns take?", 5)]
    assert isinstance(outcome, Answer)
    assert outcome.text.startswith(
        'According to returns.md: "Returns are accepted within 30 days."'
    )
    (citation,) = outcome.citations
    assert outcome.text[citation.start_index : citation.end_index] == citation.text
    assert (citation.file_id, citation.filename) == ("file-a", "returns.md")
    (call,) = outcome.tool_calls
    assert isinstance(call, FileSearchCall)
    assert [r.file_id for r in call.results] == ["file-a", "file-b"]


def test_file_search_without_hits_records_the_search_and_answers_plainly():
    run = run_input("anything", [{"type": "file_search"}], vector_store_ids=("vs_1",))
    outcome, searches = respond(run, [Hit("f", "x.md", "vs_1", "t", 0.0)])
    assert searches[0][2] == 20
    assert isinstance(outcome, Answer)
    assert "nothing" in outcome.text and not outcome.citations
    assert outcome.tool_calls[0].results == ()


def test_file_search_keeps_only_hits_above_the_tool_score_threshold():
    hits = [
        Hit("file-a", "returns.md", "vs_1", "Returns are accepted within 30 days.", 0.8),
        Hit("file-b", "other.md", "vs_1", "Returns, briefly.", 0.3),
    ]
    ranking = {"ranker": "auto", "score_threshold": 0.5}
    tool = {"type": "file_search", "file_search": {"ranking_options": ranking}}
    outcome, _ = respond(run_input("returns?", [tool], vector_store_ids=("vs_1",)), hits)
    (call,) = outcome.tool_calls
    assert [r.file_id for r in call.results] == ["file-a"]
    assert call.ranking_options == {"ranker": "default_2024_08_21", "score_threshold": 0.5}


def test_without_a_code_session_no_code_runs_and_nothing_claims_it_did():
    run = run_input("Please run this:\n```python\nprint(1+1)\n```", [{"type": "code_interpreter"}])
    outcome, _ = respond(run)
    assert isinstance(outcome, Answer) and outcome.tool_calls == ()
    assert outcome.text.startswith('[Support Bot] You said: "Please run this:')


def test_each_fenced_python_block_runs_in_the_code_session_in_order():
    ran: list[str] = []

    def execute(code: str) -> CodeRun:
        ran.append(code)
        if "open(" in code:
            return CodeRun("", files=(CodeFile("/mnt/data/a.txt", "file-a"),))
        return CodeRun(f"ran {len(ran)}\n", image_file_ids=("file-img",))

    message = (
        "First:\n```python\nx = 1\n```\nnot this:\n```sh\nls\n```\n"
        "then:\n```\nopen('a.txt', 'w')\n```"
    )
    run = run_input(message, [{"type": "code_interpreter"}])
    outcome = DeterministicEngine().respond(run, lambda *a: [], ids(), code=CodeSession(execute))
    assert ran == ["x = 1", "open('a.txt', 'w')"]
    assert isinstance(outcome, Answer)
    first, second = outcome.tool_calls
    assert isinstance(first, CodeInterpreterCall) and first.image_file_ids == ("file-img",)
    assert outcome.text == (
        "I ran the code in the code interpreter:\nran 1\n[1 image(s) shown to the user]\n"
        "(no output)\n[files written: sandbox:/mnt/data/a.txt]"
    )
    limited = DeterministicEngine().respond(
        replace(run, max_tool_calls=1), lambda *a: [], ids(), code=CodeSession(execute)
    )
    assert len(limited.tool_calls) == 1


def test_json_schema_answer_is_an_instance_built_from_facts():
    schema = {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "order_id": {"type": "string"},
            "answer": {"type": "string"},
            "days": {"type": "integer"},
            "urgent": {"type": "boolean"},
            "kind": {"type": "string", "enum": ["a", "b"]},
        },
        "required": ["status", "order_id", "answer", "days", "urgent", "kind"],
        "additionalProperties": False,
    }
    run = run_input(
        "Where is my order 123?",
        [GET_ORDER],
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
        exchanges=(
            ToolExchange("c", "function", "get_order", '{"order_id":"123"}', '{"status":"late"}'),
        ),
    )
    outcome, _ = respond(run)
    value = json.loads(outcome.text)
    jsonschema.validate(value, schema)
    assert value["status"] == "late" and value["order_id"] == "123"
    assert value["answer"].startswith("Here is what get_order returned")


def test_json_object_answer_parses():
    outcome, _ = respond(run_input("hello", response_format={"type": "json_object"}))
    assert json.loads(outcome.text) == {"answer": '[Support Bot] You said: "hello"'}


def test_fail_run_word_fails_the_run():
    outcome, _ = respond(run_input("please FAIL_RUN now"))
    assert isinstance(outcome, Failure)
    assert outcome.code == "server_error"
    outcome, _ = respond(run_input("please fail_run now"))
    assert isinstance(outcome, Answer)


def test_tool_choice_none_and_forced_function():
    outcome, _ = respond(run_input("order 123", [GET_ORDER], tool_choice="none"))
    assert isinstance(outcome, Answer)
    forced = {"type": "function", "function": {"name": "get_weather"}}
    outcome, _ = respond(run_input("order 123", [GET_ORDER, WEATHER], tool_choice=forced))
    assert isinstance(outcome, ActionRequired)
    assert outcome.function_calls[0].name == "get_weather"


def test_max_completion_tokens_truncates_and_marks_incomplete():
    run = replace(run_input("one two three four five"), max_completion_tokens=3)
    outcome, _ = respond(run)
    assert outcome.incomplete_reason == "max_completion_tokens"
    assert outcome.usage.completion_tokens == 3


def test_same_input_same_outcome():
    run = run_input("Where is my order 123?", [GET_ORDER])
    assert respond(run)[0] == respond(run)[0]


def test_max_prompt_tokens_marks_incomplete():
    run = replace(run_input("one two three"), max_prompt_tokens=4)  # 2 + 3 words of prompt
    outcome, _ = respond(run)
    assert outcome.incomplete_reason == "max_prompt_tokens"
    assert outcome.text == '[Support Bot] You said: "one two three"'


def test_file_search_names_an_assistctl_upload_by_its_original_file_name():
    """Uploads made by apply carry ownership in their filename; answers show the real name."""
    from assistctl.model import upload_filename

    stored = upload_filename("support", "a" * 64, "returns.md")
    run = run_input("returns", [{"type": "file_search"}], vector_store_ids=("vs_1",))
    outcome, _ = respond(run, [Hit("file-a", stored, "vs_1", "Returns within 30 days.", 0.8)])
    assert outcome.text.startswith('According to returns.md: "Returns within 30 days."')


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("returns.md", "returns.md"),
        ("tag~returns.md", "returns.md"),
        ("a~b~c~returns.md", "returns.md"),
        ("notes.md~", "notes.md~"),
    ],
)
def test_a_filename_of_tilde_separated_segments_is_shown_by_its_last(stored, shown):
    assert display_filename(stored) == shown


def test_an_unquoted_capitalised_place_fills_a_required_string():
    """The documentation's own example: "What's the weather in Miami?" calls the function."""
    weather = {
        "type": "function",
        "function": {
            "name": "getCurrentWeather",
            "description": "Get the weather in location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "The city and state"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                },
                "required": ["location"],
            },
        },
    }
    outcome, _ = respond(run_input("What's the weather in Miami?", [weather]))
    assert isinstance(outcome, ActionRequired)
    assert json.loads(outcome.function_calls[0].arguments) == {"location": "Miami"}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Book a flight from New York to San Francisco",
            {"from": "New York", "to": "San Francisco"},
        ),
        ("Fly to Paris, from Berlin.", {"from": "Berlin", "to": "Paris"}),
        ("A ticket to Oslo", {"from": "Oslo"}),
        ("Book me a flight. Rome is nice, I think", {}),
    ],
)
def test_unquoted_candidates_prefer_the_one_after_a_property_word(message, expected):
    schema = {
        "type": "object",
        "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
    }
    arguments, _ = extract_arguments(schema, message)
    assert arguments == expected


def test_local_refs_in_parameters_are_followed():
    parameters = {
        "$ref": "#/$defs/Request",
        "$defs": {
            "Request": {
                "type": "object",
                "properties": {
                    "city": {"$ref": "#/$defs/City"},
                    "days": {"$ref": "#/definitions/Days"},
                    "loop": {"$ref": "#/$defs/Loop"},
                },
                "required": ["city", "days"],
            },
            "City": {"type": "string"},
            "Loop": {"$ref": "#/$defs/Loop"},
        },
        "definitions": {"Days": {"type": "integer"}},
    }
    arguments, missing = extract_arguments(parameters, "Forecast for Lisbon, 3 days")
    assert arguments == {"city": "Lisbon", "days": 3} and missing == []
