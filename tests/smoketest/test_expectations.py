"""Expectations on plain data: each kind passes and fails, and a failure says what was expected
and what came back."""

from __future__ import annotations

import pytest

from assistctl.conversation import Citation, Reply, ToolCall
from assistctl.errors import SmokeTestError
from assistctl.grading import Exchange, Grade
from assistctl.smoketest import expectations
from assistctl.smoketest.expectations import Judges, evaluate, evaluate_step

REPLY = Reply(
    status="completed",
    text="Your order 123 has shipped and arrives on 2026-12-01.",
    tool_calls=(ToolCall("function", "get_order", {"order_id": "123", "verbose": {"a": 1}}),),
    citations=(Citation("file-1", "docs/returns.md", "returns.md", "30 days"),),
    latency_s=1.5,
    usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
)


@pytest.mark.parametrize(
    "expectation",
    [
        {"contains": "shipped"},
        {"icontains": "SHIPPED"},
        {"not_contains": "cancelled"},
        {"equals": "  Your order 123 has shipped and arrives on 2026-12-01.\n"},
        {"regex": r"order \d+"},
        {"tool_call": {"name": "get_order"}},
        {"tool_call": {"name": "get_order", "arguments": {"order_id": "123"}}},
        {"tool_call": {"name": "get_order", "arguments": {"verbose": {"a": 1}}, "count": 1}},
        {"tool_call": {"name": "refund", "count": 0}},
        {"no_tool_call": "refund"},
        {"cites": "docs/returns.md"},
        {"cites": "returns.md"},
        {"cites": "file-1"},
        {"status": "completed"},
        {"max_latency_s": 2},
        {"max_tokens": 120},
    ],
)
def test_expectation_passes(expectation):
    verdict = evaluate(expectation, REPLY)
    assert verdict.passed, verdict.message
    assert verdict.message == ""


@pytest.mark.parametrize(
    ("expectation", "fragments"),
    [
        ({"contains": "delivered"}, ["contain 'delivered'", '"Your order 123 has shipped']),
        ({"icontains": "DELIVERED"}, ["(any case)", "Your order"]),
        ({"not_contains": "shipped"}, ["not to contain 'shipped' (any case)", "Your order"]),
        ({"not_contains": "SHIPPED"}, ["not to contain 'SHIPPED' (any case)", "Your order"]),
        ({"equals": "Shipped."}, ['equal "Shipped."', "Your order"]),
        ({"regex": r"^\d+$"}, [r"match /^\d+$/", "Your order"]),
        (
            {"tool_call": {"name": "get_order", "arguments": {"order_id": "124"}}},
            ['a call to get_order with arguments {"order_id": "124"}', 'get_order({"order_id"'],
        ),
        (
            {"tool_call": {"name": "get_order", "arguments": {"order_id": 123}}},
            ['{"order_id": 123}', '"order_id": "123"'],
        ),
        (
            {"tool_call": {"name": "get_order", "count": 2}},
            ["2 calls to get_order", "got 1 matching (get_order("],
        ),
        ({"no_tool_call": True}, ["expected no tool calls", "get_order("]),
        ({"no_tool_call": "get_order"}, ["no call to get_order", "get_order("]),
        ({"cites": "docs/warranty.md"}, ["file_citation to docs/warranty.md", "docs/returns.md"]),
        ({"status": "failed"}, ["end failed", "got completed"]),
        ({"max_latency_s": 1}, ["within 1s", "took 1.50s"]),
        ({"max_tokens": 100}, ["at most 100 tokens", "used 120 (prompt 100, completion 20)"]),
        ({"json_schema": {"type": "object"}}, ["expected a JSON reply", "Your order"]),
    ],
)
def test_expectation_fails_with_what_came_back(expectation, fragments):
    verdict = evaluate(expectation, REPLY)
    assert not verdict.passed
    for fragment in fragments:
        assert fragment in verdict.message, verdict.message


def test_json_schema_validates_and_points_at_the_bad_field():
    schema = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": ["shipped", "pending"]}},
    }
    good = Reply("completed", '```json\n{"status": "shipped"}\n```')
    assert evaluate({"json_schema": schema}, good).passed
    bad = evaluate({"json_schema": schema}, Reply("completed", '{"status": "lost"}'))
    assert not bad.passed
    assert "at $.status" in bad.message and "'lost' is not one of" in bad.message


def test_no_citations_and_no_usage_are_explained():
    bare = Reply("completed", "I do not know.")
    assert 'no citations in "I do not know."' in evaluate({"cites": "a.md"}, bare).message
    assert "no usage" in evaluate({"max_tokens": 5}, bare).message


def test_failed_run_reports_last_error():
    reply = Reply("failed", "", last_error="server_error: boom")
    verdict = evaluate({"status": "completed"}, reply)
    assert verdict.message == "expected the run to end completed; got failed (server_error: boom)"


def test_step_expects_completion_unless_it_says_otherwise():
    failed = Reply("failed", "shipped")
    implicit = evaluate_step([{"contains": "shipped"}], failed)
    assert [(v.kind, v.passed, v.implicit) for v in implicit] == [
        ("status", False, True),
        ("contains", True, False),
    ]
    explicit = evaluate_step([{"status": "failed"}], failed)
    assert [(v.kind, v.passed, v.implicit) for v in explicit] == [("status", True, False)]


def test_long_replies_are_trimmed_on_one_line():
    reply = Reply("completed", "word\n" * 200)
    message = evaluate({"contains": "zzz"}, reply).message
    assert "\n" not in message
    assert message.endswith('…"') and len(message) < 320


def test_subset_match_is_type_aware_but_number_tolerant():
    assert expectations.is_subset({"a": 1}, {"a": 1.0, "b": 2})
    assert not expectations.is_subset({"a": "1"}, {"a": 1})
    assert not expectations.is_subset({"a": True}, {"a": 1})
    assert expectations.is_subset({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2], "c": 3}})
    assert not expectations.is_subset({"a": {"b": 1}}, {"a": "x"})


@pytest.mark.parametrize(
    ("expectation", "message"),
    [
        ({"regex": "("}, "invalid regular expression"),
        ({"json_schema": {"type": "nope"}}, "not a valid JSON Schema"),
        ({"contains": "a", "equals": "b"}, "exactly one of"),
        ({"smells_like": "x"}, "unknown expectation 'smells_like'"),
        ({"tool_call": {"name": "f", "count": -1}}, "count takes a whole number"),
        ({"tool_call": {"name": "f", "args": {}}}, "unknown key(s) args"),
        ({"status": "done"}, "status takes one of"),
        ({"max_latency_s": "fast"}, "max_latency_s takes a number"),
        ({"no_tool_call": False}, "no_tool_call takes true or a tool name"),
        ({"contains": ["a"]}, "contains takes a string"),
        ({"any_of": []}, "any_of takes a list of one or more expectations"),
        ({"all_of": [{"contains": "a"}, {"regex": "("}]}, "all_of[1].regex holds an invalid"),
        ({"not": [{"contains": "a"}]}, "not takes one expectation"),
        ({"not": {"any_of": [{"nope": 1}]}}, "not.any_of[0] unknown expectation 'nope'"),
        ({"rubric": "  "}, "rubric takes the criteria"),
        ({"similar": "text"}, "similar takes {to: TEXT, threshold: NUMBER}"),
        ({"similar": {"to": "x", "threshold": 2}}, "similar.threshold takes a cosine"),
        ({"similar": {"to": "x", "limit": 1}}, "similar has unknown key(s) limit"),
    ],
)
def test_check_refuses_unusable_expectations(expectation, message):
    with pytest.raises(SmokeTestError) as caught:
        expectations.check(expectation, "t.yaml:3: spec.steps[0].expect[1]")
    assert caught.value.message.startswith("t.yaml:3: spec.steps[0].expect[1]: ")
    assert message in caught.value.message


def test_a_tool_call_named_by_a_string_is_checked_as_the_schema_allows():
    """The schema and the README allow ``tool_call: get_order``; it used to pass validation and
    then be refused (and crash the check) at run time."""
    assert expectations.problem({"tool_call": "get_order"}) is None
    assert evaluate({"tool_call": "get_order"}, REPLY).passed
    missed = evaluate({"tool_call": "refund"}, REPLY)
    assert not missed.passed and "expected a call to refund" in missed.message


class Grader:
    """Passes a rubric when the reply contains the rubric's text; counts its calls."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Exchange]] = []

    def grade(self, criteria: str, exchange: Exchange) -> Grade:
        self.asked.append((criteria, exchange))
        passed = criteria in exchange.reply
        return Grade(passed, "it does" if passed else f"no {criteria!r} in the reply")


@pytest.mark.parametrize(
    ("expectation", "passed"),
    [
        ({"any_of": [{"contains": "lost"}, {"contains": "shipped"}]}, True),
        ({"any_of": [{"contains": "lost"}, {"contains": "stolen"}]}, False),
        ({"all_of": [{"contains": "order"}, {"contains": "shipped"}]}, True),
        ({"all_of": [{"contains": "order"}, {"contains": "stolen"}]}, False),
        ({"not": {"contains": "stolen"}}, True),
        ({"not": {"contains": "shipped"}}, False),
        ({"not": {"any_of": [{"contains": "lost"}, {"tool_call": "get_order"}]}}, False),
        ({"all_of": [{"not": {"no_tool_call": True}}, {"regex": r"\d{4}-\d{2}"}]}, True),
    ],
)
def test_combinators(expectation, passed):
    assert evaluate(expectation, REPLY).passed is passed


def test_combinator_messages_say_what_failed():
    any_of = evaluate({"any_of": [{"contains": "lost"}, {"max_tokens": 100}]}, REPLY)
    assert any_of.message.startswith(
        "expected any of 2 checks to pass: (1) expected the reply to contain 'lost'; got "
    )
    assert "(2) expected at most 100 tokens; used 120" in any_of.message
    all_of = evaluate({"all_of": [{"contains": "order"}, {"contains": "lost"}]}, REPLY)
    assert all_of.message.startswith("expected the reply to contain 'lost'")
    negated = evaluate({"not": {"contains": "shipped"}}, REPLY)
    assert negated.message.startswith('expected not (contains: "shipped"), but it passed; got ')


def test_a_rubric_asks_the_grader_and_shows_its_reason():
    grader = Grader()
    checks = Judges(grader=grader)
    steps = evaluate_step(
        [{"rubric": "has shipped"}, {"rubric": "was refunded"}],
        REPLY,
        user="Where is my order?",
        judges=checks,
    )
    assert [c.passed for c in steps] == [True, True, False]
    assert steps[2].message == (
        'expected the reply to meet the rubric "was refunded"; the grader said: no '
        "'was refunded' in the reply; got \"Your order 123 has shipped and arrives on 2026-12-01.\""
    )
    criteria, exchange = grader.asked[0]
    assert exchange == Exchange("Where is my order?", REPLY.text, REPLY.tool_calls)


def test_combinators_do_not_ask_the_grader_what_cannot_change_the_outcome():
    grader = Grader()
    checks = Judges(grader=grader)
    assert evaluate(
        {"any_of": [{"contains": "shipped"}, {"rubric": "x"}]}, REPLY, judges=checks
    ).passed
    assert not evaluate(
        {"all_of": [{"contains": "lost"}, {"rubric": "x"}]}, REPLY, judges=checks
    ).passed
    assert grader.asked == []


def test_graded_checks_need_their_judge_before_any_conversation():
    graded = {"any_of": [{"contains": "a"}, {"not": {"similar": {"to": "b"}}}]}
    expectations.check(graded, "t.yaml:3: spec.steps[0].expect[0]")  # valid as written
    with pytest.raises(SmokeTestError) as caught:
        expectations.check(graded, "t.yaml:3: spec.steps[0].expect[0]", Judges())
    assert caught.value.message == (
        "t.yaml:3: spec.steps[0].expect[0]: any_of[1].not.similar: needs a grader account"
    )
    assert "--grader-account" in caught.value.hint
    expectations.check({"rubric": "x"}, "here", Judges(grader=Grader()))


def test_leaves_open_every_combinator():
    nested = {"all_of": [{"tool_call": "f"}, {"not": {"any_of": [{"cites": "a.md"}]}}]}
    assert list(expectations.leaves(nested)) == [
        (("all_of", 0), "tool_call", "f"),
        (("all_of", 1, "not", "any_of", 0), "cites", "a.md"),
    ]
