"""What a sandbox writes outside Jupyter (bwrap's errors, the kernel's own stderr and its echo
of the code's output): read all the time, so a full pipe never stalls the kernel, and only the
last ``TAIL_BYTES`` kept, so it costs neither disk nor memory whatever the code writes."""

from __future__ import annotations

import os
import threading
from typing import IO

TAIL_BYTES = 4096
READ_BYTES = 65536


class ConsoleTail:
    """Drains one pipe on a thread of its own until the sandbox closes it."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._pipe = pipe
        self._tail = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name="assistctl-sandbox-console")
        self._thread.daemon = True
        self._thread.start()

    def _drain(self) -> None:
        descriptor = self._pipe.fileno()
        try:
            while chunk := os.read(descriptor, READ_BYTES):
                with self._lock:
                    self._tail += chunk
                    del self._tail[:-TAIL_BYTES]
        except OSError:
            pass
        finally:
            self._pipe.close()

    def last_line(self, wait_seconds: float = 0.0) -> str:
        """The last non-blank line written; waits a little for a dying sandbox's last words."""
        self._thread.join(wait_seconds)
        with self._lock:
            text = self._tail.decode("utf-8", "replace")
        lines = [line for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else ""
