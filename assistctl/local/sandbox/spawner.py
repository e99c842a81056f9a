"""The one long-lived thread that starts every sandbox process, and ticks for idle reaping.

``bwrap --die-with-parent`` uses ``PR_SET_PDEATHSIG``, which fires when the *thread* that forked
the process exits, not the process. A sandbox started from a request's worker thread would be
killed as soon as that worker went away; one started here lives until it is stopped or the server
process exits (then the kernel kills it, as intended).
"""

from __future__ import annotations

import logging
import queue
import subprocess
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)

Job = tuple[Callable[[], Any], "Future[Any]"]


class Spawner:
    """Runs ``Popen`` on its own thread; calls ``on_tick`` every ``tick_seconds`` in between."""

    def __init__(self, tick_seconds: float, on_tick: Callable[[], object]) -> None:
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._tick_seconds = tick_seconds
        self._on_tick = on_tick
        self._thread = threading.Thread(
            target=self._loop, name="assistctl-sandbox-spawner", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self._tick_seconds)
            except queue.Empty:
                try:
                    self._on_tick()
                except Exception:
                    log.exception("sandbox idle reaping failed")
                continue
            if job is None:
                return
            work, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work())
            except BaseException as exc:
                future.set_exception(exc)

    def popen(self, argv: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
        """``subprocess.Popen(argv, **options)``, forked from the spawner thread."""
        if not self._thread.is_alive():
            raise RuntimeError("the sandbox spawner has stopped")
        future: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((lambda: subprocess.Popen(argv, **options), future))
        return future.result()

    def close(self) -> None:
        """Stops the thread; sandboxes it started must be stopped before (they would die)."""
        self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join()
