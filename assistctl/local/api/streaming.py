"""Server-sent events for runs and responses, framed as the API streams them.

A streamed run (or response) is produced by a worker thread that emits events while it
executes; the HTTP response drains them from a queue. If the client goes away the worker still
finishes (as on the API, a run does not stop because nobody is listening), the events are
dropped. Runs end their stream with ``done``; responses just end after their final event.
"""

from __future__ import annotations

import json
import logging
import queue
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from starlette.responses import StreamingResponse

from assistctl.local.domain import Emit, Event, in_background

DONE = b"event: done\ndata: [DONE]\n\n"
_END = object()
log = logging.getLogger(__name__)


def frame(event: str, data: Any) -> bytes:
    """One SSE event: ``event: <name>`` and the JSON ``data`` line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def frames(events: Iterable[Event]) -> list[bytes]:
    return [frame(event, data) for event, data in events]


def error_frame(message: str) -> bytes:
    return frame("error", {"error": {"message": message, "type": "server_error"}})


def event_stream(
    prelude: Iterable[bytes], work: Callable[[Emit], object], closing: bytes = DONE
) -> Iterator[bytes]:
    """``prelude`` frames, then every event ``work(emit)`` emits in its thread, then
    ``closing``.

    The worker starts at once, not when the client starts reading, so the run is executed
    even if the response is never consumed. Each event is JSON-encoded as it is emitted, so
    later changes to the objects the worker holds cannot alter what was sent.
    """
    pending: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            work(lambda event, data: pending.put(frame(event, data)))
        except Exception:
            log.exception("streamed run failed")
            pending.put(error_frame("The server had an error while processing your request."))
        finally:
            pending.put(_END)

    in_background(run, "assistctl-stream")
    return _drain(list(prelude), pending, closing)


def _drain(prelude: list[bytes], pending: queue.Queue[Any], closing: bytes) -> Iterator[bytes]:
    yield from prelude
    while (item := pending.get()) is not _END:
        yield item
    if closing:
        yield closing


def sse_response(stream: Iterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
