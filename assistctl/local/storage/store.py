"""The account's records: API objects kept as JSON in a table per type, beside the indexed
columns every filter and cursor uses, listed the way the API pages them; and the bytes of
uploaded files.

A record is addressed by ``(type, id, parent)``: ``parent`` is the thread of a message, the
vector store of a vector-store file, the run of a run step, '' for top-level objects (see
``tables``). Every record belongs to a project: the one of the request in progress
(``scope.current_project``); every statement is limited to it, so another project's ids are
simply not there. ``seq`` (insertion order) orders lists and anchors cursors, so ``after`` and
``before`` cost one index lookup whatever the collection's size, and filters (``where``) are
SQL conditions on indexed columns.

Nothing is stored that could not be answered back: an object with NaN/Infinity or a lone UTF-16
surrogate (which no UTF-8 answer can carry) is refused with ``Unrenderable`` before any write,
so one bad object can never break the lists that contain it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from assistctl.local.storage.chunks import ChunkIndex
from assistctl.local.storage.counting import CountingDatabase
from assistctl.local.storage.database import Database, Dialect, is_postgres_url
from assistctl.local.storage.jobs import JobTable
from assistctl.local.storage.postgres import PostgresDatabase
from assistctl.local.storage.projects import ProjectTable
from assistctl.local.storage.scope import current_project
from assistctl.local.storage.sqlite import SqliteDatabase
from assistctl.local.storage.tables import Table, table_of

StoredObject = dict[str, Any]


@dataclass(frozen=True)
class Excluding:
    """A ``where`` value: any value but this one (a missing value included)."""

    value: Any


@dataclass(frozen=True)
class AsOf:
    """A ``where`` value for a computed column: ``value`` as of ``moment``."""

    value: Any
    moment: float


# column -> value (a list, tuple or set: any of them; ``Excluding``; ``AsOf``)
Where = Mapping[str, Any]


@dataclass(frozen=True)
class Page:
    """One page: ``texts`` are the objects' stored JSON, answered back as they are."""

    texts: list[str]
    ids: list[str]
    has_more: bool

    @property
    def data(self) -> list[StoredObject]:
        return [_loaded(text) for text in self.texts]

    def body(self) -> StoredObject:
        """The API's list envelope, objects decoded."""
        return {
            "object": "list",
            "data": self.data,
            "first_id": self.ids[0] if self.ids else None,
            "last_id": self.ids[-1] if self.ids else None,
            "has_more": self.has_more,
        }

    def body_json(self) -> bytes:
        """The API's list envelope as JSON, the stored objects spliced in unparsed."""
        ends = json.dumps(
            {
                "first_id": self.ids[0] if self.ids else None,
                "last_id": self.ids[-1] if self.ids else None,
                "has_more": self.has_more,
            },
            separators=(",", ":"),
        )
        return f'{{"object":"list","data":[{",".join(self.texts)}],{ends[1:]}'.encode()


class Unrenderable(ValueError):
    """An object that JSON in UTF-8 cannot carry; the write it came with is refused."""


def _dumped(obj: StoredObject) -> str:
    """``obj`` as the JSON text stored, or ``Unrenderable``."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        raise Unrenderable(f"refusing to store {obj.get('id')!r}: {exc}") from None
    return text


class CursorNotFound(LookupError):
    """``after``/``before`` named an object that is not in the listed collection."""


def page_of(
    objects: list[StoredObject], order: str, after: str | None, before: str | None, limit: int
) -> Page:
    """One page of ``objects`` held in memory (in creation order) as the API pages:
    ``after`` continues in ``order``, ``before`` goes back."""
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
    chosen = window[-limit:] if before is not None and after is None else window[:limit]
    return Page([_dumped(o) for o in chosen], [o["id"] for o in chosen], len(window) > limit)


class _Query:
    """The ``WHERE`` of a statement on one table: its collection, its project, filters."""

    def __init__(self, table: Table, type: str, parent: str | None) -> None:
        self.table = table
        self.clauses: list[str] = ["project = ?"]
        self.parameters: list[Any] = [current_project()]
        if table.keyed_by_type:
            self.equal("type", type)
        if parent is not None and table.parent is not None:
            self.equal(table.parent, parent)

    def equal(self, column: str, value: Any) -> _Query:
        self.clauses.append(f"{column} = ?")
        self.parameters.append(value)
        return self

    def where(self, where: Where | None) -> _Query:
        computed = dict(self.table.computed)
        for column, value in (where or {}).items():
            if isinstance(value, AsOf):
                self.clauses.append(f"{computed[column]} = ?")
                self.parameters += [value.moment, value.value]
            elif isinstance(value, Excluding):
                self.clauses.append(f"({column} IS NULL OR {column} <> ?)")
                self.parameters.append(value.value)
            elif isinstance(value, list | tuple | set | frozenset):
                values = list(value)
                if not values:
                    self.clauses.append("1 = 0")
                else:
                    self.clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                    self.parameters += values
            else:
                self.equal(column, value)
        return self

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses)


def opened(location: Path | str | None) -> Database:
    """The database at ``location``: a ``postgresql://`` URL, else an SQLite file (None: in
    memory)."""
    if is_postgres_url(location):
        assert isinstance(location, str)
        return PostgresDatabase(location)
    return SqliteDatabase(Path(location) if location is not None else None)


class Store:
    """Opens (or creates, or upgrades) the database at ``location``: an SQLite file (None: in
    memory) or a ``postgresql://`` URL; thread-safe."""

    def __init__(self, location: Path | str | None = None) -> None:
        self._database = CountingDatabase(opened(location))
        self.chunks = ChunkIndex(self._database)
        self.projects = ProjectTable(self._database)
        self.jobs = JobTable(self._database)

    def close(self) -> None:
        self._database.close()

    def database_counts(self) -> dict[str, int]:
        """Statements and transactions sent to the database since it was opened."""
        return self._database.counts()

    @property
    def dialect(self) -> Dialect:
        """The engine underneath: ``sqlite`` or ``postgresql``."""
        return self._database.dialect

    @property
    def reads_beside_writes(self) -> bool:
        """Whether reads outside a transaction run on their own connection, never waiting
        for a write (a database on disk; an in-memory one has a single connection)."""
        return self._database.reads_beside_writes

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes, chunks included, so they commit together (nested calls join
        the outer one)."""
        with self._database.transaction():
            yield

    def insert(self, type: str, obj: StoredObject, parent: str = "") -> StoredObject:
        table = table_of(type)
        names = ["id", "project", "created_at"]
        values: list[Any] = [obj["id"], current_project(), obj.get("created_at")]
        if table.keyed_by_type:
            names.append("type")
            values.append(type)
        if table.parent is not None:
            names.append(table.parent)
            values.append(parent)
        for column in table.columns:
            names.append(column.name)
            values.append(column.value(obj))
        names.append("data")
        values.append(_dumped(obj))
        self._database.write(
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' * len(values))})",
            values,
        )
        return obj

    def put(self, type: str, obj: StoredObject, parent: str = "") -> StoredObject:
        """Replace an existing object's data, keeping its place in list order."""
        table = table_of(type)
        query = _Query(table, type, parent).equal("id", obj["id"])
        assignments = ["data = ?", *(f"{column.name} = ?" for column in table.columns)]
        values = [_dumped(obj), *(column.value(obj) for column in table.columns)]
        changed = self._database.write(
            f"UPDATE {table.name} SET {', '.join(assignments)} WHERE {query.sql}",
            (*values, *query.parameters),
        )
        if changed == 0:
            raise KeyError(obj["id"])
        return obj

    def get(self, type: str, id: str, parent: str = "") -> StoredObject | None:
        text = self.get_text(type, id, parent)
        return _loaded(text) if text is not None else None

    def get_text(self, type: str, id: str, parent: str = "") -> str | None:
        """An object's stored JSON, as it will be answered."""
        table = table_of(type)
        query = _Query(table, type, parent).equal("id", id)
        row = self._database.read_one(
            f"SELECT data FROM {table.name} WHERE {query.sql}", query.parameters
        )
        return str(row[0]) if row else None

    def find(self, type: str, id: str) -> tuple[str, StoredObject] | None:
        """Look an object up by id alone: ``(parent, data)``; for ids unique across parents."""
        table = table_of(type)
        query = _Query(table, type, None).equal("id", id)
        parent = table.parent or "''"
        row = self._database.read_one(
            f"SELECT {parent}, data FROM {table.name} WHERE {query.sql}", query.parameters
        )
        return (row[0], _loaded(row[1])) if row else None

    def delete(self, type: str, id: str, parent: str = "") -> bool:
        table = table_of(type)
        query = _Query(table, type, parent).equal("id", id)
        deleted = self._database.write(
            f"DELETE FROM {table.name} WHERE {query.sql}", query.parameters
        )
        return deleted > 0

    def delete_everywhere(self, type: str, id: str) -> int:
        """Delete the objects with this id under every parent (e.g. a file's attachments)."""
        table = table_of(type)
        query = _Query(table, type, None).equal("id", id)
        return self._database.write(f"DELETE FROM {table.name} WHERE {query.sql}", query.parameters)

    def delete_children(self, type: str, parent: str) -> int:
        table = table_of(type)
        query = _Query(table, type, parent)
        return self._database.write(f"DELETE FROM {table.name} WHERE {query.sql}", query.parameters)

    def all(self, type: str, parent: str = "", where: Where | None = None) -> list[StoredObject]:
        """Every object of a collection in creation order, optionally filtered."""
        table = table_of(type)
        query = _Query(table, type, parent).where(where)
        rows = self._database.read(
            f"SELECT data FROM {table.name} WHERE {query.sql} ORDER BY seq", query.parameters
        )
        return [_loaded(row[0]) for row in rows]

    def get_many(self, type: str, ids: list[str], parent: str = "") -> dict[str, StoredObject]:
        """The objects of one collection with these ids, by id (absent ids are left out)."""
        if not ids:
            return {}
        table = table_of(type)
        query = _Query(table, type, parent).where({"id": ids})
        rows = self._database.read(
            f"SELECT id, data FROM {table.name} WHERE {query.sql}", query.parameters
        )
        return {row[0]: _loaded(row[1]) for row in rows}

    def children(self, type: str, parents: list[str]) -> dict[str, list[StoredObject]]:
        """Every object of several collections in one query: parent -> objects in creation
        order (every parent asked for has an entry)."""
        grouped: dict[str, list[StoredObject]] = {parent: [] for parent in parents}
        table = table_of(type)
        if not parents or table.parent is None:
            return grouped
        query = _Query(table, type, None).where({table.parent: parents})
        rows = self._database.read(
            f"SELECT {table.parent}, data FROM {table.name} WHERE {query.sql} ORDER BY seq",
            query.parameters,
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
        where: Where | None = None,
    ) -> Page:
        """One page, as the API pages: ``after`` continues in ``order``, ``before`` goes back.
        Filters, cursors and the limit are one indexed query: the cost follows the page size,
        not the collection's."""
        table = table_of(type)
        query = _Query(table, type, parent).where(where)
        newer, older = (">", "<") if order == "asc" else ("<", ">")
        # a cursor's lookup and the page must see one state; a page alone is one statement
        cursored = after is not None or before is not None
        with self._database.consistent() if cursored else nullcontext():
            if after is not None:
                query.clauses.append(f"seq {newer} ?")
                query.parameters.append(self._seq_of(table, type, parent, after, where))
            if before is not None:
                query.clauses.append(f"seq {older} ?")
                query.parameters.append(self._seq_of(table, type, parent, before, where))
            backwards = before is not None and after is None
            direction = "ASC" if (order == "asc") != backwards else "DESC"
            rows = self._database.read(
                f"SELECT id, data FROM {table.name} WHERE {query.sql} "
                f"ORDER BY seq {direction} LIMIT ?",
                (*query.parameters, limit + 1),
            )
        kept = rows[:limit]
        if backwards:
            kept.reverse()
        return Page([row[1] for row in kept], [row[0] for row in kept], len(rows) > limit)

    def _seq_of(self, table: Table, type: str, parent: str, id: str, where: Where | None) -> int:
        """Where a cursor stands; it must name an object of the listed (filtered) collection."""
        query = _Query(table, type, parent).where(where).equal("id", id)
        row = self._database.read_one(
            f"SELECT seq FROM {table.name} WHERE {query.sql}", query.parameters
        )
        if row is None:
            raise CursorNotFound(id)
        return int(row[0])

    def message_texts(
        self, thread_id: str, excluding_run: str, before: int | None, limit: int
    ) -> Sequence[tuple[int, str, str]]:
        """A page of a thread's messages outside run ``excluding_run``, newest first, from the
        columns a run reads instead of the JSON: ``(seq, role, text)``; the next page is the
        one ``before`` the last ``seq``."""
        table = table_of("thread.message")
        query = _Query(table, "thread.message", thread_id).where(
            {"run_id": Excluding(excluding_run)}
        )
        if before is not None:
            query.clauses.append("seq < ?")
            query.parameters.append(before)
        rows = self._database.read(
            f"SELECT seq, role, content_text FROM {table.name} "
            f"WHERE {query.sql} ORDER BY seq DESC LIMIT ?",
            (*query.parameters, limit),
        )
        return cast(list[tuple[int, str, str]], rows)  # the columns' types; rows as read

    def count(self, type: str, parent: str | None = None) -> int:
        table = table_of(type)
        query = _Query(table, type, parent)
        row = self._database.read_one(
            f"SELECT COUNT(*) FROM {table.name} WHERE {query.sql}", query.parameters
        )
        return int(row[0]) if row else 0

    def attachment_summaries(
        self, vector_store_ids: Sequence[str], moment: float
    ) -> dict[str, dict[str, tuple[int, int]]]:
        """Per vector store, its files counted by status as of ``moment``, with the bytes of
        the completed ones: ``{store: {status: (count, usage_bytes)}}`` (one grouped query)."""
        summaries: dict[str, dict[str, tuple[int, int]]] = {id: {} for id in vector_store_ids}
        if not vector_store_ids:
            return summaries
        table = table_of("vector_store.file")
        status = dict(table.computed)["status"]
        query = _Query(table, "vector_store.file", None).where(
            {"vector_store_id": vector_store_ids}
        )
        rows = self._database.read(
            f"SELECT vector_store_id, {status} AS status, COUNT(*), SUM(usage_bytes) "
            f"FROM {table.name} WHERE {query.sql} GROUP BY vector_store_id, status",
            (moment, *query.parameters),
        )
        for vector_store_id, state, count, usage in rows:
            summaries[vector_store_id][state] = (int(count), int(usage or 0))
        return summaries

    def put_blob(self, id: str, content: bytes) -> None:
        self.put_blob_from(id, len(content), [content])

    def put_blob_from(self, id: str, size: int, chunks: Iterable[bytes]) -> None:
        """The bytes ``id`` written from ``chunks`` (``size`` bytes in all) as they come, in
        bounded memory."""
        self._database.write_blob(id, current_project(), size, chunks)

    def blob_chunks(self, id: str) -> Iterator[bytes]:
        """The bytes ``id`` a chunk at a time."""
        return self._database.read_blob(id, current_project())

    def get_blob(self, id: str) -> bytes | None:
        with self._database.consistent():
            row = self._database.read_one(
                "SELECT 1 FROM file_bytes WHERE id = ? AND project = ?", (id, current_project())
            )
            return b"".join(self.blob_chunks(id)) if row else None

    def delete_blob(self, id: str) -> None:
        self._database.write(
            "DELETE FROM file_bytes WHERE id = ? AND project = ?", (id, current_project())
        )


def _loaded(data: str) -> StoredObject:
    loaded: StoredObject = json.loads(data)
    return loaded
