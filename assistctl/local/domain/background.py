"""Work that outlives the request which started it (a run, a background response, a stream's
producer), on a daemon thread that carries the request's context along, so it sees the
request's project; and this server process's share of the account's jobs (``Replica``).

Several ``local serve`` processes (replicas) may serve one database. A run or a stored response
is a job in the database, claimed with a lease by the replica that accepted it, which executes
it at once; while it works, a heartbeat renews the lease every third of its length. A replica
that dies stops renewing: once the lease has expired, any replica's poller (the same heartbeat)
claims the job and executes it again. Every write an execution records is fenced by its claim
(``Replica.fenced``): a replica whose job was taken over records nothing more.
"""

from __future__ import annotations

import contextvars
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial

from assistctl.local.storage import Lease, Store, StoreClosed, in_project

log = logging.getLogger(__name__)

DEFAULT_JOB_LEASE_S = 30.0
BEATS_PER_LEASE = 3  # a lease survives two missed heartbeats
MAX_ATTEMPTS = 5  # work that took its replica down this often is failed, not retried forever
DRAIN_S = 2.0  # how long a stopping replica lets executions finish (a quick run ends; a slow
# model's does not, and is taken over)


def in_background(work: Callable[[], None], name: str) -> None:
    threading.Thread(
        target=contextvars.copy_context().run, args=(work,), name=name, daemon=True
    ).start()


class LeaseLost(Exception):
    """Another replica took the job over (or its work ended without it): this execution
    records nothing more."""


class Replica:
    """This process among the account's replicas: ``id`` names it in the leases it holds.

    Executors register a handler per job kind (``handle``) for the jobs taken over from a
    replica that stopped; ``start`` begins the heartbeat; ``close`` stops it, gives the
    executions under way ``DRAIN_S`` to end (so none is cut off inside a transaction when the
    database closes), and lets the leases still held expire at once, so another replica (or
    this one, restarted) takes them.
    """

    def __init__(self, store: Store, lease_s: float = DEFAULT_JOB_LEASE_S) -> None:
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease_s = lease_s
        self._store = store
        self._jobs = store.jobs
        self._handlers: dict[str, Callable[[Lease], None]] = {}
        self._held: dict[str, Lease] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def handle(self, kind: str, handler: Callable[[Lease], None]) -> None:
        self._handlers[kind] = handler

    def start(self) -> None:
        """Begin the heartbeat; its first beat takes over the work a stopped replica left."""
        self._heartbeat = threading.Thread(
            target=self._beat_until_closed, name=f"assistctl-replica-{self.id}", daemon=True
        )
        self._heartbeat.start()

    def close(self) -> None:
        self._stopping.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        with self._idle:
            self._idle.wait_for(lambda: not self._held, timeout=DRAIN_S)
        with suppress(StoreClosed):
            self._jobs.release(self.id)

    # --- claims -------------------------------------------------------------------------------

    def add(self, kind: str, id: str, parent: str = "") -> Lease:
        """Queue new work as a job this replica holds (inside the transaction storing it)."""
        return self._jobs.add(kind, id, parent, self.id, self.lease_s)

    @contextmanager
    def holding(self, lease: Lease) -> Iterator[None]:
        """While the block executes the job, the heartbeat renews its lease."""
        self._hold(lease)
        try:
            yield
        finally:
            self._let_go(lease)

    def _hold(self, lease: Lease) -> None:
        with self._lock:
            self._held[lease.token] = lease

    def _let_go(self, lease: Lease) -> None:
        with self._idle:
            self._held.pop(lease.token, None)
            self._idle.notify_all()

    @contextmanager
    def fenced(self, lease: Lease) -> Iterator[None]:
        """A transaction that records the execution of ``lease``'s job: LeaseLost (and
        nothing written) unless the lease is still this claim's."""
        with self._store.transaction():
            if not self._jobs.hold(lease, self.lease_s):
                raise LeaseLost(f"the {lease.kind} {lease.id} was taken over by another replica")
            yield

    def finish(self, lease: Lease) -> None:
        """The job is done; called inside ``fenced``, with the write that ends the work."""
        self._jobs.finish(lease)

    def drop(self, id: str) -> None:
        """The work of ``id`` ended without its executor (a run expired)."""
        self._jobs.drop(id)

    def pending(self, id: str) -> bool:
        """Whether ``id`` still has a job (its executor has not finished it)."""
        return self._jobs.exists(id)

    def execute(self, lease: Lease, work: Callable[[], object]) -> None:
        """Execute a held job on a background thread, renewing its lease meanwhile."""

        def run() -> None:
            try:
                work()
            except LeaseLost as lost:
                log.info("%s: nothing recorded", lost)
            except StoreClosed:
                log.info("%s %s left for later: the account was closed", lease.kind, lease.id)
            except Exception:
                log.exception("%s %s failed in the background", lease.kind, lease.id)
            finally:
                self._let_go(lease)

        self._hold(lease)  # before the thread starts: a closing replica waits for it
        in_background(run, f"assistctl-{lease.id}")

    # --- the heartbeat ------------------------------------------------------------------------

    def _beat_until_closed(self) -> None:
        interval = self.lease_s / BEATS_PER_LEASE
        while not self._stopping.is_set():
            try:
                self._beat()
            except StoreClosed:
                return
            except Exception:
                log.exception("replica %s: the heartbeat failed; trying again", self.id)
            self._stopping.wait(interval)

    def _beat(self) -> None:
        """Renew the leases held; take over every job whose lease has expired."""
        with self._lock:
            held = list(self._held.values())
        self._jobs.renew(held, self.lease_s)
        while not self._stopping.is_set():
            expiry = self._jobs.next_expiry()
            if expiry is None or expiry >= time.time():
                return
            lease = self._jobs.claim_expired(self.id, self.lease_s)
            if lease is None:
                return
            handler = self._handlers.get(lease.kind)
            if handler is None:
                log.warning("replica %s: no executor for %s jobs", self.id, lease.kind)
                continue
            log.info(
                "replica %s takes over %s %s (attempt %d)",
                self.id,
                lease.kind,
                lease.id,
                lease.attempt,
            )
            with in_project(lease.project):
                self.execute(lease, partial(handler, lease))
