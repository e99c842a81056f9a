"""SQLite storage for the local account: API objects kept as JSON, listed like the API pages them.

Every object lives in one table keyed by ``(type, parent, id)``: ``parent`` is the thread of a
message, the vector store of a vector-store file, the run of a run step, '' for top-level
objects. ``seq`` records insertion order, which is the API's ``created_at`` order with ties
broken, so cursors (``after``/``before``) are exact. Writes commit before the call returns
(WAL, ``synchronous=NORMAL``): an answered request survives a crash of the server.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ALPHABET = string.ascii_letters + string.digits

_SCHEMA = """
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
"""


def new_id(prefix: str, separator: str = "_") -> str:
    """An id shaped like the API's (``asst_…``, ``file-…``)."""
    return prefix + separator + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class Page:
    data: list[dict[str, Any]]
    has_more: bool

    def body(self) -> dict[str, Any]:
        """The API's list envelope."""
        return {
            "object": "list",
            "data": self.data,
            "first_id": self.data[0]["id"] if self.data else None,
            "last_id": self.data[-1]["id"] if self.data else None,
            "has_more": self.has_more,
        }


class CursorNotFound(LookupError):
    """``after``/``before`` named an object that is not in the listed collection."""


class Store:
    """Thread-safe: one connection guarded by a lock (SQLite serialises writers anyway)."""

    def __init__(self, path: Path | str | None = None) -> None:
        if path is None:
            target = ":memory:"
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            target = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._depth = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group several writes so they commit together (nested calls join the outer one)."""
        with self._lock:
            if self._depth == 0:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("COMMIT")

    def _next_seq(self) -> int:
        row = self._db.execute(
            "INSERT INTO counters (name, value) VALUES ('seq', 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value"
        ).fetchone()
        return int(row[0])

    def insert(self, type: str, obj: dict[str, Any], parent: str = "") -> dict[str, Any]:
        with self.transaction():
            self._db.execute(
                "INSERT INTO objects (type, parent, id, seq, data) VALUES (?, ?, ?, ?, ?)",
                (type, parent, obj["id"], self._next_seq(), json.dumps(obj)),
            )
        return obj

    def put(self, type: str, obj: dict[str, Any], parent: str = "") -> dict[str, Any]:
        """Replace an existing object's data, keeping its place in list order."""
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE objects SET data = ? WHERE type = ? AND parent = ? AND id = ?",
                (json.dumps(obj), type, parent, obj["id"]),
            )
            if cursor.rowcount == 0:
                raise KeyError(obj["id"])
        return obj

    def get(self, type: str, id: str, parent: str = "") -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM objects WHERE type = ? AND parent = ? AND id = ?",
                (type, parent, id),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def find(self, type: str, id: str) -> tuple[str, dict[str, Any]] | None:
        """Look an object up by id alone: ``(parent, data)``; for ids unique across parents."""
        with self._lock:
            row = self._db.execute(
                "SELECT parent, data FROM objects WHERE id = ? AND type = ?", (id, type)
            ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def delete(self, type: str, id: str, parent: str = "") -> bool:
        with self.transaction():
            cursor = self._db.execute(
                "DELETE FROM objects WHERE type = ? AND parent = ? AND id = ?", (type, parent, id)
            )
        return cursor.rowcount > 0

    def delete_everywhere(self, type: str, id: str) -> int:
        """Delete the objects with this id under every parent (e.g. a file's attachments)."""
        with self.transaction():
            cursor = self._db.execute("DELETE FROM objects WHERE type = ? AND id = ?", (type, id))
        return cursor.rowcount

    def delete_children(self, type: str, parent: str) -> int:
        with self.transaction():
            cursor = self._db.execute(
                "DELETE FROM objects WHERE type = ? AND parent = ?", (type, parent)
            )
        return cursor.rowcount

    def all(
        self,
        type: str,
        parent: str = "",
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Every object of a collection in creation order, optionally filtered."""
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM objects WHERE type = ? AND parent = ? ORDER BY seq",
                (type, parent),
            ).fetchall()
        objects = [json.loads(r[0]) for r in rows]
        return [o for o in objects if where(o)] if where else objects

    def get_many(self, type: str, ids: list[str], parent: str = "") -> dict[str, dict[str, Any]]:
        """The objects of one collection with these ids, by id (absent ids are left out)."""
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, data FROM objects WHERE type = ? AND parent = ? AND id IN ({marks})",
                (type, parent, *ids),
            ).fetchall()
        return {row[0]: json.loads(row[1]) for row in rows}

    def children(self, type: str, parents: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Every object of several collections in one query: parent -> objects in creation
        order (every parent asked for has an entry)."""
        grouped: dict[str, list[dict[str, Any]]] = {parent: [] for parent in parents}
        if not parents:
            return grouped
        marks = ", ".join("?" * len(parents))
        with self._lock:
            rows = self._db.execute(
                f"SELECT parent, data FROM objects WHERE type = ? AND parent IN ({marks}) "
                "ORDER BY seq",
                (type, *parents),
            ).fetchall()
        for parent, data in rows:
            grouped[parent].append(json.loads(data))
        return grouped

    def list(
        self,
        type: str,
        parent: str = "",
        *,
        order: str = "desc",
        after: str | None = None,
        before: str | None = None,
        limit: int = 20,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Page:
        """One page, as the API pages: ``after`` continues in ``order``, ``before`` goes back."""
        if where is None:
            return self._list_by_seq(type, parent, order, after, before, limit)
        objects = self.all(type, parent, where)
        if order == "desc":
            objects.reverse()
        ids = [o["id"] for o in objects]
        start, end = 0, len(objects)
        if after is not None:
            if after not in ids:
                raise CursorNotFound(after)
            start = ids.index(after) + 1
        if before is not None:
            if before not in ids:
                raise CursorNotFound(before)
            end = ids.index(before)
        window = objects[start:end]
        if before is not None and after is None:
            page = window[-limit:]
            return Page(page, has_more=len(window) > limit)
        return Page(window[:limit], has_more=len(window) > limit)

    def _seq_of(self, type: str, parent: str, id: str) -> int:
        row = self._db.execute(
            "SELECT seq FROM objects WHERE type = ? AND parent = ? AND id = ?", (type, parent, id)
        ).fetchone()
        if row is None:
            raise CursorNotFound(id)
        return int(row[0])

    def _list_by_seq(
        self, type: str, parent: str, order: str, after: str | None, before: str | None, limit: int
    ) -> Page:
        """``list`` without a filter, paged in SQL on ``seq``: cost follows the page size, not
        the collection size (a snapshot pages through everything 100 at a time)."""
        newer, older = (">", "<") if order == "asc" else ("<", ">")
        clauses, parameters = ["type = ?", "parent = ?"], [type, parent]
        with self._lock:
            if after is not None:
                clauses.append(f"seq {newer} ?")
                parameters.append(self._seq_of(type, parent, after))
            if before is not None:
                clauses.append(f"seq {older} ?")
                parameters.append(self._seq_of(type, parent, before))
            backwards = before is not None and after is None
            direction = "ASC" if (order == "asc") != backwards else "DESC"
            rows = self._db.execute(
                f"SELECT data FROM objects WHERE {' AND '.join(clauses)} "
                f"ORDER BY seq {direction} LIMIT ?",
                (*parameters, limit + 1),
            ).fetchall()
        objects = [json.loads(r[0]) for r in rows[:limit]]
        if backwards:
            objects.reverse()
        return Page(objects, has_more=len(rows) > limit)

    def count(self, type: str, parent: str | None = None) -> int:
        with self._lock:
            if parent is None:
                row = self._db.execute("SELECT COUNT(*) FROM objects WHERE type = ?", (type,))
            else:
                row = self._db.execute(
                    "SELECT COUNT(*) FROM objects WHERE type = ? AND parent = ?", (type, parent)
                )
            return int(row.fetchone()[0])

    def execute(self, sql: str, parameters: tuple | list = ()) -> int:
        """Run one write statement on a table a module owns (e.g. search's chunks); rowcount."""
        with self.transaction():
            return self._db.execute(sql, parameters).rowcount

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        with self.transaction():
            self._db.executemany(sql, rows)

    def query(self, sql: str, parameters: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def ensure_tables(self, schema: str) -> None:
        """Create a module's own tables (idempotent ``CREATE ... IF NOT EXISTS`` script)."""
        with self._lock:
            self._db.executescript(schema)

    def put_blob(self, id: str, content: bytes) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO blobs (id, content) VALUES (?, ?)", (id, content)
            )

    def get_blob(self, id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT content FROM blobs WHERE id = ?", (id,)).fetchone()
        return bytes(row[0]) if row else None

    def delete_blob(self, id: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM blobs WHERE id = ?", (id,))
