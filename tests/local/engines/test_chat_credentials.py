"""The chat engine never lets its backend's credentials out: not the key, not a password or
``?api-key=`` in the base URL, not a backend error that echoes the key. ``last_error`` is stored
and shown to every client, so the test reads the database files and every answer."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import openai
import pytest

from assistctl.local import LocalConfig, start_in_process

from ..tools import BackendHandler, ServedBackend

KEY = "sk-backend-KEY-3f9a1c"
PASSWORD = "PASS-word-77e1"
QUERY_KEY = "QUERY-key-5b2d"


class EchoingBackend(ServedBackend):
    """Answers every chat completion 401 with a message that echoes what it was sent."""

    def __init__(self) -> None:
        class Handler(BackendHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                echoed = (
                    f"Incorrect API key provided: {self.headers['Authorization']} at {self.path}"
                )
                self.send_json(
                    401, json.dumps({"error": {"message": echoed, "code": "invalid_api_key"}})
                )

        super().__init__(Handler)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_bytes(data: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(data.glob("account.sqlite3*")))


@pytest.fixture
def backend():
    fake = EchoingBackend()
    yield fake
    fake.close()


@pytest.mark.parametrize("reachable", [True, False], ids=["backend-echoes-key", "unreachable"])
def test_no_credential_reaches_the_database_or_any_answer(
    backend, tmp_path, monkeypatch, reachable
):
    monkeypatch.setenv("CHAT_KEY", KEY)
    port = backend.port if reachable else closed_port()
    url = f"http://user:{PASSWORD}@127.0.0.1:{port}/v1?api-key={QUERY_KEY}"
    config = LocalConfig(engine="chat", chat_base_url=url, chat_api_key_env="CHAT_KEY")
    data = tmp_path / "account"
    server = start_in_process(data, config=config)
    try:
        client = openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=0)
        bot = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=bot.id, poll_interval_ms=20
        )
        assert run.status == "failed", run
        answers = [
            run.model_dump_json(),
            client.beta.threads.runs.list(thread.id).model_dump_json(),
            client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).model_dump_json(),
            client.beta.threads.messages.list(thread.id).model_dump_json(),
        ]
        with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=bot.id) as stream:
            answers.extend(event.model_dump_json() for event in stream)
        message = run.last_error.message
        assert ("401" if reachable else "127.0.0.1") in message  # still says what failed
    finally:
        server.stop()
    stored = database_bytes(data)
    assert stored
    basic = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    for secret in (KEY, PASSWORD, QUERY_KEY, basic):
        assert secret.encode() not in stored, secret
        for answer in answers:
            assert secret not in answer, (secret, answer)
