"""Storage: the only code of the local account that speaks SQL.

``Store`` keeps the account's records (API objects as JSON, listed as the API pages them) and
file bytes; ``Store.chunks`` is the search index of vector-store files. Both share one SQLite
database, so a transaction covers a record and its chunks. A second backend (PostgreSQL)
offers the same two classes' public methods.
"""

from assistctl.local.storage.chunks import ChunkIndex, IndexedChunk
from assistctl.local.storage.database import StoreClosed, StoreUnavailable
from assistctl.local.storage.store import (
    CursorNotFound,
    Filter,
    Page,
    Store,
    StoredObject,
    Unrenderable,
    page_of,
)

__all__ = [
    "ChunkIndex",
    "CursorNotFound",
    "Filter",
    "IndexedChunk",
    "Page",
    "Store",
    "StoreClosed",
    "StoreUnavailable",
    "StoredObject",
    "Unrenderable",
    "page_of",
]
