"""Smoke-test conversations in the Responses era, against the local account's /v1/responses and
/v1/conversations: what a step observes, canned function outputs, chaining where there is no
Conversations API, and deletion on every path."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import openai
import pytest
from click.testing import CliRunner

from assistctl import manifest
from assistctl.accounts import parse_account
from assistctl.backends.connect import connect
from assistctl.backends.responses import ResponsesBackend
from assistctl.backends.responses_conversation import NO_RESPONSES_HINT
from assistctl.cli import cli
from assistctl.conversation import CannedOutput, Interrupted, StepRequest
from assistctl.errors import AccountError
from assistctl.retry import RetryPolicy

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
RELEASE = "releases/support/support-bot.json"
LABELS = {"assistctl_stack": "support", "assistctl_smoke_test": "t#1"}
SHIPPED = '{"status": "shipped", "eta": "2026-12-01"}'


@pytest.fixture
def backend(local_server, tmp_path) -> ResponsesBackend:
    stack = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, stack)
    shutil.rmtree(stack / "releases", ignore_errors=True)
    applied = CliRunner().invoke(
        cli, ["--account", local_server.base_url, "apply", "--api", "responses", str(stack), "-y"]
    )
    assert applied.exit_code == 0, applied.output
    built = connect(
        parse_account(local_server.base_url),
        desired=manifest.load([stack]),
        api="responses",
        policy=RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.01),
    )
    assert isinstance(built, ResponsesBackend)
    return built


def canned(name: str, arguments) -> CannedOutput:
    if name == "get_order" and arguments.get("order_id") == "123":
        return CannedOutput(SHIPPED)
    return CannedOutput(None, f"no canned output of {name} matches these arguments")


def step(number: int, user: str, **options) -> StepRequest:
    return StepRequest(number=number, user=user, answer=canned, timeout_s=30, **options)


def conversation(backend: ResponsesBackend, stop: threading.Event | None = None):
    return backend.conversation(
        RELEASE, LABELS, "order-status attempt 1", stop or threading.Event()
    )


def test_a_step_answers_function_calls_until_the_model_stops(backend, client, admin):
    admin.reset_stats()
    talk = conversation(backend)
    talk.open()
    outcome = talk.step(step(1, "Where is my order 123?"))
    assert talk.close() is None
    reply = outcome.reply
    assert outcome.failure is None and reply.status == "completed"
    (call,) = reply.tool_calls
    assert (call.name, dict(call.arguments), call.output) == (
        "get_order",
        {"order_id": "123"},
        SHIPPED,
    )
    assert "shipped" in reply.text
    assert (
        reply.usage["total_tokens"]
        == reply.usage["prompt_tokens"] + reply.usage["completion_tokens"]
        > 0
    )
    assert reply.latency_s > 0
    assert client.responses.retrieve(outcome.run_id).metadata["assistctl_name"] == "support-bot"
    requests = admin.stats()["requests"]
    assert requests["POST /v1/conversations"] == 1
    assert requests["DELETE /v1/conversations/{conversation_id}"] == 1
    assert requests["POST /v1/responses"] == 2  # the question, then the function output


def test_file_search_calls_and_citations(backend):
    talk = conversation(backend)
    talk.open()
    try:
        reply = talk.step(step(1, "How do I return an item?")).reply
    finally:
        talk.close()
    assert [c.name for c in reply.tool_calls] == ["file_search"]
    assert reply.citations and all(c.file_id.startswith("file-") for c in reply.citations)


def test_the_step_uses_the_release_with_its_additional_instructions(backend, client):
    talk = conversation(backend)
    talk.open()
    try:
        outcome = talk.step(step(1, "Hello", additional_instructions="Answer in French."))
    finally:
        talk.close()
    response = client.responses.retrieve(outcome.run_id)
    release = backend.releases.load(RELEASE)
    assert response.instructions == release.template["instructions"] + "\n\nAnswer in French."
    assert response.model == release.model


def test_without_a_conversations_api_turns_are_chained_and_the_responses_deleted(
    backend, client, admin
):
    admin.set_faults(rules=[{"path": "^/v1/conversations", "status": 404, "count": 1000}])
    admin.reset_stats()
    talk = conversation(backend)
    talk.open()
    first = talk.step(step(1, "Where is my order 123?"))
    second = talk.step(step(2, "How do I return an item?"))
    assert backend.capabilities.conversations is False
    assert first.failure is None and second.failure is None
    assert client.responses.retrieve(second.run_id).previous_response_id is not None
    made = list(talk.response_ids)
    assert len(made) == 3 and talk.handle == made[0]
    assert talk.close() is None
    requests = admin.stats()["requests"]
    assert requests["DELETE /v1/responses/{response_id}"] == 3
    for response_id in made:
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(response_id)


def test_a_call_without_a_canned_output_fails_the_step(backend):
    talk = conversation(backend)
    talk.open()
    try:
        outcome = talk.step(step(1, "Where is my order 124?"))
    finally:
        talk.close()
    assert outcome.failure.startswith('the model called get_order({"order_id": "124"}): no canned')
    assert [c.name for c in outcome.reply.tool_calls] == ["get_order"]


def test_requires_action_stops_at_the_call_and_the_next_step_goes_on(backend):
    talk = conversation(backend)
    talk.open()
    try:
        stopped = talk.step(step(1, "Where is my order 123?", stop_at_action=True))
        after = talk.step(step(2, "How do I return an item?"))
    finally:
        talk.close()
    assert stopped.reply.status == "requires_action"
    assert [c.name for c in stopped.reply.tool_calls] == ["get_order"]
    assert stopped.reply.tool_calls[0].output is None
    assert after.failure is None and after.reply.status == "completed"


def test_an_account_without_the_responses_api_is_explained(backend, admin):
    admin.set_faults(rules=[{"path": "^/v1/responses", "status": 404, "count": 1000}])
    talk = conversation(backend)
    talk.open()
    try:
        with pytest.raises(AccountError) as caught:
            talk.step(step(1, "Hello"))
    finally:
        assert talk.close() is None
    assert caught.value.hint == NO_RESPONSES_HINT


def test_an_interrupted_conversation_is_still_deleted(backend, admin):
    stop = threading.Event()
    talk = conversation(backend, stop)
    talk.open()
    stop.set()
    with pytest.raises(Interrupted):
        talk.step(step(1, "Hello"))
    admin.reset_stats()
    assert talk.close() is None
    assert admin.stats()["requests"]["DELETE /v1/conversations/{conversation_id}"] == 1
