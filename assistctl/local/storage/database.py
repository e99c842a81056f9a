"""The seam between the account's SQL and the database engine that runs it: ``Database``, with
one implementation per engine (``sqlite``: a file beside the server, the default;
``postgres``: a server any number of replicas share).

The storage room writes its SQL once, in SQLite's spelling with ``?`` placeholders; an engine
translates what it must (PostgreSQL: placeholders, once per statement). Statements that differ
beyond that ask ``dialect``. Every write is transactional: a call outside ``transaction`` is
its own transaction; inside one, the calls of the same thread join it and reads see its writes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal

Parameters = Sequence[Any]
Dialect = Literal["sqlite", "postgresql"]
BLOB_CHUNK_BYTES = 1024 * 1024
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class StoreUnavailable(Exception):
    """The database cannot be opened or reached (a bad path, a file that is not a database, no
    space, a PostgreSQL server that is down or refuses us, a schema newer than this release
    knows)."""


class StoreClosed(Exception):
    """The account's database was closed (the server stopped) while work still wanted it."""


def is_postgres_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


class Database(ABC):
    """One account's database; thread-safe."""

    dialect: Dialect

    @property
    def claim_clause(self) -> str:
        """What ends a ``SELECT`` that claims rows other workers must skip (a job queue):
        ``FOR UPDATE SKIP LOCKED`` where the engine has row locks; SQLite's single writer
        needs none."""
        return " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""

    @property
    @abstractmethod
    def reads_beside_writes(self) -> bool:
        """Whether reads outside a transaction run on their own connection, never waiting
        for a write."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Group several writes so they commit together (nested calls join the outer one)."""

    @abstractmethod
    def consistent(self) -> AbstractContextManager[None]:
        """Several reads that must see one state (a read-only snapshot)."""

    @abstractmethod
    def write(self, sql: str, parameters: Parameters = ()) -> int:
        """Run one write statement in a transaction; the number of rows it touched."""

    @abstractmethod
    def write_many(self, sql: str, rows: Sequence[Parameters]) -> None: ...

    @abstractmethod
    def write_returning(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...] | None:
        """Run one ``... RETURNING`` write statement; the row it returned (None: it touched
        none)."""

    @abstractmethod
    def read(self, sql: str, parameters: Parameters = ()) -> list[tuple[Any, ...]]: ...

    def read_one(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...] | None:
        rows = self.read(sql, parameters)
        return rows[0] if rows else None

    @abstractmethod
    def write_blob(self, id: str, project: str, size: int, chunks: Iterable[bytes]) -> None:
        """Make the file bytes ``id`` the ``size`` bytes that ``chunks`` yield, written as they
        come: memory stays bounded whatever the size. Any other total is a ValueError, and
        nothing is written."""

    @abstractmethod
    def read_blob(self, id: str, project: str) -> Iterator[bytes]:
        """The file bytes ``id`` a chunk at a time (nothing if there are none)."""


def counted(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``chunks`` as they come, checked to add up to exactly ``size`` bytes (a ValueError
    otherwise, raised before the transaction writing them can commit)."""
    written = 0
    for chunk in chunks:
        if written + len(chunk) > size:
            raise ValueError(f"more than the {size} bytes announced")
        written += len(chunk)
        yield chunk
    if written != size:
        raise ValueError(f"expected {size} bytes, got {written}")
