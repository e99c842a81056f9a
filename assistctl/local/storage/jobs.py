"""Jobs: the runs and responses some replica must execute, each claimed with a lease.

A job row names its target (``kind`` ``run`` with its thread as ``parent``, or ``response``),
its project, the replica holding it (``owner``), until when (``lease_until``, seconds since
the epoch), how many times it was claimed (``attempts``) and the claim's ``token``: a fresh
random value at every claim, the fencing token every write of the execution checks, so a
replica whose lease was taken over can no longer record anything. A job is claimed at once by
the replica that accepted the work (inserted with its lease); one whose lease expired (its
replica died or stopped) is claimed by any replica's poller with a single statement.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from assistctl.local.storage.database import Database
from assistctl.local.storage.scope import current_project


@dataclass(frozen=True)
class Lease:
    """A replica's claim on one job: what to execute, in which project, and the token its
    writes are fenced with. ``attempt`` 1 is the first execution since the work was queued."""

    kind: str
    id: str
    parent: str
    project: str
    token: str
    attempt: int


class JobTable:
    """Every statement on ``jobs``. A takeover is one ``UPDATE ... RETURNING`` whose subquery
    picks the job with the engine's claim clause (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so
    concurrent claimers pass over a row another one is taking; SQLite: its single writer)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def add(self, kind: str, id: str, parent: str, owner: str, lease_s: float) -> Lease:
        """New work, claimed by ``owner``; inside the transaction that queues the work, so
        no other replica ever sees it unclaimed."""
        token = secrets.token_hex(16)
        self._database.write(
            "INSERT INTO jobs (id, kind, parent, project, owner, lease_until, attempts, token) "
            "VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
            (id, kind, parent, current_project(), owner, time.time() + lease_s, token),
        )
        return Lease(kind, id, parent, current_project(), token, 1)

    def claim_expired(self, owner: str, lease_s: float) -> Lease | None:
        """Take over one job whose lease has expired (the oldest expiry first), or None."""
        moment = time.time()
        token = secrets.token_hex(16)
        row = self._database.write_returning(
            "UPDATE jobs SET owner = ?, lease_until = ?, attempts = attempts + 1, token = ? "
            "WHERE id = (SELECT id FROM jobs WHERE lease_until < ? "
            f"ORDER BY lease_until LIMIT 1{self._database.claim_clause}) "
            "RETURNING kind, id, parent, project, attempts",
            (owner, moment + lease_s, token, moment),
        )
        if row is None:
            return None
        kind, id, parent, project, attempts = row
        return Lease(kind, id, parent, project, token, int(attempts))

    def hold(self, lease: Lease, lease_s: float) -> bool:
        """Whether the lease is still this claim's, renewing it if so. Called first in every
        transaction that records the execution: the row it touches stays locked until the
        transaction commits, so no takeover slips in between."""
        return (
            self._database.write(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND token = ?",
                (time.time() + lease_s, lease.id, lease.token),
            )
            == 1
        )

    def renew(self, leases: list[Lease], lease_s: float) -> None:
        """Extend the leases an executing replica still holds (its heartbeat)."""
        if leases:
            self._database.write(
                f"UPDATE jobs SET lease_until = ? WHERE token IN ({', '.join('?' * len(leases))})",
                (time.time() + lease_s, *(lease.token for lease in leases)),
            )

    def finish(self, lease: Lease) -> bool:
        """The job is done (its outcome is recorded in the same transaction); False if the
        lease was no longer this claim's."""
        deleted = self._database.write(
            "DELETE FROM jobs WHERE id = ? AND token = ?", (lease.id, lease.token)
        )
        return deleted == 1

    def drop(self, id: str) -> None:
        """Forget the job of ``id`` whoever holds it (the work ended without its executor: a
        run expired); an executor still at work finds its lease gone."""
        self._database.write("DELETE FROM jobs WHERE id = ?", (id,))

    def release(self, owner: str) -> None:
        """Make every lease of a stopping replica expire now, so another one (or this one,
        restarted) takes its work over at once instead of after the lease."""
        self._database.write("UPDATE jobs SET lease_until = 0 WHERE owner = ?", (owner,))

    def exists(self, id: str) -> bool:
        return self._database.read_one("SELECT 1 FROM jobs WHERE id = ?", (id,)) is not None

    def next_expiry(self) -> float | None:
        """When the first lease expires (None: no jobs), for a poller to sleep until."""
        row = self._database.read_one("SELECT MIN(lease_until) FROM jobs")
        return float(row[0]) if row and row[0] is not None else None
