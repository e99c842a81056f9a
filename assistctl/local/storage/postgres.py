"""The PostgreSQL database of one account: a server that any number of replicas share, reached
through a pool of connections (psycopg 3, ``psycopg_pool``).

A transaction holds one connection for its thread until it ends, so nested calls join it and
reads inside it see its writes; reads outside one borrow a pooled connection for the
statement (or the thread's snapshot, ``consistent``: REPEATABLE READ, read only). Write
transactions take the account's write lock (a transaction-scoped advisory lock), so writers
are serialised as SQLite serialises them, across every replica: a read-modify-write in a
transaction never loses another's update. Reads never wait for it.

File bytes are a header row (``file_bytes``: id, project, size) and parts of at most 1 MiB
(``file_parts``), written and read a part at a time, so a file of any size passes through
bounded memory. The server going away (or refusing us) is ``StoreUnavailable`` with a message
that names the database without its credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from assistctl.local.storage.database import (
    BLOB_CHUNK_BYTES,
    Database,
    Dialect,
    Parameters,
    StoreClosed,
    StoreUnavailable,
    counted,
)
from assistctl.local.storage.migrations import LATEST, POSTGRES_MIGRATIONS

POOL_SIZE = 16
CONNECT_TIMEOUT_S = 10
# How long a statement waits for a free pooled connection before the account answers that
# its database is unavailable.
POOL_WAIT_S = 10.0
# Advisory locks are keyed per schema, so accounts in several schemas of one database (the
# tests) do not wait for each other.
MIGRATION_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtext('assistctl.migrate'), hashtext(current_schema()))"
)
WRITE_LOCK = "SELECT pg_advisory_xact_lock(hashtext('assistctl.write'), hashtext(current_schema()))"
# SQLSTATE classes of a connection that is gone or refused: 08 connection exception, 57P
# operator intervention (the server shutting down), 53 insufficient resources (too many
# connections).
UNAVAILABLE_STATES = ("08", "57P", "53")


def shown(url: str) -> str:
    """Where the database is, for messages: host, port and database name, never the user's
    credentials."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "the PostgreSQL database (an unreadable URL)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return (
        f"PostgreSQL database {parts.get('dbname') or parts.get('user') or ''!s} on {host}:{port}"
    )


@lru_cache(maxsize=4096)
def translated(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (``%`` doubled), outside quoted
    literals and identifiers."""
    out: list[str] = []
    quote = ""
    for character in sql:
        if quote:
            if character == quote:
                quote = ""
        elif character in "'\"":
            quote = character
        elif character == "?":
            out.append("%s")
            continue
        if character == "%":
            out.append("%%")
            continue
        out.append(character)
    return "".join(out)


def _bound(parameters: Parameters) -> tuple[Any, ...]:
    """The parameters of one statement as PostgreSQL can take them: its text cannot hold NUL,
    so a NUL in a string becomes U+FFFD (an id with one then matches nothing, as no stored id
    has one; a chunk's text keeps the replacement character where the file had a NUL)."""
    return tuple(
        value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value
        for value in parameters
    )


def _is_unavailable(error: psycopg.Error) -> bool:
    state = error.sqlstate
    return state is None or state.startswith(UNAVAILABLE_STATES)


@contextmanager
def _reaching(where: str) -> Iterator[None]:
    """Connection failures as ``StoreUnavailable``; other database errors are bugs and stay
    what they are."""
    try:
        yield
    except PoolClosed:
        raise StoreClosed("the account's database is closed") from None
    except PoolTimeout as exc:
        raise StoreUnavailable(f"cannot reach the {where}: {exc}") from None
    except psycopg.OperationalError as exc:
        if _is_unavailable(exc):
            raise StoreUnavailable(f"lost the {where}: {exc}") from None
        raise


@dataclass
class _Held:
    """The connection a thread's transaction or snapshot holds until it ends."""

    connection: psycopg.Connection[Any]
    writes: bool


class PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self._where = shown(url)
        self._local = threading.local()
        try:
            with psycopg.connect(
                url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            ) as connection:
                migrate(connection)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot open the {self._where}: {exc}") from None
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            timeout=POOL_WAIT_S,
            open=False,
            name="assistctl-postgres",
        )
        self._pool.open(wait=False)

    def close(self) -> None:
        self._pool.close()

    @property
    def reads_beside_writes(self) -> bool:
        return True

    def _held(self) -> _Held | None:
        held: _Held | None = getattr(self._local, "held", None)
        return held

    @contextmanager
    def _statement_connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The thread's transaction or snapshot connection, else a pooled one."""
        held = self._held()
        if held is not None:
            with _reaching(self._where):
                yield held.connection
            return
        with _reaching(self._where), self._pool.connection() as connection:
            yield connection

    @contextmanager
    def _holding(self, begin: str, writes: bool) -> Iterator[None]:
        """A connection held by this thread for one transaction that ``begin`` opens."""
        previous = self._held()
        with _reaching(self._where):
            connection = self._pool.getconn()
        try:
            with _reaching(self._where):
                connection.execute(begin)
            self._local.held = _Held(connection, writes)
            try:
                yield
            except BaseException:
                if not connection.broken:
                    with _reaching(self._where):
                        connection.execute("ROLLBACK")
                raise
            with _reaching(self._where):
                connection.execute("COMMIT")
        finally:
            self._local.held = previous
            self._pool.putconn(connection)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        held = self._held()
        if held is not None and held.writes:
            yield
            return
        with self._holding(f"BEGIN; {WRITE_LOCK}", writes=True):
            yield

    @contextmanager
    def consistent(self) -> Iterator[None]:
        if self._held() is not None:
            yield
            return
        with self._holding("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", writes=False):
            yield

    def write(self, sql: str, parameters: Parameters = ()) -> int:
        with self.transaction(), self._statement_connection() as connection:
            return connection.execute(translated(sql), _bound(parameters)).rowcount

    def write_many(self, sql: str, rows: Sequence[Parameters]) -> None:
        with self.transaction(), self._statement_connection() as connection:
            connection.cursor().executemany(translated(sql), [_bound(row) for row in rows])

    def write_returning(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...] | None:
        with self.transaction(), self._statement_connection() as connection:
            row = connection.execute(translated(sql), _bound(parameters)).fetchone()
        return tuple(row) if row is not None else None

    def read(self, sql: str, parameters: Parameters = ()) -> list[tuple[Any, ...]]:
        with self._statement_connection() as connection:
            return connection.execute(translated(sql), _bound(parameters)).fetchall()

    def write_blob(self, id: str, project: str, size: int, chunks: Iterable[bytes]) -> None:
        """The bytes in parts of ``BLOB_CHUNK_BYTES``, each inserted as soon as it is full."""
        with self.transaction():
            self.write(
                "INSERT INTO file_bytes (id, project, size) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET project = excluded.project, size = excluded.size",
                (id, project, size),
            )
            self.write("DELETE FROM file_parts WHERE id = ?", (id,))
            part, pending = 0, bytearray()
            for chunk in counted(chunks, size):
                pending += chunk
                while len(pending) >= BLOB_CHUNK_BYTES:
                    self._write_part(id, part, bytes(pending[:BLOB_CHUNK_BYTES]))
                    del pending[:BLOB_CHUNK_BYTES]
                    part += 1
            if pending:
                self._write_part(id, part, bytes(pending))

    def _write_part(self, id: str, part: int, content: bytes) -> None:
        self.write(
            "INSERT INTO file_parts (id, part, content) VALUES (?, ?, ?)", (id, part, content)
        )

    def read_blob(self, id: str, project: str) -> Iterator[bytes]:
        row = self.read_one(
            "SELECT count(p.part) FROM file_bytes AS b LEFT JOIN file_parts AS p ON p.id = b.id "
            "WHERE b.id = ? AND b.project = ? GROUP BY b.id",
            (id, project),
        )
        if row is None:
            return
        for part in range(int(row[0])):
            found = self.read_one(
                "SELECT content FROM file_parts WHERE id = ? AND part = ?", (id, part)
            )
            if found is None:
                return
            yield bytes(found[0])


def schema_version(connection: psycopg.Connection[Any]) -> int:
    """The version this schema has reached (0: empty)."""
    connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = connection.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(connection: psycopg.Connection[Any]) -> None:
    """Run the migrations after the schema's version in one transaction, under an advisory
    lock: replicas starting together on an empty database migrate it once, the others wait
    and find it done."""
    with connection.transaction():
        connection.execute(MIGRATION_LOCK)
        version = schema_version(connection)
        if version > LATEST:
            raise StoreUnavailable(
                f"the database is at schema version {version}, newer than this release's "
                f"{LATEST}; upgrade assistctl"
            )
        pending = [migration for migration in POSTGRES_MIGRATIONS if migration.version > version]
        for migration in pending:
            connection.execute(migration.sql)
        if pending:
            connection.execute("DELETE FROM schema_version")
            connection.execute("INSERT INTO schema_version VALUES (%s)", (pending[-1].version,))
