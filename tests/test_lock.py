"""The per-stack lock against a real local account: one holder at a time, a line for the
others, expiry and dead holders, force-unlock, and markers no plan ever sees."""

from __future__ import annotations

import threading

import pytest

from assistctl.backends.assistants import AssistantsBackend
from assistctl.live import snapshot
from assistctl.lock import LockError, StackLock, force_unlock, markers
from assistctl.retry import RetryPolicy

OWNER = "support/prod"


class Clock:
    """Wall time that moves only when told to (or when the lock sleeps)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.on_sleep = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.fixture
def backend(client) -> AssistantsBackend:
    return AssistantsBackend(client, policy=RetryPolicy(base_delay_s=0.001, max_delay_s=0.01))


def lock(backend, clock: Clock, holder: str, **options) -> StackLock:
    return StackLock(backend, OWNER, holder=holder, clock=clock, sleep=clock.sleep, **options)


def test_a_second_run_is_refused_naming_the_holder_then_gets_the_lock(backend):
    clock = Clock()
    first = lock(backend, clock, "alice@ci-pid1")
    first.acquire()
    with pytest.raises(LockError) as refused:
        lock(backend, clock, "bob@laptop-pid2").acquire()
    assert "alice@ci-pid1" in refused.value.message
    assert first.lock_id in refused.value.message
    assert f"force-unlock {first.lock_id}" in refused.value.hint
    assert [m.lock_id for m in markers(backend, OWNER)] == [first.lock_id]  # bob's is gone
    first.release()
    with lock(backend, clock, "bob@laptop-pid2"):
        assert len(markers(backend, OWNER)) == 1
    assert markers(backend, OWNER) == []


def test_a_waiting_run_gets_the_lock_once_the_holder_releases(backend):
    clock = Clock()
    first = lock(backend, clock, "alice@ci-pid1")
    first.acquire()
    told = []
    second = lock(backend, clock, "bob@laptop-pid2", timeout_s=60, notify=told.append)
    clock.on_sleep = first.release
    second.acquire()
    assert [m.lock_id for m in markers(backend, OWNER)] == [second.lock_id]
    assert told and "held by alice@ci-pid1" in told[0]
    second.release()


def test_an_expired_lock_is_removed_and_taken(backend):
    clock = Clock()
    lock(backend, clock, "alice@ci-pid1", ttl_s=60).acquire()  # never released: the run died
    clock.now += 61
    with lock(backend, clock, "bob@laptop-pid2") as taken:
        assert [m.lock_id for m in markers(backend, OWNER)] == [taken.lock_id]


def test_a_dead_process_on_this_machine_does_not_block(backend):
    import socket

    clock = Clock()
    dead = f"carol@{socket.gethostname()}-pid{2**22 + 12345}"
    lock(backend, clock, dead).acquire()
    with lock(backend, clock, "bob@laptop-pid2") as taken:
        assert [m.lock_id for m in markers(backend, OWNER)] == [taken.lock_id]


def test_a_renewing_holder_keeps_its_place(backend):
    first = StackLock(backend, OWNER, holder="alice@ci-pid1", ttl_s=3.0)
    first.acquire()
    renewed = threading.Event()
    for _ in range(100):
        if len({m.file_id for m in markers(backend, OWNER)}) > 1:
            renewed.set()
            break
        renewed.wait(0.05)
    assert renewed.is_set(), "the holder never renewed"
    with pytest.raises(LockError, match="alice@ci-pid1"):
        StackLock(backend, OWNER, holder="bob@laptop-pid2").acquire()
    first.release()
    assert markers(backend, OWNER) == []


def test_force_unlock_removes_a_lock_and_names_unknown_ones(backend):
    clock = Clock()
    stuck = lock(backend, clock, "alice@ci-pid1")
    stuck.acquire()
    with pytest.raises(LockError, match=f"locks held now: {stuck.lock_id}"):
        force_unlock(backend, OWNER, "nope")
    (removed,) = force_unlock(backend, OWNER, stuck.lock_id)
    assert removed.holder == "alice@ci-pid1"
    assert markers(backend, OWNER) == []


def test_markers_are_no_resource_of_any_stack(backend):
    clock = Clock()
    with lock(backend, clock, "alice@ci-pid1"):
        live = snapshot(backend, OWNER)
        assert live.resources == () and live.foreign == ()
