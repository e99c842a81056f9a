"""What a request may carry: a web page cannot drive a loopback account (Content-Type, Origin,
Host), the admin API is off unless asked for, bodies are bounded, and malformed JSON of every
kind is a 400, never a 500."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from assistctl.local import LocalConfig, start_in_process
from assistctl.local.api.intake import MAX_JSON_BODY_BYTES
from tests.local.tools import indexed_store

JSON = {"Content-Type": "application/json"}


def send(
    server, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One raw HTTP request with exactly these headers (Host defaults to the server's)."""
    address = urlsplit(server.root_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        chosen = {"Host": address.netloc, **(headers or {})}
        for name, value in chosen.items():
            connection.putheader(name, value)
        if body and "Transfer-Encoding" not in chosen:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def assistant_count(server) -> int:
    status, page = send(server, "GET", "/v1/assistants?limit=100")
    assert status == 200
    return len(page["data"])


# --- a web page cannot drive the account (CSRF, DNS rebinding) ----------------------------------


def test_a_text_plain_post_from_a_web_page_creates_nothing(local_server):
    body = b'{"model": "gpt-4o"}'
    status, answer = send(
        local_server, "POST", "/v1/assistants", body, {"Content-Type": "text/plain"}
    )
    assert status == 400 and "Content-Type" in answer["error"]["message"]
    status, _ = send(local_server, "POST", "/v1/threads", b"", {"Content-Type": "text/plain"})
    assert status == 400
    assert assistant_count(local_server) == 0


def test_a_foreign_origin_is_refused_even_with_json(local_server):
    body = b'{"model": "gpt-4o"}'
    for origin in ("http://evil.example", "null", "http://127.0.0.1:1"):
        status, answer = send(
            local_server, "POST", "/v1/assistants", body, {**JSON, "Origin": origin}
        )
        assert status == 403 and answer["error"]["code"] == "invalid_origin", origin
    status, _ = send(local_server, "POST", "/v1/threads", b"", {"Origin": "http://evil.example"})
    assert status == 403
    assert assistant_count(local_server) == 0
    own = f"http://localhost:{local_server.port}"
    status, _ = send(local_server, "POST", "/v1/assistants", body, {**JSON, "Origin": own})
    assert status == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "attacker.com:1234", ""])
def test_a_foreign_host_is_refused_on_loopback(local_server, host):
    """DNS rebinding: the page's own name now points at 127.0.0.1, and Host still says so."""
    status, answer = send(local_server, "GET", "/v1/assistants", headers={"Host": host})
    assert status == 403 and answer["error"]["code"] == "invalid_host"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.1:{port}", "[::1]:{port}"])
def test_loopback_hosts_are_served(local_server, host):
    chosen = host.format(port=local_server.port)
    status, _ = send(local_server, "GET", "/v1/assistants", headers={"Host": chosen})
    assert status == 200


def test_the_admin_api_is_off_unless_asked_for(tmp_path):
    with start_in_process(tmp_path / "account", config=LocalConfig()) as server:
        status, _ = send(server, "POST", "/_admin/faults", b'{"fail_rate": 1}', JSON)
        assert status == 404
        status, _ = send(server, "GET", "/_admin/stats")
        assert status == 404
        assert assistant_count(server) == 0  # and nothing fails


def test_the_admin_api_has_its_own_key_when_given_one(tmp_path):
    config = LocalConfig(api_key="api-key", admin=True, admin_key="admin-key")
    with start_in_process(tmp_path / "account", config=config) as server:
        bearer = {"Authorization": "Bearer api-key"}
        assert send(server, "GET", "/_admin/stats", headers=bearer)[0] == 401
        admin = {"Authorization": "Bearer admin-key"}
        assert send(server, "GET", "/_admin/stats", headers=admin)[0] == 200
        assert send(server, "GET", "/v1/assistants", headers=admin)[0] == 401


def test_the_admin_api_is_driven_with_json_only(tmp_path, admin):
    status, _ = admin_post(admin, b'{"fail_rate": 1}', "text/plain")
    assert status == 400
    assert admin.faults()["fail_rate"] == 0


def admin_post(admin, body: bytes, content_type: str) -> tuple[int, Any]:
    address = urlsplit(admin.root_url)

    class Server:
        root_url = admin.root_url
        port = address.port

    return send(Server, "POST", "/_admin/faults", body, {"Content-Type": content_type})


# --- bounded sizes -----------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_413_before_it_is_read(local_server):
    address = urlsplit(local_server.root_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.putrequest("POST", "/v1/assistants")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(100 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()  # answered without sending a byte of the body
        assert response.status == 413
        assert json.loads(response.read())["error"]["code"] == "request_too_large"
    finally:
        connection.close()


def test_a_chunked_body_is_cut_off_at_the_limit(local_server):
    padding = b" " * (MAX_JSON_BODY_BYTES + 1)
    chunked = hex(len(padding))[2:].encode() + b"\r\n" + padding + b"\r\n0\r\n\r\n"
    status, answer = send(
        local_server,
        "POST",
        "/v1/assistants",
        chunked,
        {**JSON, "Transfer-Encoding": "chunked"},
    )
    assert status == 413 and answer["error"]["code"] == "request_too_large"


# --- malformed JSON is a 400 --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"model": "gpt-4o", "metadata": ' + b'{"a": ' * 70 + b"1" + b"}" * 70 + b"}",
        b'{"model": "gpt-4o", "top_p": ' + b"9" * 5000 + b"}",
        b'{"model": "gpt-4o", "top_p": -' + b"9" * 5000 + b"}",
    ],
    ids=["nested-100000", "nested-70", "int-5000-digits", "negative-int-5000-digits"],
)
def test_deep_nesting_and_huge_integers_are_400(local_server, raw):
    status, answer = send(local_server, "POST", "/v1/assistants", raw, JSON)
    assert status == 400, answer
    assert answer["error"]["type"] == "invalid_request_error"


def test_filters_nested_900_deep_are_400(client, local_server, tmp_path):
    _, store = indexed_store(client, tmp_path / "a.md", "alpha beta")
    nested = '{"type": "eq", "key": "k", "value": "v"}'
    for _ in range(900):  # Python's json cannot even write this: built as text
        nested = '{"type": "and", "filters": [' + nested + "]}"
    raw = ('{"query": "alpha", "filters": ' + nested + "}").encode()
    status, answer = send(local_server, "POST", f"/v1/vector_stores/{store.id}/search", raw, JSON)
    assert status == 400 and answer["error"]["type"] == "invalid_request_error"
