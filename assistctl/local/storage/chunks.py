"""The search index: the chunks of the files attached to vector stores.

Chunking and ranking are the domain's; this module only keeps chunk text per
``(vector store, file)`` and hands back a store's candidates in a stable order (file, then
position), so equal scores rank the same way on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistctl.local.storage.database import Database


@dataclass(frozen=True)
class IndexedChunk:
    file_id: str
    position: int
    text: str


class ChunkIndex:
    def __init__(self, database: Database) -> None:
        self._database = database

    def index_file(self, vector_store_id: str, file_id: str, chunks: Sequence[str]) -> None:
        """Make ``chunks`` the file's chunks in this vector store (replacing any it had)."""
        with self._database.transaction():
            self.remove(vector_store_id, file_id)
            self._database.write_many(
                "INSERT INTO chunks (vector_store_id, file_id, position, text) VALUES (?, ?, ?, ?)",
                [(vector_store_id, file_id, i, text) for i, text in enumerate(chunks)],
            )

    def remove(self, vector_store_id: str, file_id: str) -> None:
        """Drop one file's chunks from one vector store."""
        self._database.write(
            "DELETE FROM chunks WHERE vector_store_id = ? AND file_id = ?",
            (vector_store_id, file_id),
        )

    def remove_store(self, vector_store_id: str) -> None:
        self._database.write("DELETE FROM chunks WHERE vector_store_id = ?", (vector_store_id,))

    def remove_file_everywhere(self, file_id: str) -> None:
        self._database.write("DELETE FROM chunks WHERE file_id = ?", (file_id,))

    def candidates(self, vector_store_id: str) -> list[IndexedChunk]:
        """Every chunk of a vector store, by file then position."""
        rows = self._database.read(
            "SELECT file_id, position, text FROM chunks WHERE vector_store_id = ? "
            "ORDER BY file_id, position",
            (vector_store_id,),
        )
        return [IndexedChunk(file_id, position, text) for file_id, position, text in rows]
