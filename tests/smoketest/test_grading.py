"""Graders and embedders over real HTTP against a fake model server: the prompt sent, the strict
reading of the answer, errors as errors, keys from the environment only."""

from __future__ import annotations

import json

import pytest

from assistctl import retry
from assistctl.backends.grading import connect
from assistctl.conversation import Reply, ToolCall
from assistctl.errors import AccountError, AssistctlError, SmokeTestError
from assistctl.grading import (
    GRADER_INSTRUCTIONS,
    Exchange,
    GraderSettings,
    cosine,
    grading_input,
    parse_grade,
)
from assistctl.smoketest.expectations import Judges, evaluate
from tests.smoketest.fake_models import FakeModels, serve

FAST = retry.RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.01)
EXCHANGE = Exchange(
    "How long do I have to return an item?",
    "You have 30 days to return it, with the receipt.",
    (ToolCall("file_search", "file_search"),),
)


@pytest.fixture
def models():
    with serve(FakeModels()) as running:
        yield running


def judges(models: FakeModels, **settings) -> tuple:
    chosen = GraderSettings(account=models.url, model="judge-1", **settings)
    return connect(chosen, environ={"ASSISTCTL_GRADER_API_KEY": "sk-grader"}, policy=FAST)


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_a_rubric_is_graded_with_the_documented_prompt(models, api):
    grader, _ = judges(models, api=api)
    grade = grader.grade('Mentions "30 days" and "receipt".', EXCHANGE)
    assert grade.passed and grade.reason == 'the reply mentions "30 days", "receipt"'
    failed = grader.grade('Mentions "refund".', EXCHANGE)
    assert not failed.passed and failed.reason == 'the reply does not mention "refund"'
    request = models.requests[0]
    body = request["body"]
    assert request["path"] == ("/v1/chat/completions" if api == "chat" else "/v1/responses")
    assert request["headers"]["authorization"] == "Bearer sk-grader"
    assert body["model"] == "judge-1" and body["temperature"] == 0
    expected_input = grading_input('Mentions "30 days" and "receipt".', EXCHANGE)
    if api == "chat":
        assert body["messages"] == [
            {"role": "system", "content": GRADER_INSTRUCTIONS},
            {"role": "user", "content": expected_input},
        ]
        schema = body["response_format"]["json_schema"]
    else:
        assert (body["instructions"], body["input"]) == (GRADER_INSTRUCTIONS, expected_input)
        schema = body["text"]["format"]
    assert schema["strict"] is True and schema["schema"]["required"] == ["pass", "reason"]


def test_the_grader_sees_the_user_message_the_tool_calls_and_the_reply():
    text = grading_input("Be brief.", EXCHANGE)
    assert text == (
        "<criteria>\nBe brief.\n</criteria>\n"
        "<user_message>\nHow long do I have to return an item?\n</user_message>\n"
        "<tool_calls>\nfile_search\n</tool_calls>\n"
        "<reply>\nYou have 30 days to return it, with the receipt.\n</reply>"
    )


def test_no_temperature_is_sent_when_the_stack_says_null(models):
    grader, _ = judges(models, temperature=None)
    grader.grade("Anything.", EXCHANGE)
    assert "temperature" not in models.requests[0]["body"]


@pytest.mark.parametrize(
    "answer",
    [
        "yes",
        '{"pass": "true", "reason": "x"}',
        '{"pass": true}',
        '{"pass": true, "reason": "x", "score": 1}',
        '```json\n{"pass": true, "reason": "x"}\n```',
        "[true]",
        "",
    ],
)
def test_an_answer_that_is_not_exactly_a_grade_is_a_grader_error(models, answer):
    models.answer = answer
    grader, _ = judges(models)
    with pytest.raises(SmokeTestError, match="grader judge-1: the answer is not the JSON object"):
        grader.grade("Anything.", EXCHANGE)


def test_parse_grade_trims_the_reason_and_keeps_the_verdict():
    grade = parse_grade('  {"reason": " fine ", "pass": false}\n', "m")
    assert (grade.passed, grade.reason) == (False, "fine")


def test_a_failing_grader_is_an_account_error_after_retries(models):
    models.status = 500
    grader, _ = judges(models)
    with pytest.raises(AccountError, match=r"grader judge-1: the account answered 500.*gave up"):
        grader.grade("Anything.", EXCHANGE)
    assert len(models.requests) == 3
    models.requests.clear()
    models.status = 401
    with pytest.raises(AccountError, match="refused the API key") as raised:
        grader.grade("Anything.", EXCHANGE)
    assert len(models.requests) == 1 and "sk-grader" not in str(raised.value)


def test_similar_compares_embeddings_and_asks_for_the_reference_once(models):
    _, embedder = judges(models, embeddings_model="embed-1")
    checks = Judges(embedder=embedder)
    close = {"similar": {"to": "You have 30 days to return it.", "threshold": 0.7}}
    reply = Reply("completed", "You have 30 days to return it, with the receipt.")
    passed = evaluate(close, reply, judges=checks)
    assert passed.passed
    far = evaluate(close, Reply("completed", "Our shop opens at nine."), judges=checks)
    assert not far.passed
    assert far.message.startswith(
        'expected the reply to be similar to "You have 30 days to return it." (cosine ≥ 0.7); '
        "similarity "
    )
    inputs = [r["body"]["input"] for r in models.requests]
    assert inputs == [
        ["You have 30 days to return it, with the receipt.", "You have 30 days to return it."],
        ["Our shop opens at nine."],
    ]
    assert models.requests[0]["body"]["model"] == "embed-1"


def test_cosine():
    assert cosine([1, 0], [1, 0]) == pytest.approx(1.0)
    assert cosine([1, 0], [0, 1]) == pytest.approx(0.0)
    assert cosine([1, 0], [-1, 0]) == pytest.approx(-1.0)
    assert cosine([0, 0], [1, 0]) == 0.0
    with pytest.raises(SmokeTestError, match="different lengths"):
        cosine([1], [1, 0])


def test_connecting_needs_an_account_a_known_api_and_a_key_off_loopback():
    with pytest.raises(AccountError, match="need a grader account"):
        connect(GraderSettings())
    with pytest.raises(AccountError, match="unknown grader account 'local'"):
        connect(GraderSettings(account="local"))
    with pytest.raises(AccountError, match="spec.grader.api"):
        connect(GraderSettings(account="openai", api="completions"))
    with pytest.raises(AccountError, match="needs an API key") as raised:
        connect(GraderSettings(account="https://models.example.com/v1"), environ={})
    assert (
        raised.value.hint
        == "export ASSISTCTL_GRADER_API_KEY=… (the key is read from the environment only)"
    )
    with pytest.raises(AccountError, match="api.openai.com needs an API key") as raised:
        connect(
            GraderSettings(account="openai", api_key_env="MY_KEY"), environ={"OPENAI_API_KEY": "x"}
        )
    assert raised.value.hint.startswith("export MY_KEY=")
    grader, _ = connect(GraderSettings(account="http://127.0.0.1:9/v1"), environ={})
    assert grader.client.api_key == "assistctl-no-key"


def test_the_key_comes_from_the_named_variable_then_the_defaults():
    settings = GraderSettings(account="openai")
    assert settings.key({"ASSISTCTL_GRADER_API_KEY": "a", "OPENAI_API_KEY": "b"}) == "a"
    assert settings.key({"OPENAI_API_KEY": "b"}) == "b"
    named = GraderSettings(account="openai", api_key_env="TEAM_KEY")
    assert named.key({"TEAM_KEY": "c", "OPENAI_API_KEY": "b"}) == "c"
    assert named.key({"OPENAI_API_KEY": "b"}) is None


def test_stack_settings_and_the_flag():
    stack = {"account": "https://models.example.com/v1", "model": "m", "api": "responses"}
    assert GraderSettings.of(stack, None).account == "https://models.example.com/v1"
    overridden = GraderSettings.of(stack, "openai")
    assert (overridden.account, overridden.model, overridden.api) == ("openai", "m", "responses")
    assert GraderSettings.of(None, None) == GraderSettings()


def test_grader_errors_are_assistctl_errors():
    """The runner turns any AssistctlError of an attempt into an error outcome (exit 1)."""
    assert issubclass(SmokeTestError, AssistctlError) and issubclass(AccountError, AssistctlError)
    assert json.loads('{"pass": true, "reason": "x"}')
