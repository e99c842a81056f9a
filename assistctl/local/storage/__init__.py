"""Storage: the only code of the local account that speaks SQL.

``Store`` keeps the account's records (API objects as JSON in a table per type, beside indexed
columns for every filter and cursor) and file bytes; ``Store.chunks`` is the full-text search
index of vector-store files. Both share one database, so a transaction covers a record and its
chunks. The schema is versioned: opening a database runs the migrations it has not had.
Every statement sees only the current project's objects (``in_project``).
"""

from assistctl.local.storage.chunks import ChunkIndex, IndexedChunk
from assistctl.local.storage.database import StoreClosed, StoreUnavailable
from assistctl.local.storage.jobs import JobTable, Lease
from assistctl.local.storage.projects import ProjectTable, StoredProject
from assistctl.local.storage.scope import DEFAULT_PROJECT, current_project, in_project
from assistctl.local.storage.store import (
    AsOf,
    CursorNotFound,
    Excluding,
    Page,
    Store,
    StoredObject,
    Unrenderable,
    Where,
    page_of,
)

__all__ = [
    "DEFAULT_PROJECT",
    "AsOf",
    "ChunkIndex",
    "CursorNotFound",
    "Excluding",
    "IndexedChunk",
    "JobTable",
    "Lease",
    "Page",
    "ProjectTable",
    "Store",
    "StoreClosed",
    "StoreUnavailable",
    "StoredObject",
    "StoredProject",
    "Unrenderable",
    "Where",
    "current_project",
    "in_project",
    "page_of",
]
