"""Several ``assistctl local serve`` processes on one database serve one account: concurrent SDK
clients spread over the replicas lose and duplicate nothing; a run or response whose replica is
killed is finished by another exactly once; a replica whose lease was taken over records
nothing; a background response streams from any replica; the seed flow works on three."""

from __future__ import annotations

import signal
import threading
import time
from collections import defaultdict
from pathlib import Path

import openai
import pytest

from .engines.test_chat import FakeChat
from .replicas import Shared, balanced_client, start_replicas, stop_all
from .test_seed_flow import seed_flow


@pytest.fixture
def shared(tmp_path: Path, database: str | None) -> Shared:
    """The database the replicas share, on each storage engine: an SQLite file under one data
    directory, or a PostgreSQL schema (each replica then has a data directory of its own)."""
    return Shared(tmp_path, database)


def poll_run(client: openai.OpenAI, thread_id: str, run_id: str, timeout_s: float = 20):
    deadline = time.monotonic() + timeout_s
    while True:
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status not in ("queued", "in_progress", "cancelling"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} stuck in {run.status}"
        time.sleep(0.05)


def wait_for_status(client: openai.OpenAI, thread_id: str, run_id: str, status: str) -> None:
    deadline = time.monotonic() + 10
    while client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status != status:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def answered_once(client: openai.OpenAI, thread_id: str, run_id: str) -> str:
    """The run's one assistant message (asserting there is exactly one, and one step
    creating it)."""
    messages = client.beta.threads.messages.list(thread_id=thread_id, order="asc").data
    answers = [m for m in messages if m.role == "assistant"]
    assert len(answers) == 1, [m.content for m in answers]
    assert answers[0].run_id == run_id
    steps = client.beta.threads.runs.steps.list(run_id, thread_id=thread_id).data
    assert [step.type for step in steps].count("message_creation") == 1
    return answers[0].content[0].text.value


def workload(client: openai.OpenAI, index: int, written: dict[str, list], runs: int) -> None:
    """What one SDK client does: upload, index, create, run, search, list; every write the
    account answered with a 2xx is noted in ``written``."""
    document = f"Item {index} may be returned within {index + 10} days of delivery.\n"
    uploaded = client.files.create(
        file=(f"policy-{index}.txt", document.encode()), purpose="assistants"
    )
    written["file"].append(uploaded.id)
    store = client.vector_stores.create(name=f"policies-{index}", file_ids=[uploaded.id])
    written["vector_store"].append(store.id)
    deadline = time.monotonic() + 20
    while client.vector_stores.retrieve(store.id).file_counts.completed != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    bot = client.beta.assistants.create(
        model="gpt-4o",
        name=f"bot-{index}",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    written["assistant"].append(bot.id)
    for turn in range(runs):
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": f"How many days to return item {index}?"}]
        )
        written["thread"].append(thread.id)
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=bot.id)
        written["run"].append((thread.id, run.id))
        assert poll_run(client, thread.id, run.id).status == "completed", turn
    hits = client.vector_stores.search(store.id, query="how many days to return an item")
    assert hits.data and hits.data[0].file_id == uploaded.id
    assert bot.id in {a.id for a in client.beta.assistants.list(limit=100).data}


@pytest.mark.parametrize("count", [2, 3])
def test_replicas_under_concurrent_clients_lose_and_duplicate_nothing(shared, count):
    replicas = start_replicas(count, shared)
    try:
        written: dict[str, list] = defaultdict(list)
        failures: list[BaseException] = []

        def client_thread(index: int) -> None:
            try:
                workload(
                    balanced_client(replicas[index % count :] + replicas[: index % count]),
                    index,
                    written,
                    2,
                )
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=client_thread, args=(i,)) for i in range(2 * count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not failures, failures
        check = replicas[-1].client()
        for kind, ids in (
            ("assistant", check.beta.assistants.list),
            ("file", check.files.list),
            ("vector_store", check.vector_stores.list),
        ):
            listed = [item.id for item in ids(limit=100)]  # the SDK follows every page
            assert sorted(listed) == sorted(written[kind]), kind
        for thread_id, run_id in written["run"]:
            assert (
                check.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == "completed"
            )
            assert "days" in answered_once(check, thread_id, run_id)
    finally:
        stop_all(replicas)
    assert all(replica.process.returncode == 0 for replica in replicas)
    assert not any("Traceback" in line for replica in replicas for line in replica.log)


def test_a_run_whose_replica_is_killed_is_finished_by_another_exactly_once(shared):
    slow, other = start_replicas(
        1, shared, env={"ASSISTCTL_LOCAL_ENGINE_DELAY": "60"}
    ) + start_replicas(1, shared)
    try:
        client = other.client()
        bot = client.beta.assistants.create(model="gpt-4o", name="Phoenix")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "rise"}])
        run = slow.client().beta.threads.runs.create(thread_id=thread.id, assistant_id=bot.id)
        wait_for_status(client, thread.id, run.id, "in_progress")  # the slow replica has it
        slow.kill()
        finished = poll_run(client, thread.id, run.id)
        assert finished.status == "completed"
        assert answered_once(client, thread.id, run.id) == '[Phoenix] You said: "rise"'
        assert other.logged(f"takes over run {run.id} (attempt 2)")
    finally:
        stop_all([slow, other])


@pytest.fixture
def stalling_chat():
    fake = FakeChat()
    yield fake
    fake.closing.set()
    fake.close()


def test_a_streamed_run_killed_mid_answer_is_answered_once_by_another(shared, stalling_chat):
    """The killed replica had opened the answer's message while streaming it; the replica
    that takes the run over removes that half-written message and writes the answer once."""
    chat = ["--engine", "chat", "--chat-base-url", stalling_chat.base_url]
    streaming, other = start_replicas(2, shared, arguments=chat)
    try:
        client = other.client()
        bot = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "stall once"}])
        stream = streaming.client().beta.threads.runs.create(
            thread_id=thread.id, assistant_id=bot.id, stream=True
        )
        run_id = None
        for event in stream:
            if event.event == "thread.run.created":
                run_id = event.data.id
            if event.event == "thread.message.delta":
                break  # the answer's message is stored, the model stalls
        streaming.kill()
        assert run_id is not None
        assert poll_run(client, thread.id, run_id).status == "completed"
        assert answered_once(client, thread.id, run_id) == "Echo: stall once"
    finally:
        stop_all([streaming, other])


def test_a_replica_whose_lease_was_taken_over_records_nothing(shared):
    """A replica frozen mid-run (SIGSTOP) loses its lease; the run is finished by another;
    thawed, the frozen replica's outcome is refused by the fence, so the run keeps one
    answer."""
    frozen, other = start_replicas(
        1, shared, env={"ASSISTCTL_LOCAL_ENGINE_DELAY": "2"}
    ) + start_replicas(1, shared)
    try:
        client = other.client()
        bot = client.beta.assistants.create(model="gpt-4o", name="Twin")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "once"}])
        run = frozen.client().beta.threads.runs.create(thread_id=thread.id, assistant_id=bot.id)
        wait_for_status(client, thread.id, run.id, "in_progress")
        frozen.process.send_signal(signal.SIGSTOP)
        try:
            assert poll_run(client, thread.id, run.id).status == "completed"
            time.sleep(2)  # the frozen replica's engine delay is over when it thaws
        finally:
            frozen.process.send_signal(signal.SIGCONT)
        assert frozen.logged("was taken over by another replica: nothing recorded")
        assert answered_once(client, thread.id, run.id) == '[Twin] You said: "once"'
        assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "completed"
    finally:
        stop_all([frozen, other])


def test_a_background_response_whose_replica_is_killed_is_finished_by_another(shared):
    slow, other = start_replicas(
        1, shared, env={"ASSISTCTL_LOCAL_ENGINE_DELAY": "60"}
    ) + start_replicas(1, shared)
    try:
        response = slow.client().responses.create(model="gpt-4o", input="again", background=True)
        client = other.client()
        deadline = time.monotonic() + 10
        while client.responses.retrieve(response.id).status != "in_progress":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        slow.kill()
        events = list(client.responses.retrieve(response.id, stream=True))  # follows the takeover
        done = client.responses.retrieve(response.id)
        assert done.status == "completed" and done.output_text == '[Assistant] You said: "again"'
        assert [event.type for event in events][-1] == "response.completed"
        replayed = list(client.responses.retrieve(response.id, stream=True))
        assert [e.sequence_number for e in replayed] == list(range(len(replayed)))
        assert [e.type for e in replayed].count("response.output_text.done") == 1
    finally:
        stop_all([slow, other])


def test_a_background_response_streams_from_a_replica_that_does_not_execute_it(shared):
    working, reader = start_replicas(
        1, shared, env={"ASSISTCTL_LOCAL_ENGINE_DELAY": "1"}
    ) + start_replicas(1, shared)
    try:
        response = working.client().responses.create(model="gpt-4o", input="far", background=True)
        events = list(reader.client().responses.retrieve(response.id, stream=True))
        types = [event.type for event in events]
        assert types[0] == "response.created" and types[-1] == "response.completed"
        assert [event.sequence_number for event in events] == list(range(len(events)))
        assert events[-1].response.output_text == '[Assistant] You said: "far"'
    finally:
        stop_all([working, reader])


def test_the_seed_flow_against_three_replicas(shared):
    replicas = start_replicas(3, shared)
    try:
        seed_flow(balanced_client(replicas))
    finally:
        stop_all(replicas)
    assert all(replica.process.returncode == 0 for replica in replicas)
