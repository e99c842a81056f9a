"""The SQLite database of one account: its connection, its schema and its transactions.

One connection guarded by a lock serves every table (SQLite serialises writers anyway), so one
transaction spans objects, file bytes and search chunks alike. Writes commit before the call
returns (WAL, ``synchronous=NORMAL``): an answered request survives a crash of the server.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
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


class Database:
    """Thread-safe: every statement runs under one re-entrant lock."""

    def __init__(self, path: Path | None) -> None:
        if path is None:
            target = ":memory:"
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            target = str(path)
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA busy_timeout=5000")
        self._connection.executescript(SCHEMA)
        self._depth = 0

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes so they commit together (nested calls join the outer one)."""
        with self._lock:
            if self._depth == 0:
                self._connection.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._connection.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._connection.execute("COMMIT")

    @contextmanager
    def consistent(self) -> Iterator[None]:
        """Several reads that must see one state: no write of this account runs between them."""
        with self._lock:
            yield

    def write(self, sql: str, parameters: Parameters = ()) -> int:
        """Run one write statement in a transaction; the number of rows it touched."""
        with self.transaction():
            return self._connection.execute(sql, parameters).rowcount

    def write_many(self, sql: str, rows: Sequence[Parameters]) -> None:
        with self.transaction():
            self._connection.executemany(sql, rows)

    def write_returning(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...]:
        """Run one ``... RETURNING`` write statement; the row it returned."""
        with self.transaction():
            row: tuple[Any, ...] = self._connection.execute(sql, parameters).fetchone()
        return row

    def read(self, sql: str, parameters: Parameters = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def read_one(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._connection.execute(sql, parameters).fetchone()
        return row
