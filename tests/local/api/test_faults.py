"""Fault injection through the admin API, observed by the SDK over real HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest


def create(client, name="a"):
    return client.beta.assistants.create(model="gpt-4o", name=name)


def assistant_names(client):
    return sorted(a.name for a in client.beta.assistants.list(limit=100).data)


def test_latency_is_added_and_requests_still_overlap(client, admin):
    admin.set_faults(latency_ms=400)
    started = time.monotonic()
    client.beta.assistants.list()
    assert time.monotonic() - started >= 0.35
    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: client.beta.assistants.list(), range(6)))
    assert time.monotonic() - started < 6 * 0.4 - 0.4  # concurrent, not one after another


def test_rate_limit_answers_429_with_headers(client, admin):
    admin.set_faults(rate_limit_per_s=2)
    client.beta.assistants.list()
    client.beta.assistants.list()
    with pytest.raises(openai.RateLimitError) as raised:
        client.beta.assistants.list()
    headers = raised.value.response.headers
    assert float(headers["retry-after"]) >= 1
    assert 0 < int(headers["retry-after-ms"]) <= 1000
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    assert raised.value.body["code"] == "rate_limit_exceeded"
    time.sleep(0.6)
    response = client.beta.assistants.with_raw_response.list()
    assert response.headers["x-ratelimit-limit-requests"] == "2"


def test_fail_rate_is_reproducible_with_a_seed(client, admin):
    def outcomes():
        results = []
        for _ in range(30):
            try:
                client.beta.assistants.list()
                results.append(True)
            except openai.InternalServerError as exc:
                assert exc.body["type"] == "server_error"
                results.append(False)
        return results

    admin.set_faults(fail_rate=0.5, seed=7)
    first = outcomes()
    admin.set_faults(fail_rate=0.5, seed=7)
    assert outcomes() == first
    assert 3 < first.count(False) < 27


def test_nth_rule_before_commit_refuses_without_writing(client, admin):
    admin.set_faults(rules=[{"methods": ["POST"], "path": "^/v1/assistants$", "nth": 2}])
    create(client, "first")
    with pytest.raises(openai.InternalServerError):
        create(client, "second")
    create(client, "third")
    assert assistant_names(client) == ["first", "third"]


def test_rule_after_commit_writes_then_fails(client, admin):
    admin.set_faults(
        rules=[{"methods": ["POST"], "path": "^/v1/assistants$", "when": "after", "status": 503}]
    )
    with pytest.raises(openai.InternalServerError) as raised:
        create(client, "ghost")
    assert raised.value.status_code == 503
    assert assistant_names(client) == ["ghost"]  # the write happened: retrying would duplicate


def test_null_rule_numbers_take_their_defaults(client, admin):
    admin.set_faults(rules=[{"path": "^/v1/assistants$", "nth": None, "count": None}])
    with pytest.raises(openai.InternalServerError):
        create(client, "refused")
    create(client, "accepted")
    assert assistant_names(client) == ["accepted"]


def test_dropped_connection_after_commit(client, admin):
    admin.set_faults(
        rules=[
            {
                "path": "^/v1/vector_stores$",
                "methods": ["POST"],
                "drop": True,
                "when": "after",
                "count": 2,
            }
        ]
    )
    for _ in range(2):
        with pytest.raises(openai.APIConnectionError):
            client.vector_stores.create(name="kb")
    client.vector_stores.create(name="kb")
    assert len(client.vector_stores.list().data) == 3


def test_dropped_connection_before_commit(client, admin):
    admin.set_faults(rules=[{"path": "/v1/assistants", "drop": True}])
    with pytest.raises(openai.APIConnectionError):
        create(client)
    assert assistant_names(client) == []


def test_rule_with_retry_after_and_method_filter(client, admin):
    admin.set_faults(
        rules=[{"methods": ["GET"], "path": "^/v1/assistants", "status": 429, "retry_after": 2}]
    )
    create(client)  # POST is not matched
    with pytest.raises(openai.RateLimitError) as raised:
        client.beta.assistants.list()
    assert raised.value.response.headers["retry-after"] == "2"
    assert raised.value.response.headers["retry-after-ms"] == "2000"
    assert len(client.beta.assistants.list().data) == 1
    assert admin.faults()["rules"][0]["seen"] == 2


def test_clear_faults(client, admin):
    admin.set_faults(latency_ms=5, fail_rate=1.0, rules=[{"path": "."}])
    with pytest.raises(openai.InternalServerError):
        client.beta.assistants.list()
    cleared = admin.clear_faults()
    assert cleared == {
        "latency_ms": 0,
        "rate_limit_per_s": None,
        "fail_rate": 0.0,
        "seed": None,
        "indexing_delay_s": 0.0,
        "rules": [],
    }
    client.beta.assistants.list()


def test_stats_count_routes_by_template_and_skip_admin(client, admin):
    assistant = create(client)
    client.beta.assistants.retrieve(assistant.id)
    client.beta.assistants.retrieve(assistant.id)
    store = client.vector_stores.create()
    client.vector_stores.files.list(store.id)
    admin.faults()
    stats = admin.stats()
    assert stats["requests"] == {
        "POST /v1/assistants": 1,
        "GET /v1/assistants/{assistant_id}": 2,
        "POST /v1/vector_stores": 1,
        "GET /v1/vector_stores/{vector_store_id}/files": 1,
    }
    assert stats["total"] == 5
    assert admin.reset_stats() == {"requests": {}, "total": 0}
    client.beta.assistants.list()
    assert admin.stats()["requests"] == {"GET /v1/assistants": 1}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"latency": 5}, "latency"),
        ({"fail_rate": 2}, "fail_rate"),
        ({"rules": [{"path": "("}]}, "rules[0].path"),
        ({"rules": [{"when": "later"}]}, "rules[0].when"),
        ({"rules": [{"status": 200}]}, "rules[0].status"),
        ({"rules": [{}, {"nth": 0}]}, "rules[1].nth"),
        ({"rules": [{"count": "many"}]}, "rules[0].count"),
        ({"rules": [{"retry_after": -1}]}, "rules[0].retry_after"),
        ({"rules": [{"retry_after": 1e9}]}, "rules[0].retry_after"),
        ({"rules": [{"nth": 1.5}]}, "rules[0].nth"),
        ({"rules": [{"count": 10**12}]}, "rules[0].count"),
        ({"rules": [{"path": "(a)\\1"}]}, "rules[0].path"),
        ({"rules": [{"path": "x" * 1001}]}, "rules[0].path"),
        ({"rules": [{}] * 101}, "rules"),
        ({"latency_ms": 1e300}, "latency_ms"),
        ({"indexing_delay_s": 1e300}, "indexing_delay_s"),
        ({"rate_limit_per_s": 1e300}, "rate_limit_per_s"),
    ],
)
def test_invalid_fault_bodies_are_400(local_server, body, param):
    request = urllib.request.Request(
        local_server.root_url + "/_admin/faults",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 400
    error = json.loads(raised.value.read())["error"]
    assert error["message"] and error["param"] == param


@pytest.mark.timeout(30)
def test_a_catastrophic_pattern_cannot_stall_the_server(client, admin):
    """``(a+)+b`` against a path of 40 a's: a backtracking engine would take hours (it
    took 7 s at 27); RE2 matches in time linear in the path."""
    admin.set_faults(rules=[{"path": "(a+)+b", "status": 503}])
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve("a" * 40)
    with pytest.raises(openai.InternalServerError):
        client.beta.assistants.retrieve("a" * 40 + "b")


def test_regex_like_rule_paths_keep_their_meaning(client, admin):
    admin.set_faults(rules=[{"path": "^/v1/assistants$", "status": 409, "count": 5}])
    with pytest.raises(openai.ConflictError):
        client.beta.assistants.list()
    with pytest.raises(openai.NotFoundError):  # not anchored-matched: answered for real
        client.beta.assistants.retrieve("asst_missing")
    admin.set_faults(rules=[{"path": "/file_batches$", "status": 409}])
    client.beta.assistants.list()
    with pytest.raises(openai.ConflictError):
        client.vector_stores.file_batches.create("vs_x", file_ids=["file-x"])


def test_infinite_latency_is_400_not_500(local_server):
    request = urllib.request.Request(
        local_server.root_url + "/_admin/faults",
        data=b'{"latency_ms": Infinity}',
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 400
