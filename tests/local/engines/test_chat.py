"""The chat engine against a small fake chat-completions server on loopback.

The fake answers by simple rules on the conversation it receives (and records every request),
so each test can check both what the local account sent and what it made of the answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AssistantEventHandler

from assistctl.local import LocalConfig, start_in_process

from ..tools import GET_ORDER, BackendHandler, ServedBackend, indexed_store

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["answer", "days"],
}


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def fake_code(user: str) -> str | None:
    """The code the fake model writes: for "solve the equation `ax + b = c`" a solver, else
    the message's fenced block."""
    equation = re.search(r"`(\d+)x \+ (\d+) = (\d+)`", user)
    if equation:
        a, b, c = equation.groups()
        return f"a, b, c = {a}, {b}, {c}\nx = (c - b) / a\nprint(f'x = {{x:g}}')"
    fenced = re.search(r"```(?:python)?\n(.*?)```", user, re.DOTALL)
    return fenced.group(1) if fenced else None


def fake_answer(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The fake model: tool calls when tools fit the question, answers from tool results."""
    messages = request["messages"]
    last = messages[-1]
    tools = {t["function"]["name"] for t in request.get("tools", [])}
    user = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    if "overloaded" in user:
        return 429, {"error": {"message": "Rate limit reached", "type": "requests", "code": None}}
    if "slowly" in user:
        time.sleep(0.6)
    earlier = [str(m.get("content")) for m in messages[:-1]]
    if "enormous" in user or any("overflowing" in content for content in earlier):
        message = "This model's maximum context length is 8192 tokens."
        return 400, {"error": {"message": message, "code": "context_length_exceeded"}}
    if "garbled" in user:
        return 200, completion({"role": "assistant", "content": "half \ud83d of an emoji"})
    if "crash" in user:
        return 500, {"error": {"message": "backend exploded", "type": "server_error"}}
    if last["role"] == "tool":
        if last["content"].startswith("[1] "):
            first = re.split(r"\n\n\[\d+\] ", last["content"])[0].split("\n", 1)[1]
            quote = " ".join(first.split())
            return 200, completion({"role": "assistant", "content": f"{quote} [1]"})
        return 200, completion({"role": "assistant", "content": f"Result: {last['content']}"})
    call = None
    if "get_order" in tools and "order" in user:
        call = ("get_order", {"order_id": re.findall(r"\d+", user)[-1]})
    elif "file_search" in tools:
        call = ("file_search", {"query": user})
    elif "code_interpreter" in tools and fake_code(user) is not None:
        call = ("code_interpreter", {"code": fake_code(user)})
    if call is not None:
        tool_call = {
            "id": "call_fake1",
            "type": "function",
            "function": {"name": call[0], "arguments": json.dumps(call[1])},
        }
        return 200, completion(
            {"role": "assistant", "content": None, "tool_calls": [tool_call]}, "tool_calls"
        )
    if (request.get("response_format") or {}).get("type") == "json_schema":
        return 200, completion({"role": "assistant", "content": '{"answer": "ok", "days": 30}'})
    return 200, completion({"role": "assistant", "content": f"Echo: {user}"})


def stream_chunks(answer: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """A completion as the chat API streams it: content word by word, tool-call arguments in
    two halves, then the finish reason and (if asked) a usage-only chunk."""
    choice = answer["choices"][0]
    message = choice["message"]
    deltas: list[dict[str, Any]] = [{"role": "assistant"}]
    deltas += [{"content": piece} for piece in re.findall(r"\S+\s*", message.get("content") or "")]
    for index, call in enumerate(message.get("tool_calls") or []):
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        head = {"name": call["function"]["name"], "arguments": arguments[:half]}
        deltas.append(
            {
                "tool_calls": [
                    {"index": index, "id": call["id"], "type": "function", "function": head}
                ]
            }
        )
        deltas.append(
            {"tool_calls": [{"index": index, "function": {"arguments": arguments[half:]}}]}
        )
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        for delta in deltas
    ]
    chunks.append(
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}
    )
    if include_usage:
        chunks.append({**base, "choices": [], "usage": answer["usage"]})
    return chunks


class FakeChat(ServedBackend):
    """A chat backend answering by ``fake_answer``. A streamed answer to a message saying
    "stall once" stops after its first word the first time (until the fake closes), as a
    model whose server died mid-answer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.stalled: set[str] = set()
        self.closing = threading.Event()
        fake = self

        class Handler(BackendHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                status, answer = fake_answer(body)
                if status == 200 and body.get("stream"):
                    user = str(body["messages"][-1].get("content"))
                    stall = "stall once" in user and user not in fake.stalled
                    fake.stalled.add(user)
                    include_usage = (body.get("stream_options") or {}).get("include_usage")
                    self.stream(answer, include_usage, stall)
                    return
                # retry-after-ms keeps the client's retries fast
                fast_retry = {"retry-after-ms": "1"} if status >= 429 else {}
                self.send_json(status, json.dumps(answer), fast_retry)

            def stream(self, answer: dict[str, Any], include_usage: bool, stall: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for index, chunk in enumerate(stream_chunks(answer, include_usage)):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if stall and index == 1:
                        fake.closing.wait()
                        return
                self.wfile.write(b"data: [DONE]\n\n")

        super().__init__(Handler)


@pytest.fixture(scope="module")
def fake_chat():
    fake = FakeChat()
    yield fake
    fake.closing.set()
    fake.close()


@pytest.fixture(scope="module")
def chat_client(fake_chat, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("FAKE_CHAT_KEY", "sk-fake-secret")
    config = LocalConfig(
        engine="chat",
        chat_base_url=fake_chat.base_url,
        chat_model_map={"gpt-4o": "fake-llama"},
        chat_api_key_env="FAKE_CHAT_KEY",
    )
    server = start_in_process(tmp_path_factory.mktemp("chat-account"), config=config)
    yield openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=0)
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def run_on(client, assistant_id: str, text: str, **options):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": text}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id, poll_interval_ms=20, **options
    )
    return thread, run


def last_answer(client, thread_id: str) -> str:
    return client.beta.threads.messages.list(thread_id).data[0].content[0].text.value


def test_plain_answer_sends_instructions_model_and_sampling(chat_client, fake_chat):
    bot = chat_client.beta.assistants.create(
        model="gpt-4o", instructions="Be kind.", temperature=0.3
    )
    thread, run = run_on(chat_client, bot.id, "hello model", top_p=0.9, max_completion_tokens=300)
    assert run.status == "completed"
    assert last_answer(chat_client, thread.id) == "Echo: hello model"
    assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (11, 7)
    sent = fake_chat.requests[-1]
    assert sent["model"] == "fake-llama"
    assert sent["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "hello model"},
    ]
    assert (sent["temperature"], sent["top_p"], sent["max_completion_tokens"]) == (0.3, 0.9, 300)
    assert "tools" not in sent
    assert fake_chat.headers[-1]["authorization"] == "Bearer sk-fake-secret"


def test_function_call_round_trip(chat_client, fake_chat):
    bot = chat_client.beta.assistants.create(model="gpt-4o", tools=[GET_ORDER])
    thread, run = run_on(chat_client, bot.id, "status of order 77", parallel_tool_calls=False)
    assert run.status == "requires_action"
    assert fake_chat.requests[-1]["parallel_tool_calls"] is False
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_order",
        {"order_id": "77"},
    )
    # sent as defined: the default strict false the account fills in is not passed on
    assert fake_chat.requests[-1]["tools"][0]["function"] == GET_ORDER["function"]
    run = chat_client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "shipped"}],
        poll_interval_ms=20,
    )
    assert run.status == "completed"
    assert last_answer(chat_client, thread.id) == "Result: shipped"
    sent = fake_chat.requests[-1]["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == call.id
    assert sent[-1] == {"role": "tool", "tool_call_id": call.id, "content": "shipped"}
    assert run.usage.total_tokens == 36  # two chat calls


def test_file_search_round_trip_with_citation(chat_client, fake_chat, tmp_path):
    uploaded, store = indexed_store(
        chat_client, tmp_path / "returns.md", "Returns are accepted within 30 days of delivery."
    )
    bot = chat_client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread, run = run_on(chat_client, bot.id, "how many days for returns")
    assert run.status == "completed"
    message = chat_client.beta.threads.messages.list(thread.id).data[0]
    text = message.content[0].text
    assert text.value == "Returns are accepted within 30 days of delivery. [1]"
    (annotation,) = text.annotations
    assert annotation.text == "[1]" and annotation.file_citation.file_id == uploaded.id
    assert text.value[annotation.start_index : annotation.end_index] == "[1]"
    tool_result = fake_chat.requests[-1]["messages"][-1]["content"]
    assert tool_result.startswith("[1] returns.md:") and "30 days" in tool_result
    step = chat_client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data[
        0
    ]
    assert step.step_details.tool_calls[0].type == "file_search"
    assert step.step_details.tool_calls[0].file_search.results[0].file_name == "returns.md"


def test_json_schema_is_passed_as_structured_output(chat_client, fake_chat):
    bot = chat_client.beta.assistants.create(model="gpt-4o")
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA, "strict": True},
    }
    thread, run = run_on(chat_client, bot.id, "returns?", response_format=response_format)
    assert run.status == "completed"
    assert json.loads(last_answer(chat_client, thread.id)) == {"answer": "ok", "days": 30}
    assert fake_chat.requests[-1]["response_format"] == response_format


def test_backend_errors_fail_the_run_with_api_codes(chat_client):
    bot = chat_client.beta.assistants.create(model="gpt-4o")
    _, run = run_on(chat_client, bot.id, "you are overloaded")
    assert run.status == "failed"
    assert run.last_error.code == "rate_limit_exceeded"
    assert "sk-fake-secret" not in run.last_error.message
    _, run = run_on(chat_client, bot.id, "please crash")
    assert run.status == "failed"
    assert run.last_error.code == "server_error"
    assert "500" in run.last_error.message and "backend exploded" in run.last_error.message
    _, run = run_on(chat_client, bot.id, "an enormous thread")
    assert run.status == "failed"
    assert run.last_error.code == "invalid_prompt"
    assert "context window" in run.last_error.message


def test_the_math_tutor_solves_its_equation_with_code_that_really_runs(
    chat_client, fake_chat, sandbox_available
):
    """The seed notebook's first example, as openai-python's examples/assistant.py runs it."""
    assistant = chat_client.beta.assistants.create(
        name="Math Tutor",
        instructions="You are a personal math tutor. Write and run code to answer math questions.",
        tools=[{"type": "code_interpreter"}],
        model="gpt-4o",
    )
    thread = chat_client.beta.threads.create()
    chat_client.beta.threads.messages.create(
        thread_id=thread.id,
        role="user",
        content="I need to solve the equation `3x + 11 = 14`. Can you help me?",
    )
    run = chat_client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        instructions="Please address the user as Jane Doe. The user has a premium account.",
        poll_interval_ms=20,
    )
    assert run.status == "completed", run.last_error
    offered = [t["function"]["name"] for t in fake_chat.requests[-2]["tools"]]
    assert offered == ["code_interpreter"]
    steps = chat_client.beta.threads.runs.steps.list(
        thread_id=thread.id, run_id=run.id, order="asc"
    )
    (call,) = steps.data[0].step_details.tool_calls
    assert call.type == "code_interpreter" and "x = (c - b) / a" in call.code_interpreter.input
    assert call.code_interpreter.outputs[0].logs == "x = 1\n"  # printed by the kernel
    assert fake_chat.requests[-1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "x = 1",
    }
    assert last_answer(chat_client, thread.id) == "Result: x = 1"


def test_a_streamed_code_run_shows_its_input_and_logs(chat_client, sandbox_available):
    """openai-python's examples/assistant_stream_helpers.py: the streamed tool call carries
    the code and its output."""
    bot = chat_client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])
    thread = chat_client.beta.threads.create(
        messages=[{"role": "user", "content": "```python\nprint(6 * 7)\n```"}]
    )
    seen: dict[str, tuple[str, list[str]]] = {}

    class Handler(AssistantEventHandler):
        def on_tool_call_done(self, tool_call) -> None:  # the SDK may report it more than once
            if tool_call.type == "code_interpreter":
                ran = tool_call.code_interpreter
                seen[tool_call.id] = (ran.input, [output.logs for output in ran.outputs])

    with chat_client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=bot.id, event_handler=Handler()
    ) as stream:
        stream.until_done()
    assert list(seen.values()) == [("print(6 * 7)\n", ["42\n"])]
    assert last_answer(chat_client, thread.id) == "Result: 42"


def test_without_the_sandbox_the_tool_is_not_offered_and_the_model_answers(fake_chat, tmp_path):
    config = LocalConfig(engine="chat", chat_base_url=fake_chat.base_url, code_interpreter="off")
    with start_in_process(tmp_path, config=config) as server:
        client = openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=0)
        bot = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])
        thread, run = run_on(client, bot.id, "```python\nprint(1)\n```")
        assert run.status == "completed"
        assert "tools" not in fake_chat.requests[-1]
        steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id)
        assert [step.type for step in steps.data] == ["message_creation"]


def test_truncation_strategy_keeps_the_last_messages(chat_client, fake_chat):
    bot = chat_client.beta.assistants.create(model="gpt-4o")
    thread = chat_client.beta.threads.create(
        messages=[{"role": "user", "content": f"message {i}"} for i in range(4)]
    )
    run = chat_client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=bot.id,
        truncation_strategy={"type": "last_messages", "last_messages": 2},
        poll_interval_ms=20,
    )
    assert run.status == "completed"
    assert [m["content"] for m in fake_chat.requests[-1]["messages"]] == ["message 2", "message 3"]


def test_streaming_with_the_sdk_helper(chat_client, fake_chat):
    bot = chat_client.beta.assistants.create(model="gpt-4o")
    thread = chat_client.beta.threads.create(messages=[{"role": "user", "content": "stream me"}])
    events: list[str] = []
    pieces: list[str] = []

    class Handler(AssistantEventHandler):
        def on_event(self, event) -> None:
            events.append(event.event)

        def on_text_delta(self, delta, snapshot) -> None:
            pieces.append(delta.value or "")

    with chat_client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=bot.id, event_handler=Handler()
    ) as stream:
        stream.until_done()
    assert events[0] == "thread.run.created" and events[-1] == "thread.run.completed"
    assert events.count("thread.message.delta") == 3  # the backend's pieces, as they came
    assert "".join(pieces) == "Echo: stream me"
    assert fake_chat.requests[-1]["stream"] is True
    run = chat_client.beta.threads.runs.list(thread_id=thread.id).data[0]
    assert run.usage.total_tokens == 18  # reported in the backend's last chunk
    stored = chat_client.beta.threads.messages.list(thread.id).data[0]
    assert stored.status == "completed" and stored.content[0].text.value == "Echo: stream me"


def test_streamed_function_call_and_file_search_citation(chat_client, fake_chat, tmp_path):
    uploaded, store = indexed_store(
        chat_client, tmp_path / "warranty.md", "Every product has a 2 year warranty."
    )
    bot = chat_client.beta.assistants.create(
        model="gpt-4o",
        tools=[GET_ORDER, {"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = chat_client.beta.threads.create(messages=[{"role": "user", "content": "order 9"}])
    with chat_client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=bot.id) as stream:
        stream.until_done()
        run = stream.current_run
    assert run.status == "requires_action"
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert json.loads(call.function.arguments) == {"order_id": "9"}
    with chat_client.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "lost"}],
    ) as stream:
        stream.until_done()
        (message,) = stream.get_final_messages()
    assert message.content[0].text.value == "Result: lost"

    thread = chat_client.beta.threads.create(
        messages=[{"role": "user", "content": "warranty length"}]
    )
    with chat_client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=bot.id) as stream:
        stream.until_done()
        (message,) = stream.get_final_messages()
        snapshot = stream.current_message_snapshot
    text = message.content[0].text
    assert text.value == "Every product has a 2 year warranty. [1]"
    assert text.annotations[0].file_citation.file_id == uploaded.id
    assert snapshot.content[0].text.annotations[0].text == "[1]"


def test_cancel_while_the_model_is_thinking(chat_client):
    bot = chat_client.beta.assistants.create(model="gpt-4o")
    thread = chat_client.beta.threads.create(
        messages=[{"role": "user", "content": "answer slowly"}]
    )
    run = chat_client.beta.threads.runs.create(thread_id=thread.id, assistant_id=bot.id)
    for _ in range(100):
        if chat_client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status != "queued":
            break
        time.sleep(0.01)
    cancelling = chat_client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelling.status == "cancelling"
    run = chat_client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=50)
    assert run.status == "cancelled" and run.cancelled_at
    assert chat_client.beta.threads.messages.list(thread.id).data[0].role == "user"


def test_run_interrupted_by_a_restart_is_taken_over_by_the_next_server(fake_chat, tmp_path):
    data = tmp_path / "account"
    # the answer takes longer than a stopping server waits for runs under way
    config = LocalConfig(engine="chat", chat_base_url=fake_chat.base_url, engine_delay_s=30)
    server = start_in_process(data, config=config)
    client = openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=0)
    bot = client.beta.assistants.create(model="gpt-4o", name="Phoenix")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "think slowly"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=bot.id)
    server.stop()  # the model has not answered yet
    server = start_in_process(data, config=LocalConfig())
    try:
        client = openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=0)
        run = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=20)
        assert run.status == "completed"
        answer = client.beta.threads.messages.list(thread.id).data[0].content[0].text.value
        assert answer == '[Phoenix] You said: "think slowly"'
    finally:
        server.stop()


def test_serve_refuses_chat_engine_without_endpoint(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from assistctl.cli import cli

    monkeypatch.delenv("ASSISTCTL_LOCAL_CHAT_BASE_URL", raising=False)
    data = str(tmp_path / "data")
    result = CliRunner().invoke(cli, ["local", "serve", "--engine", "chat", "--data", data])
    assert result.exit_code == 1
    assert "--chat-base-url" in result.output
    result = CliRunner().invoke(
        cli,
        ["local", "serve", "--engine", "chat", "--chat-base-url", "http://127.0.0.1:9/v1",
         "--chat-model-map", "gpt-4o", "--data", data],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "expected NAME=MODEL" in result.output


def test_quickstart_smoke_tests_pass_on_the_chat_engine(fake_chat, tmp_path, monkeypatch):
    """The quickstart, applied and smoke-tested through the CLI on a local account whose runs
    are answered by the (fake) chat model."""
    from click.testing import CliRunner

    from assistctl.cli import cli

    quickstart = Path(__file__).resolve().parents[3] / "examples" / "quickstart"
    monkeypatch.setenv("ASSISTCTL_LOCAL_ENGINE", "chat")
    monkeypatch.setenv("ASSISTCTL_LOCAL_CHAT_BASE_URL", fake_chat.base_url)
    monkeypatch.setenv("ASSISTCTL_LOCAL_CHAT_MODEL_MAP", "*=fake-llama")
    account = f"local:{tmp_path / 'account'}"
    applied = CliRunner().invoke(cli, ["--account", account, "apply", str(quickstart), "--yes"])
    assert applied.exit_code == 0, applied.output
    seen = len(fake_chat.requests)
    tested = CliRunner().invoke(cli, ["--account", account, "test", str(quickstart)])
    assert tested.exit_code == 0, tested.output
    assert "3 passed" in tested.output
    models = {request["model"] for request in fake_chat.requests[seen:]}
    assert models == {"fake-llama"}


def test_a_backend_answer_with_a_lone_surrogate_is_stored_as_valid_text(chat_client):
    """A backend's ``"\\ud83d"`` escape would make the message unrenderable: it becomes U+FFFD
    and every list that holds it still renders."""
    bot = chat_client.beta.assistants.create(model="gpt-4o")
    thread, run = run_on(chat_client, bot.id, "say something garbled")
    assert run.status == "completed"
    assert last_answer(chat_client, thread.id) == "half \ufffd of an emoji"


# --- responses answered by the chat engine -------------------------------------------------------

ORDER_TOOL = {"type": "function", **GET_ORDER["function"]}


def test_responses_are_answered_with_the_same_rules_as_runs(chat_client, fake_chat):
    response = chat_client.responses.create(
        model="gpt-4o",
        instructions="Be kind.",
        input=[
            {"role": "developer", "content": "Use short words."},
            {"role": "user", "content": "hello model"},
        ],
        temperature=0.4,
        max_output_tokens=64,
        reasoning={"effort": "low"},
        extra_body={"presence_penalty": 0.5},
    )
    assert response.output_text == "Echo: hello model"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 7)
    sent = fake_chat.requests[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "system", "content": "Use short words."},
        {"role": "user", "content": "hello model"},
    ]
    assert (sent["temperature"], sent["max_completion_tokens"]) == (0.4, 64)
    assert (sent["reasoning_effort"], sent["presence_penalty"]) == ("low", 0.5)
    assert "top_p" not in sent  # not given: the response shows 1.0 but nothing is sent

    first = chat_client.responses.create(
        model="gpt-4o", input="status of order 12", tools=[ORDER_TOOL]
    )
    (call,) = first.output
    assert (call.name, call.call_id) == ("get_order", "call_fake1")
    second = chat_client.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        tools=[ORDER_TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "packed"}],
    )
    assert second.output_text == "Result: packed"
    assert fake_chat.requests[-1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_fake1",
        "content": "packed",
    }


def test_streamed_response_reports_the_search_before_the_answer(chat_client, fake_chat, tmp_path):
    uploaded, store = indexed_store(
        chat_client, tmp_path / "returns.md", "Returns are accepted within 30 days of delivery."
    )
    tool = {"type": "file_search", "vector_store_ids": [store.id]}
    with chat_client.responses.stream(
        model="gpt-4o", input="how many days for returns", tools=[tool]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert [item.type for item in final.output] == ["file_search_call", "message"]
    assert kinds.index("response.file_search_call.completed") < kinds.index(
        "response.output_text.delta"
    )
    assert fake_chat.requests[-1]["stream"] is True  # the answer streamed from the backend
    (citation,) = final.output[1].content[0].annotations
    assert citation.file_id == uploaded.id and citation.filename == "returns.md"


def test_truncation_auto_drops_the_oldest_messages_until_the_model_fits(chat_client):
    history = [
        {"role": "user", "content": "an overflowing pile of history"},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": "what now"},
    ]
    refused = chat_client.responses.create(model="gpt-4o", input=history)
    assert refused.status == "failed" and refused.error.code == "invalid_prompt"
    fitted = chat_client.responses.create(model="gpt-4o", input=history, truncation="auto")
    assert fitted.status == "completed" and fitted.output_text == "Echo: what now"
