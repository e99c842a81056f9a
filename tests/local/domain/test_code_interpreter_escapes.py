"""The sandbox's escape attempts sent as a user would: fenced code in a thread, run by the
deterministic engine through the SDK over HTTP. Each must fail, and the server keep serving."""

from __future__ import annotations

import os
from pathlib import Path

import openai
import pytest

from assistctl.local import LocalConfig, start_in_process

from ..sandbox.attacks import (
    FLOOD,
    FORK_BOMB,
    INFINITE_LOOP,
    MEMORY_BOMB,
    READ_ENVIRONMENT,
    READ_SHADOW,
    SECRET,
    VISIBLE_FILES,
    connect_to,
    find_database,
    host_address,
    kill,
    write_targets,
    write_to,
)

SECONDS = 8.0


@pytest.fixture(scope="module")
def server(sandbox_available, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", SECRET)
        config = LocalConfig(api_key=SECRET, code_interpreter="sandbox", code_seconds=SECONDS)
        with start_in_process(tmp_path_factory.mktemp("attacked"), config=config) as server:
            yield server


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(api_key=SECRET, base_url=server.base_url, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def bot(client):
    return client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])


def attack(client, bot, code: str, thread_id: str | None = None) -> str:
    """Runs ``code`` in a thread; the run completes and the server still runs code after it.
    Returns the attack's logs."""
    thread_id = thread_id or client.beta.threads.create().id
    logs = []
    for step in (code, "print('alive')"):
        client.beta.threads.messages.create(
            thread_id=thread_id, role="user", content=f"```python\n{step}\n```"
        )
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread_id, assistant_id=bot.id, poll_interval_ms=50
        )
        assert run.status == "completed", run.last_error
        steps = client.beta.threads.runs.steps.list(thread_id=thread_id, run_id=run.id)
        (call,) = steps.data[-1].step_details.tool_calls
        logs.append(call.code_interpreter.outputs[0].logs)
    assert logs[1].endswith("alive\n")
    return logs[0]


def test_etc_shadow_cannot_be_read(client, bot):
    logs = attack(client, bot, READ_SHADOW)
    assert "root:" not in logs and "/etc/shadow FileNotFoundError" in logs


def test_the_accounts_database_is_not_visible(server, client, bot):
    database = Path(server.data_dir) / "account.sqlite3"
    assert database.exists()
    logs = attack(client, bot, find_database(database, Path(server.data_dir)))
    assert logs == "False False\n[]\n"


def test_the_servers_environment_and_api_key_are_not_visible(client, bot):
    logs = attack(client, bot, READ_ENVIRONMENT)
    assert "OPENAI_API_KEY" not in logs and SECRET not in logs and "leaks []" in logs


def test_neither_the_servers_port_nor_any_address_can_be_reached(server, client, bot):
    port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    address = host_address()
    targets = [("127.0.0.1", port)] + ([(address, port)] if address else [])
    logs = attack(client, bot, connect_to(targets))
    assert "connected" not in logs and "no route Network is unreachable" in logs


def test_nothing_outside_mnt_data_can_be_written(client, bot):
    marker = f"assistctl-http-marker-{os.getpid()}"
    logs = attack(client, bot, write_to(write_targets(), marker))
    assert "written" not in logs and "mnt/data 2" in logs
    assert not Path("/marker").exists() and not (Path("/tmp") / marker).exists()


def test_another_threads_files_are_not_visible(client, bot):
    private = client.files.create(
        file=("secret-of-a-thread.txt", SECRET.encode()), purpose="assistants"
    )
    owner = client.beta.threads.create(
        tool_resources={"code_interpreter": {"file_ids": [private.id]}}
    )
    assert "secret-of-a-thread.txt" in attack(
        client, bot, "import os\nprint(os.listdir())", owner.id
    )
    logs = attack(
        client,
        bot,
        VISIBLE_FILES + "print(os.listdir('/mnt/data'))\n"
        "print([path for path in visible_files() if 'secret-' in path])",
    )
    assert logs == "[]\n[]\n"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (FORK_BOMB, f"{SECONDS:g} s limit"),
        (INFINITE_LOOP, f"{SECONDS:g} s limit"),
        (FLOOD, "[output truncated after"),
        (kill((os.getpid(), 1)) + "\nos.kill(os.getppid(), signal.SIGKILL)", "PermissionError"),
    ],
    ids=["fork-bomb", "infinite-loop", "100-mb-output", "kill-the-parent-and-server"],
)
def test_bombs_loops_floods_and_kills_are_contained(client, bot, code, expected):
    logs = attack(client, bot, code)
    assert expected in logs and "killed\n" not in logs


def test_a_memory_bomb_is_contained(client, bot):
    logs = attack(client, bot, MEMORY_BOMB)
    assert any(sign in logs for sign in ("MemoryError", "out of memory", "s limit")), logs
