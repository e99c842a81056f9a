"""The account's records: API objects kept as JSON, listed the way the API pages them, and the
bytes of uploaded files.

Every object lives in one table keyed by ``(type, parent, id)``: ``parent`` is the thread of a
message, the vector store of a vector-store file, the run of a run step, '' for top-level
objects. ``seq`` records insertion order, which is the API's ``created_at`` order with ties
broken, so cursors (``after``/``before``) are exact. ``chunks`` is the search index kept in the
same database, so one transaction covers a record and its chunks.

Nothing is stored that could not be answered back: an object with NaN/Infinity or a lone UTF-16
surrogate (which no UTF-8 answer can carry) is refused with ``Unrenderable`` before any write,
so one bad object can never break the lists that contain it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistctl.local.storage.chunks import ChunkIndex
from assistctl.local.storage.database import Database

StoredObject = dict[str, Any]
Filter = Callable[[StoredObject], bool]


@dataclass(frozen=True)
class Page:
    data: list[StoredObject]
    has_more: bool

    def body(self) -> StoredObject:
        """The API's list envelope."""
        return {
            "object": "list",
            "data": self.data,
            "first_id": self.data[0]["id"] if self.data else None,
            "last_id": self.data[-1]["id"] if self.data else None,
            "has_more": self.has_more,
        }


class Unrenderable(ValueError):
    """An object that JSON in UTF-8 cannot carry; the write it came with is refused."""


def _dumped(obj: StoredObject) -> str:
    """``obj`` as the JSON text stored, or ``Unrenderable``."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        raise Unrenderable(f"refusing to store {obj.get('id')!r}: {exc}") from None
    return text


class CursorNotFound(LookupError):
    """``after``/``before`` named an object that is not in the listed collection."""


def page_of(
    objects: list[StoredObject], order: str, after: str | None, before: str | None, limit: int
) -> Page:
    """One page of ``objects`` (in creation order) as the API pages: ``after`` continues in
    ``order``, ``before`` goes back."""
    ordered = list(reversed(objects)) if order == "desc" else list(objects)
    ids = [o["id"] for o in ordered]
    start, end = 0, len(ordered)
    if after is not None:
        if after not in ids:
            raise CursorNotFound(after)
        start = ids.index(after) + 1
    if before is not None:
        if before not in ids:
            raise CursorNotFound(before)
        end = ids.index(before)
    window = ordered[start:end]
    if before is not None and after is None:
        return Page(window[-limit:], has_more=len(window) > limit)
    return Page(window[:limit], has_more=len(window) > limit)


class Store:
    """Opens (or creates) the database at ``path`` (None: in memory); thread-safe."""

    def __init__(self, path: Path | str | None = None) -> None:
        self._database = Database(Path(path) if path is not None else None)
        self.chunks = ChunkIndex(self._database)

    def close(self) -> None:
        self._database.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes, chunks included, so they commit together (nested calls join
        the outer one)."""
        with self._database.transaction():
            yield

    def _next_seq(self) -> int:
        row = self._database.write_returning(
            "INSERT INTO counters (name, value) VALUES ('seq', 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value"
        )
        return int(row[0])

    def insert(self, type: str, obj: StoredObject, parent: str = "") -> StoredObject:
        with self.transaction():
            self._database.write(
                "INSERT INTO objects (type, parent, id, seq, data) VALUES (?, ?, ?, ?, ?)",
                (type, parent, obj["id"], self._next_seq(), _dumped(obj)),
            )
        return obj

    def put(self, type: str, obj: StoredObject, parent: str = "") -> StoredObject:
        """Replace an existing object's data, keeping its place in list order."""
        changed = self._database.write(
            "UPDATE objects SET data = ? WHERE type = ? AND parent = ? AND id = ?",
            (_dumped(obj), type, parent, obj["id"]),
        )
        if changed == 0:
            raise KeyError(obj["id"])
        return obj

    def get(self, type: str, id: str, parent: str = "") -> StoredObject | None:
        row = self._database.read_one(
            "SELECT data FROM objects WHERE type = ? AND parent = ? AND id = ?", (type, parent, id)
        )
        return _loaded(row[0]) if row else None

    def find(self, type: str, id: str) -> tuple[str, StoredObject] | None:
        """Look an object up by id alone: ``(parent, data)``; for ids unique across parents."""
        row = self._database.read_one(
            "SELECT parent, data FROM objects WHERE id = ? AND type = ?", (id, type)
        )
        return (row[0], _loaded(row[1])) if row else None

    def delete(self, type: str, id: str, parent: str = "") -> bool:
        deleted = self._database.write(
            "DELETE FROM objects WHERE type = ? AND parent = ? AND id = ?", (type, parent, id)
        )
        return deleted > 0

    def delete_everywhere(self, type: str, id: str) -> int:
        """Delete the objects with this id under every parent (e.g. a file's attachments)."""
        return self._database.write("DELETE FROM objects WHERE type = ? AND id = ?", (type, id))

    def delete_children(self, type: str, parent: str) -> int:
        return self._database.write(
            "DELETE FROM objects WHERE type = ? AND parent = ?", (type, parent)
        )

    def all(self, type: str, parent: str = "", where: Filter | None = None) -> list[StoredObject]:
        """Every object of a collection in creation order, optionally filtered."""
        rows = self._database.read(
            "SELECT data FROM objects WHERE type = ? AND parent = ? ORDER BY seq", (type, parent)
        )
        objects = [_loaded(row[0]) for row in rows]
        return [o for o in objects if where(o)] if where else objects

    def get_many(self, type: str, ids: list[str], parent: str = "") -> dict[str, StoredObject]:
        """The objects of one collection with these ids, by id (absent ids are left out)."""
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._database.read(
            f"SELECT id, data FROM objects WHERE type = ? AND parent = ? AND id IN ({marks})",
            (type, parent, *ids),
        )
        return {row[0]: _loaded(row[1]) for row in rows}

    def children(self, type: str, parents: list[str]) -> dict[str, list[StoredObject]]:
        """Every object of several collections in one query: parent -> objects in creation
        order (every parent asked for has an entry)."""
        grouped: dict[str, list[StoredObject]] = {parent: [] for parent in parents}
        if not parents:
            return grouped
        marks = ", ".join("?" * len(parents))
        rows = self._database.read(
            f"SELECT parent, data FROM objects WHERE type = ? AND parent IN ({marks}) ORDER BY seq",
            (type, *parents),
        )
        for parent, data in rows:
            grouped[parent].append(_loaded(data))
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
        where: Filter | None = None,
    ) -> Page:
        """One page, as the API pages: ``after`` continues in ``order``, ``before`` goes back."""
        if where is None:
            return self._list_by_seq(type, parent, order, after, before, limit)
        return page_of(self.all(type, parent, where), order, after, before, limit)

    def _seq_of(self, type: str, parent: str, id: str) -> int:
        row = self._database.read_one(
            "SELECT seq FROM objects WHERE type = ? AND parent = ? AND id = ?", (type, parent, id)
        )
        if row is None:
            raise CursorNotFound(id)
        return int(row[0])

    def _list_by_seq(
        self, type: str, parent: str, order: str, after: str | None, before: str | None, limit: int
    ) -> Page:
        """``list`` without a filter, paged in SQL on ``seq``: cost follows the page size, not
        the collection size (a snapshot pages through everything 100 at a time)."""
        newer, older = (">", "<") if order == "asc" else ("<", ">")
        clauses: list[str] = ["type = ?", "parent = ?"]
        parameters: list[Any] = [type, parent]
        with self._database.consistent():
            if after is not None:
                clauses.append(f"seq {newer} ?")
                parameters.append(self._seq_of(type, parent, after))
            if before is not None:
                clauses.append(f"seq {older} ?")
                parameters.append(self._seq_of(type, parent, before))
            backwards = before is not None and after is None
            direction = "ASC" if (order == "asc") != backwards else "DESC"
            rows = self._database.read(
                f"SELECT data FROM objects WHERE {' AND '.join(clauses)} "
                f"ORDER BY seq {direction} LIMIT ?",
                (*parameters, limit + 1),
            )
        objects = [_loaded(row[0]) for row in rows[:limit]]
        if backwards:
            objects.reverse()
        return Page(objects, has_more=len(rows) > limit)

    def count(self, type: str, parent: str | None = None) -> int:
        if parent is None:
            row = self._database.read_one("SELECT COUNT(*) FROM objects WHERE type = ?", (type,))
        else:
            row = self._database.read_one(
                "SELECT COUNT(*) FROM objects WHERE type = ? AND parent = ?", (type, parent)
            )
        return int(row[0]) if row else 0

    def put_blob(self, id: str, content: bytes) -> None:
        self._database.write(
            "INSERT OR REPLACE INTO blobs (id, content) VALUES (?, ?)", (id, content)
        )

    def put_blob_from(self, id: str, size: int, chunks: Iterable[bytes]) -> None:
        """The blob ``id`` written from ``chunks`` (``size`` bytes in all) as they come, in
        bounded memory."""
        self._database.write_blob(id, size, chunks)

    def blob_chunks(self, id: str) -> Iterator[bytes]:
        """The blob ``id`` a chunk at a time."""
        return self._database.read_blob(id)

    def get_blob(self, id: str) -> bytes | None:
        row = self._database.read_one("SELECT content FROM blobs WHERE id = ?", (id,))
        return bytes(row[0]) if row else None

    def delete_blob(self, id: str) -> None:
        self._database.write("DELETE FROM blobs WHERE id = ?", (id,))


def _loaded(data: str) -> StoredObject:
    loaded: StoredObject = json.loads(data)
    return loaded
