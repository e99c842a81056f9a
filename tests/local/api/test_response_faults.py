"""Injected faults on the Responses and Conversations endpoints, as the SDK sees them: rate
limits, failures before the request runs (retried by the SDK), and connections dropped after a
response was written, which a caller must not answer by blindly sending the turn again."""

from __future__ import annotations

import openai
import pytest


def test_rate_limit_on_responses_is_429_with_retry_headers(client, admin):
    admin.set_faults(
        rules=[{"methods": ["POST"], "path": "^/v1/responses$", "status": 429, "retry_after": 1}]
    )
    with pytest.raises(openai.RateLimitError) as raised:
        client.responses.create(model="gpt-4o", input="hi")
    assert raised.value.code == "rate_limit_exceeded"
    assert raised.value.response.headers["retry-after-ms"] == "1000"
    assert client.responses.create(model="gpt-4o", input="hi").status == "completed"


def test_a_failure_before_the_request_runs_is_retried_by_the_sdk(local_server, admin):
    admin.set_faults(rules=[{"methods": ["POST"], "path": "^/v1/responses$", "status": 500}])
    retrying = openai.OpenAI(api_key="x", base_url=local_server.base_url, max_retries=2)
    response = retrying.with_options(timeout=10).responses.create(model="gpt-4o", input="again")
    assert response.output_text == '[Assistant] You said: "again"'
    assert admin.faults()["rules"][0]["seen"] == 2


def test_dropped_connection_after_the_response_was_written(client, admin):
    conversation = client.conversations.create()
    admin.set_faults(
        rules=[{"path": "^/v1/responses$", "methods": ["POST"], "drop": True, "when": "after"}]
    )
    with pytest.raises(openai.APIConnectionError):
        client.responses.create(
            model="gpt-4o", input="did it happen?", conversation=conversation.id
        )
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [item.type for item in items] == ["message", "message"]  # the turn was kept
    assert items[1].content[0].text == '[Assistant] You said: "did it happen?"'


def test_stats_count_responses_by_route(client, admin):
    admin.reset_stats()
    response = client.responses.create(model="gpt-4o", input="count me")
    client.responses.retrieve(response.id)
    client.responses.input_items.list(response.id)
    client.models.list()
    assert admin.stats()["requests"] == {
        "POST /v1/responses": 1,
        "GET /v1/responses/{response_id}": 1,
        "GET /v1/responses/{response_id}/input_items": 1,
        "GET /v1/models": 1,
    }
