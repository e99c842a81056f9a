"""The SQLite database of one account: its connection, its schema and its transactions.

One connection guarded by a lock serves every table (SQLite serialises writers anyway), so one
transaction spans objects, file bytes and search chunks alike. Writes commit before the call
returns (WAL, ``synchronous=NORMAL``): an answered request survives a crash of the server.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    type TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (type, parent, id)
);
CREATE INDEX IF NOT EXISTS objects_by_id ON objects (id);
CREATE INDEX IF NOT EXISTS objects_by_seq ON objects (type, parent, seq);
CREATE TABLE IF NOT EXISTS blobs (
    id TEXT PRIMARY KEY,
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    vector_store_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (vector_store_id, file_id, position)
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks (file_id);
"""

Parameters = Sequence[Any]
BLOB_CHUNK_BYTES = 1024 * 1024


class StoreUnavailable(Exception):
    """The database cannot be opened (a bad path, a file that is not a database, no space)."""


class StoreClosed(Exception):
    """The account's database was closed (the server stopped) while work still wanted it."""


class Database:
    """Thread-safe: every statement runs under one re-entrant lock."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.RLock()
        self._connection = _connected(path)
        self._depth = 0
        self._closed = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._connection.close()

    def _open_connection(self) -> sqlite3.Connection:
        """The connection, for a caller holding the lock."""
        if self._closed:
            raise StoreClosed("the account's database is closed")
        return self._connection

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes so they commit together (nested calls join the outer one)."""
        with self._lock:
            connection = self._open_connection()
            if self._depth == 0:
                connection.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    connection.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                connection.execute("COMMIT")

    @contextmanager
    def consistent(self) -> Iterator[None]:
        """Several reads that must see one state: no write of this account runs between them."""
        with self._lock:
            yield

    def write(self, sql: str, parameters: Parameters = ()) -> int:
        """Run one write statement in a transaction; the number of rows it touched."""
        with self.transaction():
            return self._open_connection().execute(sql, parameters).rowcount

    def write_many(self, sql: str, rows: Sequence[Parameters]) -> None:
        with self.transaction():
            self._open_connection().executemany(sql, rows)

    def write_returning(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...]:
        """Run one ``... RETURNING`` write statement; the row it returned."""
        with self.transaction():
            row: tuple[Any, ...] = self._open_connection().execute(sql, parameters).fetchone()
        return row

    def write_blob(self, id: str, size: int, chunks: Iterable[bytes]) -> None:
        """Make the blob ``id`` the ``size`` bytes that ``chunks`` yield, written as they come:
        memory stays bounded whatever the size (SQLite's incremental blob I/O into a
        ``zeroblob`` of the final length). Any other total is a ValueError, and nothing is
        written."""
        with self.transaction():
            connection = self._open_connection()
            cursor = connection.execute(
                "INSERT OR REPLACE INTO blobs (id, content) VALUES (?, zeroblob(?))", (id, size)
            )
            rowid = cursor.lastrowid
            assert rowid is not None
            written = 0
            with connection.blobopen("blobs", "content", rowid) as blob:
                for chunk in chunks:
                    if written + len(chunk) > size:
                        raise ValueError(f"more than the {size} bytes announced")
                    blob.write(chunk)
                    written += len(chunk)
            if written != size:
                raise ValueError(f"expected {size} bytes, got {written}")

    def read_blob(self, id: str) -> Iterator[bytes]:
        """The blob ``id`` a chunk at a time (nothing if there is no such blob)."""
        with self._lock:
            row = (
                self._open_connection()
                .execute("SELECT rowid, length(content) FROM blobs WHERE id = ?", (id,))
                .fetchone()
            )
        if row is None:
            return
        rowid, size = row
        for offset in range(0, size, BLOB_CHUNK_BYTES):
            with self._lock:
                connection = self._open_connection()
                with connection.blobopen("blobs", "content", rowid, readonly=True) as blob:
                    blob.seek(offset)
                    yield blob.read(BLOB_CHUNK_BYTES)

    def read(self, sql: str, parameters: Parameters = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._open_connection().execute(sql, parameters).fetchall()

    def read_one(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = (
                self._open_connection().execute(sql, parameters).fetchone()
            )
        return row


def _connected(path: Path | None) -> sqlite3.Connection:
    """A connection to the database at ``path`` (None: in memory), its schema in place."""
    try:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=5000")
        connection.executescript(SCHEMA)
    except (OSError, sqlite3.Error) as exc:
        raise StoreUnavailable(str(exc)) from exc
    return connection
