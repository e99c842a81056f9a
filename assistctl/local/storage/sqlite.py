"""The SQLite database of one account (the default engine): its connections, its migrations and
its transactions.

One writer connection guarded by a lock takes every write (SQLite serialises writers anyway),
so one transaction spans objects, file bytes and search chunks alike. Reads outside a
transaction go to a reader connection, which WAL lets run beside the writer: a read never
waits for a write, so sub-millisecond reads can be answered straight from the event loop.
Reader connections are pooled (as many as reads ever ran at once), never one per thread, so
short-lived threads (runs) leave none behind. Writes commit before the call returns (WAL,
``synchronous=NORMAL``): an answered request survives a crash of the server. An in-memory
database has one connection for everything.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistctl.local.storage.database import (
    BLOB_CHUNK_BYTES,
    Database,
    Dialect,
    Parameters,
    StoreClosed,
    StoreUnavailable,
    counted,
)
from assistctl.local.storage.migrations import LATEST, SQLITE_MIGRATIONS


class SqliteDatabase(Database):
    """Writes run under one re-entrant lock; reads borrow a reader connection unless the
    thread is inside a transaction (which then sees its own writes)."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.RLock()
        self._path = path
        self._connection = _connected(path)
        self._depth = 0
        self._writer: int | None = None
        self._closed = False
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        try:
            migrate(self._connection)
        except (sqlite3.Error, StoreUnavailable) as exc:
            self._connection.close()
            raise StoreUnavailable(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._connection.close()
            for reader in self._readers:
                reader.close()
            self._readers.clear()

    @property
    def reads_beside_writes(self) -> bool:
        return self._path is not None

    def _open_connection(self) -> sqlite3.Connection:
        """The writer connection, for a caller holding the lock."""
        if self._closed:
            raise StoreClosed("the account's database is closed")
        return self._connection

    def _in_transaction(self) -> bool:
        return self._writer == threading.get_ident()

    def _reads_on_writer(self) -> bool:
        return self._path is None or self._in_transaction()

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A reader connection for one read or one snapshot: this thread's snapshot, else an
        idle one from the pool, else a new one."""
        if self._closed:
            raise StoreClosed("the account's database is closed")
        snapshot: sqlite3.Connection | None = getattr(self._local, "snapshot", None)
        if snapshot is not None:
            yield snapshot
            return
        try:
            reader = self._idle.get_nowait()
        except queue.Empty:
            assert self._path is not None
            reader = _connected(self._path)
            with self._lock:
                self._readers.append(reader)
        try:
            yield reader
        finally:
            self._idle.put(reader)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes so they commit together (nested calls join the outer one)."""
        with self._lock:
            connection = self._open_connection()
            if self._depth == 0:
                connection.execute("BEGIN IMMEDIATE")
                self._writer = threading.get_ident()
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._writer = None
                    connection.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._writer = None
                connection.execute("COMMIT")

    @contextmanager
    def consistent(self) -> Iterator[None]:
        """Several reads that must see one state (one read transaction: a snapshot)."""
        if self._reads_on_writer():
            with self._lock:
                yield
            return
        if getattr(self._local, "snapshot", None) is not None:
            yield
            return
        with self._reader() as reader:
            reader.execute("BEGIN")
            self._local.snapshot = reader
            try:
                yield
            finally:
                self._local.snapshot = None
                reader.execute("COMMIT")

    def write(self, sql: str, parameters: Parameters = ()) -> int:
        with self.transaction():
            return self._open_connection().execute(sql, parameters).rowcount

    def write_many(self, sql: str, rows: Sequence[Parameters]) -> None:
        with self.transaction():
            self._open_connection().executemany(sql, rows)

    def write_returning(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...] | None:
        with self.transaction():
            row: tuple[Any, ...] | None = (
                self._open_connection().execute(sql, parameters).fetchone()
            )
        return row

    def write_blob(self, id: str, project: str, size: int, chunks: Iterable[bytes]) -> None:
        """SQLite's incremental blob I/O into a ``zeroblob`` of the final length."""
        with self.transaction():
            connection = self._open_connection()
            cursor = connection.execute(
                "INSERT OR REPLACE INTO file_bytes (id, project, content) "
                "VALUES (?, ?, zeroblob(?))",
                (id, project, size),
            )
            rowid = cursor.lastrowid
            assert rowid is not None
            with connection.blobopen("file_bytes", "content", rowid) as blob:
                for chunk in counted(chunks, size):
                    blob.write(chunk)

    def read_blob(self, id: str, project: str) -> Iterator[bytes]:
        with self._lock:
            row = (
                self._open_connection()
                .execute(
                    "SELECT rowid, length(content) FROM file_bytes WHERE id = ? AND project = ?",
                    (id, project),
                )
                .fetchone()
            )
        if row is None:
            return
        rowid, size = row
        for offset in range(0, size, BLOB_CHUNK_BYTES):
            with self._lock:
                connection = self._open_connection()
                with connection.blobopen("file_bytes", "content", rowid, readonly=True) as blob:
                    blob.seek(offset)
                    yield blob.read(BLOB_CHUNK_BYTES)

    def read(self, sql: str, parameters: Parameters = ()) -> list[tuple[Any, ...]]:
        if self._reads_on_writer():
            with self._lock:
                return self._open_connection().execute(sql, parameters).fetchall()
        with self._reader() as reader:
            return reader.execute(sql, parameters).fetchall()


def _connected(path: Path | None) -> sqlite3.Connection:
    """A connection to the database at ``path`` (None: in memory)."""
    try:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=5000")
        connection.execute("PRAGMA foreign_keys=ON")
    except (OSError, sqlite3.Error) as exc:
        raise StoreUnavailable(str(exc)) from exc
    return connection


def schema_version(connection: sqlite3.Connection) -> int:
    """The version a database has reached: recorded, or 1 for a database of the releases
    before versions were recorded, or 0 for an empty one."""
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    if "schema_version" in tables:
        return int(connection.execute("SELECT version FROM schema_version").fetchone()[0])
    return 1 if "objects" in tables else 0


def migrate(connection: sqlite3.Connection) -> None:
    """Run the migrations after the database's version, each in a transaction of its own."""
    version = schema_version(connection)
    if version > LATEST:
        raise StoreUnavailable(
            f"the database is at schema version {version}, newer than this release's {LATEST}; "
            "upgrade assistctl"
        )
    for migration in SQLITE_MIGRATIONS:
        if migration.version <= version:
            continue
        connection.execute("BEGIN IMMEDIATE")
        if schema_version(connection) >= migration.version:  # a replica starting beside us
            connection.execute("COMMIT")
            continue
        try:
            for statement in _statements(migration.sql):
                connection.execute(statement)
            connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            connection.execute("DELETE FROM schema_version")
            connection.execute("INSERT INTO schema_version VALUES (?)", (migration.version,))
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """The statements of a migration script (``executescript`` would commit on its own)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
