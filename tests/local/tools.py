"""What the local-account tests share: the quickstart's order lookup tool and a vector store
holding one indexed text file."""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


def served_subprocess(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """``assistctl local serve`` on a free port in its own process: ``(process, base URL)``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "assistctl", "local", "serve", "--port", "0", "--data",
         str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def memory_kib(pid: int, field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (the peak resident size so far) of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def stream_upload(base_url: str, size: int, chunk: int = 1024 * 1024) -> dict[str, Any]:
    """POST /files with a file of ``size`` bytes sent a chunk at a time, so the client holds
    at most one chunk; the answer's JSON."""
    address = urlsplit(base_url)
    boundary = "assistctl-upload-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=600)
    try:
        connection.putrequest("POST", address.path + "/files")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(head) + size + len(tail)))
        connection.endheaders()
        connection.send(head)
        block = b"x" * chunk
        for sent in range(0, size, chunk):
            connection.send(block[: min(chunk, size - sent)])
        connection.send(tail)
        response = connection.getresponse()
        answer: dict[str, Any] = json.loads(response.read())
        assert response.status == 200, answer
        return answer
    finally:
        connection.close()
