"""Start-up migrations: a database written by the release at 87531ff (one ``objects`` table,
no schema version) is upgraded in place, every object still served; a new database gets the
latest schema; a database newer than the code is refused, never recreated."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import openai
import pytest

from assistctl.errors import AccountError
from assistctl.local import LocalConfig, start_in_process
from assistctl.local.storage import Store, StoreUnavailable
from assistctl.local.storage.migrations import LATEST

RELEASE_DATABASE = Path(__file__).parents[2] / "data" / "account-87531ff.sqlite3"


def version_of(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("SELECT version FROM schema_version").fetchone()[0])
    finally:
        connection.close()


@pytest.fixture
def upgraded(tmp_path):
    shutil.copy(RELEASE_DATABASE, tmp_path / "account.sqlite3")
    with start_in_process(tmp_path, config=LocalConfig()) as server:
        yield openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0), tmp_path


def test_a_release_database_is_upgraded_with_every_object(upgraded):
    client, data_dir = upgraded
    assert version_of(data_dir / "account.sqlite3") == LATEST
    [assistant] = client.beta.assistants.list().data
    assert assistant.name == "support"
    files = client.files.list(purpose="assistants").data
    assert [f.filename for f in files] == ["returns.md"]
    assert [f.filename for f in client.files.list(order="asc").data] == [
        "returns.md",
        "batch.jsonl",
    ]
    assert client.files.content(client.files.list(purpose="batch").data[0].id).read() == b"{}\n"
    [store] = client.vector_stores.list().data
    assert store.file_counts.completed == 1 and store.usage_bytes > 0
    [attached] = client.vector_stores.files.list(store.id, filter="completed").data
    assert attached.attributes == {"year": 2024}
    hits = client.vector_stores.search(store.id, query="How many days do I have to return it?")
    assert [hit.filename for hit in hits.data] == ["returns.md"]


def test_upgraded_threads_runs_and_conversations(upgraded):
    client, data_dir = upgraded
    connection = sqlite3.connect(data_dir / "account.sqlite3")
    [(thread_id,)] = connection.execute("SELECT id FROM threads").fetchall()
    [(conversation_id,)] = connection.execute("SELECT id FROM conversations").fetchall()
    connection.close()
    messages = client.beta.threads.messages.list(thread_id, order="asc").data
    assert [m.role for m in messages] == ["user", "assistant", "user"]
    [run] = client.beta.threads.runs.list(thread_id).data
    assert run.status == "completed"
    by_run = client.beta.threads.messages.list(thread_id, run_id=run.id).data
    assert [m.id for m in by_run] == [messages[1].id]
    assert len(client.beta.threads.runs.steps.list(run.id, thread_id=thread_id).data) == 2
    items = client.conversations.items.list(conversation_id, order="asc").data
    assert [item.type for item in items] == ["message"] * 3
    added = client.beta.threads.messages.create(thread_id, role="user", content="after")
    assert client.beta.threads.messages.list(thread_id, limit=1).data[0].id == added.id
    again = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=run.assistant_id, poll_interval_ms=20
    )
    assert len(client.beta.threads.messages.list(thread_id).data) == 5
    # the upgrade filled the text a run reads from its columns: every message was sent
    sent = [*messages, added]
    words = sum(len(part.text.value.split()) for m in sent for part in m.content)
    assert again.usage.prompt_tokens == len((again.instructions or "").split()) + words


def test_a_new_database_has_the_latest_schema_and_reopens_as_it_is(tmp_path):
    path = tmp_path / "account.sqlite3"
    Store(path).close()
    assert version_of(path) == LATEST
    store = Store(path)
    store.insert("assistant", {"id": "a"})
    store.close()
    reopened = Store(path)
    assert reopened.get("assistant", "a") == {"id": "a"}
    reopened.close()


def test_a_database_newer_than_the_code_is_refused_untouched(tmp_path):
    path = tmp_path / "account.sqlite3"
    Store(path).close()
    connection = sqlite3.connect(path)
    connection.execute("UPDATE schema_version SET version = ?", (LATEST + 1,))
    connection.commit()
    connection.close()
    with pytest.raises(StoreUnavailable, match="newer than this release"):
        Store(path)
    with pytest.raises(AccountError, match="newer than this release"):
        start_in_process(tmp_path, config=LocalConfig())
    assert version_of(path) == LATEST + 1


def test_a_failing_migration_leaves_the_release_database_as_it_was(tmp_path):
    path = tmp_path / "account.sqlite3"
    shutil.copy(RELEASE_DATABASE, path)
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE assistants (x)")  # migration 2 cannot create its table
    connection.commit()
    connection.close()
    with pytest.raises(StoreUnavailable):
        Store(path)
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT COUNT(*) FROM objects").fetchone()[0] > 0
    connection.close()
