"""The responses engine against a second local account acting as its Responses-API backend:
the front account keeps its own files, vector stores, runs, responses and conversations; the
backend's deterministic engine answers what the front sends it."""

from __future__ import annotations

import base64
import json

import openai
import pytest

from assistctl.errors import AccountError
from assistctl.local import LocalConfig, config_from_env, serve_config, start_in_process

from ...conftest import Admin
from ..tools import GET_ORDER, BackendHandler, ServedBackend, indexed_store
from .test_chat_credentials import (
    KEY,
    PASSWORD,
    QUERY_KEY,
    EchoingBackend,
    closed_port,
    database_bytes,
)

ORDER_TOOL = {"type": "function", **GET_ORDER["function"]}


@pytest.fixture
def backend(tmp_path):
    """The second local account, with its admin API so a test can make it misbehave."""
    with start_in_process(tmp_path / "backend", config=LocalConfig(admin=True)) as server:
        yield server


@pytest.fixture
def front(tmp_path, backend):
    config = LocalConfig(
        engine="responses",
        backend_base_url=backend.base_url,
        backend_model_map={"gpt-4o": "gpt-4o-mini"},
    )
    with start_in_process(tmp_path / "front", config=config) as server:
        yield openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)


def test_responses_and_runs_are_answered_by_the_backend(front, backend):
    response = front.responses.create(model="gpt-4o", input="Hello backend", instructions="Hi")
    assert response.status == "completed" and response.model == "gpt-4o"
    assert response.output_text == '[Assistant] You said: "Hello backend"'
    assert response.usage.input_tokens == 3 and response.usage.output_tokens == 5
    # The backend was asked statelessly, with the mapped model.
    backend_client = openai.OpenAI(api_key="x", base_url=backend.base_url, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        backend_client.responses.retrieve(response.id)

    assistant = front.beta.assistants.create(model="gpt-4o", name="Front Bot")
    run = front.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Hello from a run"}]},
        poll_interval_ms=20,
    )
    assert run.status == "completed"
    (message,) = front.beta.threads.messages.list(thread_id=run.thread_id, run_id=run.id).data
    assert message.content[0].text.value == '[Assistant] You said: "Hello from a run"'


def test_function_call_round_trip_through_the_backend(front):
    first = front.responses.create(model="gpt-4o", input="Where is order 42?", tools=[ORDER_TOOL])
    (call,) = first.output
    assert call.name == "get_order" and json.loads(call.arguments) == {"order_id": "42"}
    second = front.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        tools=[ORDER_TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "delivered"}],
    )
    assert second.output_text == "Here is what get_order returned: delivered."


def test_file_search_is_served_by_the_front_index_with_citations(front, tmp_path):
    uploaded, store = indexed_store(
        front, tmp_path / "returns.md", "Returns are accepted within 30 days of delivery.\n"
    )
    tool = {"type": "file_search", "vector_store_ids": [store.id]}
    response = front.responses.create(
        model="gpt-4o", input='Search the files for "returns accepted"', tools=[tool]
    )
    search, message = response.output
    assert search.type == "file_search_call" and search.queries == ["returns accepted"]
    text = message.content[0].text
    assert text.startswith("Here is what file_search returned: [1] returns.md:")
    assert "30 days" in text
    (citation,) = message.content[0].annotations
    assert citation.file_id == uploaded.id and text[citation.index :].startswith("[1]")


def test_streaming_through_the_backend(front):
    with front.responses.stream(model="gpt-4o", input="stream through the backend") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert final.output_text == '[Assistant] You said: "stream through the backend"'
    assert kinds.count("response.output_text.delta") >= 2 and kinds[-1] == "response.completed"


def test_code_the_backend_asks_for_runs_in_this_accounts_sandbox(front, sandbox_available):
    """The backend (a deterministic account) is offered code_interpreter as a function and
    calls it; the code runs here and the backend answers from its output."""
    tool = {"type": "code_interpreter", "container": {"type": "auto"}}
    response = front.responses.create(
        model="gpt-4o",
        input="Use the code interpreter with code x=6*7;x",
        tools=[tool],
        include=["code_interpreter_call.outputs"],
    )
    assert response.status == "completed", response.error
    call, message = response.output
    assert call.type == "code_interpreter_call" and call.code == "x=6*7;x"
    assert call.outputs[0].logs == "42\n"
    assert message.content[0].text == "Here is what code_interpreter returned: 42."


def test_without_the_sandbox_the_backend_answers_without_the_tool(backend, tmp_path):
    config = LocalConfig(
        engine="responses", backend_base_url=backend.base_url, code_interpreter="off"
    )
    with start_in_process(tmp_path / "off", config=config) as server:
        client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
        tool = {"type": "code_interpreter", "container": {"type": "auto"}}
        response = client.responses.create(
            model="gpt-4o", input='Use the code interpreter with code "1"', tools=[tool]
        )
        assert response.status == "completed"
        assert [item.type for item in response.output] == ["message"]


def test_backend_errors_fail_the_response(front, backend):
    Admin(backend.root_url).set_faults(
        rules=[{"path": "^/v1/responses$", "status": 429, "count": 10}]
    )
    response = front.responses.create(model="gpt-4o", input="are you there?")
    assert response.status == "failed" and response.error.code == "rate_limit_exceeded"
    assert "429" in response.error.message


def test_models_are_the_model_map_or_the_backend_list(front, backend, tmp_path):
    assert [model.id for model in front.models.list()] == ["gpt-4o"]
    config = LocalConfig(engine="responses", backend_base_url=backend.base_url)
    with start_in_process(tmp_path / "unmapped", config=config) as server:
        client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
        assert "gpt-4.1-mini" in [model.id for model in client.models.list()]


def test_output_limits_pass_through(front):
    response = front.responses.create(
        model="gpt-4o", input="one two three four five six " * 5, max_output_tokens=16
    )
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"


def test_the_backend_key_comes_from_the_named_variable_and_is_never_shown(tmp_path, monkeypatch):
    keyed = LocalConfig(api_key="backend-secret")
    with start_in_process(tmp_path / "keyed", config=keyed) as backend:
        config = LocalConfig(
            engine="responses", backend_base_url=backend.base_url, backend_api_key_env="BACKEND_KEY"
        )
        with start_in_process(tmp_path / "front", config=config) as server:
            client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
            refused = client.responses.create(model="gpt-4o", input="hi")
            assert refused.status == "failed" and "401" in refused.error.message
            monkeypatch.setenv("BACKEND_KEY", "backend-secret")
        with start_in_process(tmp_path / "front", config=config) as server:
            client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
            assert client.responses.create(model="gpt-4o", input="hi").status == "completed"
            assert "backend-secret" not in json.dumps(
                client.responses.retrieve(refused.id).to_dict()
            )


def test_configuration_from_flags_and_environment():
    env = {
        "ASSISTCTL_LOCAL_ENGINE": "responses",
        "ASSISTCTL_LOCAL_BACKEND_BASE_URL": "http://127.0.0.1:9/v1",
        "ASSISTCTL_LOCAL_BACKEND_MODEL_MAP": "gpt-4o=llama3.1,*=qwen",
        "ASSISTCTL_LOCAL_BACKEND_API_KEY_ENV": "MY_KEY",
    }
    config = config_from_env(env)
    assert (config.engine, config.backend_base_url) == ("responses", "http://127.0.0.1:9/v1")
    assert config.backend_model_map == {"gpt-4o": "llama3.1", "*": "qwen"}
    assert config.backend_api_key_env == "MY_KEY"
    flagged = serve_config(
        {"engine": "responses", "backend_base_url": "http://127.0.0.1:9/v1"},
        backend_model_map=["gpt-4o=mini"],
        environ={},
    )
    assert flagged.backend_model_map == {"gpt-4o": "mini"}
    with pytest.raises(AccountError, match="needs the Responses-API endpoint"):
        serve_config({"engine": "responses"}, environ={})


class SurrogateBackend(ServedBackend):
    """A Responses backend that answers every request with a lone surrogate escape."""

    def __init__(self) -> None:
        class Handler(BackendHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                answer = {
                    "id": "resp_fake",
                    "object": "response",
                    "created_at": 0,
                    "model": "fake",
                    "status": "completed",
                    "parallel_tool_calls": True,
                    "tool_choice": "auto",
                    "tools": [],
                    "output": [
                        {
                            "id": "msg_fake",
                            "type": "message",
                            "role": "assistant",
                            "status": "completed",
                            "content": [
                                {"type": "output_text", "text": "PLACEHOLDER", "annotations": []}
                            ],
                        }
                    ],
                }
                text = json.dumps(answer).replace("PLACEHOLDER", "half \\ud83d of an emoji")
                self.send_json(200, text)

        super().__init__(Handler)


def test_a_backend_answer_with_a_lone_surrogate_is_kept_as_valid_text(tmp_path):
    fake = SurrogateBackend()
    try:
        config = LocalConfig(engine="responses", backend_base_url=fake.base_url)
        with start_in_process(tmp_path / "front", config=config) as server:
            client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
            response = client.responses.create(model="gpt-4o", input="say something garbled")
            assert response.output_text == "half \ufffd of an emoji"
            assert client.responses.retrieve(response.id).output_text == response.output_text
    finally:
        fake.close()


@pytest.mark.parametrize("reachable", [True, False], ids=["backend-echoes-key", "unreachable"])
def test_no_backend_credential_reaches_the_database_or_any_answer(tmp_path, monkeypatch, reachable):
    echoing = EchoingBackend()
    try:
        monkeypatch.setenv("BACKEND_KEY", KEY)
        port = echoing.port if reachable else closed_port()
        url = f"http://user:{PASSWORD}@127.0.0.1:{port}/v1?api-key={QUERY_KEY}"
        config = LocalConfig(
            engine="responses", backend_base_url=url, backend_api_key_env="BACKEND_KEY"
        )
        data = tmp_path / "account"
        with start_in_process(data, config=config) as server:
            client = openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=0)
            response = client.responses.create(model="gpt-4o", input="hello", background=True)
            while response.status in ("queued", "in_progress"):
                response = client.responses.retrieve(response.id)
            assert response.status == "failed"
            assert ("401" if reachable else "127.0.0.1") in response.error.message
            with client.responses.stream(model="gpt-4o", input="again") as stream:
                answers = [event.model_dump_json() for event in stream]
            answers.append(client.responses.retrieve(response.id).model_dump_json())
    finally:
        echoing.close()
    stored = database_bytes(data)
    basic = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    for secret in (KEY, PASSWORD, QUERY_KEY, basic):
        assert secret.encode() not in stored, secret
        for answer in answers:
            assert secret not in answer, (secret, answer)
