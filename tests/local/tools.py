"""What the local-account tests share: the quickstart's order lookup tool, a vector store
holding one indexed text file, the SDK's own types applied strictly to raw bodies, and fake
backends served on a thread."""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import psycopg
import pydantic
from openai.types.responses import Response, ResponseStreamEvent

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


class BackendHandler(BaseHTTPRequestHandler):
    """A fake backend's request handler: JSON replies, no request log on stderr."""

    def send_json(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ServedBackend:
    """A fake backend served on a thread of this process at ``base_url``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
    """Rows read straight from the server's database (its SQLite file, or its PostgreSQL
    schema): what is stored, not what is shown."""
    if server.database:
        with psycopg.connect(server.database) as postgres:
            return postgres.execute(sql).fetchall()
    connection = sqlite3.connect(f"file:{server.data_dir / 'account.sqlite3'}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def stored_objects(server) -> list[tuple[Any, ...]]:
    """Every stored object (table, id, JSON) read straight from the server's database."""
    tables_with_data = (
        "SELECT table_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND column_name = 'data' ORDER BY table_name"
        if server.database
        else "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%data TEXT%'"
    )
    tables = [name for (name,) in database_rows(server, tables_with_data)]
    return [
        (table, *row)
        for table in tables
        for row in database_rows(server, f"SELECT id, data FROM {table} ORDER BY seq")
    ]


def served_subprocess(
    data_dir: Path, database: str | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``assistctl local serve`` on a free port in its own process (on PostgreSQL given a
    ``database`` URL): ``(process, base URL)``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "assistctl", "local", "serve", "--port", "0", "--data",
         str(data_dir), *(["--database", database] if database else [])],
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


# --- the SDK's own types, applied strictly ---------------------------------------------------

OPEN_RESPONSES_ONLY = ("store", "presence_penalty", "frequency_penalty")
"""Response fields the Open Responses specification requires that the SDK's type lacks."""
OPEN_RESPONSES_REQUIRED = (
    "id",
    "object",
    "created_at",
    "completed_at",
    "status",
    "incomplete_details",
    "model",
    "previous_response_id",
    "instructions",
    "output",
    "error",
    "tools",
    "tool_choice",
    "truncation",
    "parallel_tool_calls",
    "text",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "top_logprobs",
    "temperature",
    "reasoning",
    "user",
    "usage",
    "max_output_tokens",
    "max_tool_calls",
    "store",
    "background",
    "service_tier",
    "metadata",
    "safety_identifier",
    "prompt_cache_key",
)


def strictly(sdk_type: Any, body: Any, extras: tuple[str, ...] = ()) -> Any:
    """``body`` (raw JSON) validated by the SDK's own type in pydantic's strict mode, with no
    field anywhere inside that the type does not define (``extras`` names top-level ones
    allowed); the parsed value."""
    parsed = pydantic.TypeAdapter(sdk_type).validate_python(body, strict=True)
    unknown = [path for path in _extra_fields(parsed, "") if path.lstrip(".") not in extras]
    assert not unknown, f"fields the SDK's type does not define: {unknown} in {body}"
    return parsed


def strict_response(body: dict[str, Any]) -> Any:
    """A response body as the SDK's ``Response`` type and the Open Responses specification
    both require it."""
    missing = [name for name in OPEN_RESPONSES_REQUIRED if name not in body]
    assert not missing, f"response lacks {missing}"
    return strictly(Response, body, OPEN_RESPONSES_ONLY)


def strict_event(data: dict[str, Any]) -> Any:
    """A streamed event as the SDK's ``ResponseStreamEvent`` types require it (a response it
    carries also as the Open Responses specification requires it)."""
    if "response" in data:
        strict_response(data["response"])
    extras = tuple(f"response.{name}" for name in OPEN_RESPONSES_ONLY)
    return strictly(ResponseStreamEvent, data, extras)


def _extra_fields(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            yield f"{path}.{key}"
        for name in type(value).model_fields:
            yield from _extra_fields(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _extra_fields(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _extra_fields(item, f"{path}.{key}")


def sse_events(response: httpx2.Response) -> list[dict[str, Any]]:
    """The ``data`` of every server-sent event of a raw streamed answer, checking each
    ``event:`` line names the event's ``type``."""
    events = []
    for block in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines:
            data = json.loads(lines["data"])
            assert lines.get("event") == data["type"], block
            events.append(data)
    return events
