"""Shared fixtures: a fresh embedded local account per test, an SDK client for it, and a
helper over its admin API (stats and fault injection)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest


class Admin:
    """The local server's ``/_admin`` API (plain stdlib HTTP: it is not part of OpenAI's)."""

    def __init__(self, root_url: str, api_key: str | None = None) -> None:
        self.root_url = root_url
        self.api_key = api_key

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.root_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path} -> {exc.code}: {exc.read()!r}") from None

    def stats(self) -> dict[str, Any]:
        return self.request("GET", "/_admin/stats")

    def reset_stats(self) -> dict[str, Any]:
        return self.request("POST", "/_admin/stats/reset")

    def set_faults(self, **body: Any) -> dict[str, Any]:
        return self.request("POST", "/_admin/faults", body)

    def clear_faults(self) -> dict[str, Any]:
        return self.request("DELETE", "/_admin/faults")

    def faults(self) -> dict[str, Any]:
        return self.request("GET", "/_admin/faults")


@pytest.fixture
def local_server(tmp_path):
    """A fresh embedded server with its own data dir on a free loopback port."""
    from assistctl.local import LocalConfig, start_in_process

    server = start_in_process(tmp_path / "account", config=LocalConfig(admin=True))
    yield server
    server.stop()


@pytest.fixture
def client(local_server):
    import openai

    return openai.OpenAI(api_key="test-key", base_url=local_server.base_url, max_retries=0)


@pytest.fixture
def admin(local_server) -> Admin:
    return Admin(local_server.root_url, local_server.api_key)
