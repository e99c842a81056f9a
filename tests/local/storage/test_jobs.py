"""The job table on both engines: a new job is held by the replica that queued it; an expired
lease is taken over by exactly one claimer, with a new token that fences the old holder out;
a stopping replica's leases expire at once; a database migrated from version 3 turns its
unfinished runs and responses into jobs any replica takes over."""

from __future__ import annotations

import sqlite3
import threading
import time

import openai
import pytest

from assistctl.local import LocalConfig, start_in_process
from assistctl.local.storage import Store, in_project


@pytest.fixture
def store(tmp_path, database):
    opened = Store(database or tmp_path / "db.sqlite3")
    yield opened
    opened.close()


def test_a_new_job_is_held_until_its_lease_expires_then_taken_over_once(store):
    with in_project("team"):
        first = store.jobs.add("run", "run_1", "thread_1", "replica-a", lease_s=2)
    assert store.jobs.claim_expired("replica-b", 5) is None  # still held
    time.sleep(2.1)
    taken = store.jobs.claim_expired("replica-b", 5)
    assert taken is not None
    assert (taken.kind, taken.id, taken.parent, taken.project) == (
        "run",
        "run_1",
        "thread_1",
        "team",
    )
    assert taken.attempt == 2 and taken.token != first.token
    assert store.jobs.claim_expired("replica-c", 5) is None
    assert not store.jobs.hold(first, 5)  # the old holder is fenced out
    assert not store.jobs.finish(first)
    assert store.jobs.hold(taken, 5)
    assert store.jobs.finish(taken)
    assert not store.jobs.exists("run_1")


def test_concurrent_claimers_take_each_expired_job_once(store):
    for index in range(20):
        store.jobs.add("response", f"resp_{index}", "", "dead-replica", lease_s=0)
    taken: list[str] = []

    def claim(name: str) -> None:
        while (lease := store.jobs.claim_expired(name, 30)) is not None:
            taken.append(lease.id)

    claimers = [threading.Thread(target=claim, args=(f"replica-{n}",)) for n in range(4)]
    for claimer in claimers:
        claimer.start()
    for claimer in claimers:
        claimer.join()
    assert sorted(taken) == sorted(f"resp_{index}" for index in range(20))


def test_renewal_keeps_a_lease_and_release_lets_it_go(store):
    lease = store.jobs.add("run", "run_1", "thread_1", "replica-a", lease_s=0.1)
    time.sleep(0.15)  # expired, but nobody took it yet: renewing keeps it
    store.jobs.renew([lease], 30)
    assert store.jobs.claim_expired("replica-b", 5) is None
    store.jobs.release("replica-a")
    assert store.jobs.claim_expired("replica-b", 5) is not None


def test_unfinished_work_of_a_version_4_database_is_taken_over_after_the_upgrade(tmp_path):
    """As an older release left it: a run in progress and no jobs table; the first server on
    the upgraded database executes it."""
    data = tmp_path / "account"
    with start_in_process(data, config=LocalConfig(engine_delay_s=30)) as server:
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        bot = client.beta.assistants.create(model="gpt-4o", name="Old")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "upgrade"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=bot.id)
        deadline = time.monotonic() + 10
        while client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    connection = sqlite3.connect(data / "account.sqlite3")
    with connection:
        connection.execute("DROP TABLE jobs")
        connection.execute("UPDATE schema_version SET version = 4")
    connection.close()
    with start_in_process(data, config=LocalConfig()) as server:
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        done = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=20)
        assert done.status == "completed"
        answers = [m for m in client.beta.threads.messages.list(thread.id) if m.role == "assistant"]
        assert [m.content[0].text.value for m in answers] == ['[Old] You said: "upgrade"']
