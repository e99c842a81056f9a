"""How many statements and transactions an account sends its database: the round trips a
request costs (``/_admin/stats``, benchmarks/replicas.py). A ``Database`` that forwards every
call to the engine's and counts it; the engines stay unaware."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from assistctl.local.storage.database import Database, Dialect, Parameters


class CountingDatabase(Database):
    """``statements``: every read and write (a file's bytes count as one each way);
    ``transactions``: every outermost transaction, a write outside one included (on
    PostgreSQL each adds two round trips: its ``BEGIN`` with the write lock, its ``COMMIT``)."""

    def __init__(self, engine: Database) -> None:
        self._engine = engine
        self.dialect: Dialect = engine.dialect
        self._lock = threading.Lock()
        self._local = threading.local()
        self.statements = 0
        self.transactions = 0

    def _count(self, statements: int, write: bool) -> None:
        outermost = write and not getattr(self._local, "depth", 0)
        with self._lock:
            self.statements += statements
            self.transactions += 1 if outermost else 0

    @property
    def reads_beside_writes(self) -> bool:
        return self._engine.reads_beside_writes

    def close(self) -> None:
        self._engine.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            with self._lock:
                self.transactions += 1
        self._local.depth = depth + 1
        try:
            with self._engine.transaction():
                yield
        finally:
            self._local.depth = depth

    def consistent(self) -> AbstractContextManager[None]:
        return self._engine.consistent()

    def write(self, sql: str, parameters: Parameters = ()) -> int:
        self._count(1, write=True)
        return self._engine.write(sql, parameters)

    def write_many(self, sql: str, rows: Sequence[Parameters]) -> None:
        self._count(1, write=True)
        self._engine.write_many(sql, rows)

    def write_returning(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...] | None:
        self._count(1, write=True)
        return self._engine.write_returning(sql, parameters)

    def read(self, sql: str, parameters: Parameters = ()) -> list[tuple[Any, ...]]:
        self._count(1, write=False)
        return self._engine.read(sql, parameters)

    def write_blob(self, id: str, project: str, size: int, chunks: Iterable[bytes]) -> None:
        self._count(1, write=True)
        self._engine.write_blob(id, project, size, chunks)

    def read_blob(self, id: str, project: str) -> Iterator[bytes]:
        self._count(1, write=False)
        return self._engine.read_blob(id, project)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"statements": self.statements, "transactions": self.transactions}
