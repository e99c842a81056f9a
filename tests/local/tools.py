"""What the local-account tests share: the quickstart's order lookup tool and a vector store
holding one indexed text file."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

GET_ORDER = {
    "type": "function",
    "function": {
        "name": "get_order",
        "description": "Look up an order by id",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}


def indexed_store(client, path: Path, text: str, name: str | None = None):
    """``text`` written to ``path``, uploaded and attached to a new vector store; returns
    ``(file, store)`` once the file is indexed and searchable."""
    path.write_text(text)
    uploaded = client.files.create(file=path.open("rb"), purpose="assistants")
    fields = {"name": name} if name is not None else {}
    store = client.vector_stores.create(file_ids=[uploaded.id], **fields)
    deadline = time.monotonic() + 4
    while client.vector_stores.retrieve(store.id).file_counts.completed != 1:
        assert time.monotonic() < deadline, f"{path.name} was never indexed"
        time.sleep(0.02)
    return uploaded, store


def database_rows(server, sql: str) -> list[tuple[Any, ...]]:
    """Rows read straight from the server's SQLite file: what is stored, not what is shown."""
    connection = sqlite3.connect(f"file:{server.data_dir / 'account.sqlite3'}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()
