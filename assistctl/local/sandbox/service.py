"""The sandbox as a server uses it: turned on or off by configuration, checked once with
``probe``, and its ``CodeExecutor`` built on the first execution, so a server (or a test suite
starting hundreds of them) that never runs code pays neither the probe nor the kernels."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .limits import Limits
from .probe import probe
from .results import DataFile, Execution, Probe

if TYPE_CHECKING:  # the executor itself is imported on first use (below)
    from assistctl.local.sandbox.executor import CodeExecutor

OFF = Probe(False, "turned off (--code-interpreter off)")


class CodeSandbox:
    """``enabled`` False: never runs code. ``private`` are paths no sandbox may see (the
    account's data directory), besides the home and working directories."""

    def __init__(
        self, enabled: bool, private: Sequence[Path] = (), limits: Limits | None = None
    ) -> None:
        self.enabled = enabled
        self.private = tuple(private)
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._found: Probe | None = None if enabled else OFF
        self._executor: CodeExecutor | None = None
        self._closed = False

    def check(self) -> Probe:
        """Whether code runs here, and why not (probed once)."""
        with self._lock:
            if self._found is None:
                self._found = probe(private=[Path.home(), Path.cwd(), *self.private])
            return self._found

    @property
    def works(self) -> bool:
        return self.check().works

    def execute(self, session_id: str, code: str, files: Iterable[DataFile]) -> Execution:
        """Runs ``code`` in the session's kernel (see ``CodeExecutor.execute``)."""
        return self._started().execute(session_id, code, files)

    def close_session(self, session_id: str) -> None:
        """Stops the session's kernel and deletes its files, if it has any."""
        with self._lock:
            executor = self._executor
        if executor is not None:
            executor.close_session(session_id)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.close()

    def _started(self) -> CodeExecutor:
        found = self.check()
        if not found.works:
            raise RuntimeError(f"the code interpreter is unavailable: {found.reason}")
        with self._lock:
            if self._closed:
                raise RuntimeError("the code interpreter is closed")
            if self._executor is None:
                # Imported on first use: zmq and jupyter_client add ~0.3 s to start-up.
                from assistctl.local.sandbox.executor import CodeExecutor

                private = [Path.home(), Path.cwd(), *self.private]
                self._executor = CodeExecutor(self.limits, private=private)
            return self._executor
