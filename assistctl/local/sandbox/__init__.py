"""The code interpreter's sandbox: persistent Python kernels in bubblewrap, one per session.

Self-contained (standard library, ``jupyter_client``, ``ipykernel``, ``pyzmq`` and bubblewrap):
nothing here imports the rest of ``assistctl.local``. This package's own names need none of the
optional packages, so a server can ask ``probe()`` first and import the executor only when it
says yes::

    found = probe()                      # Probe(works, reason), at server start-up
    if found.works:
        from assistctl.local.sandbox.executor import CodeExecutor
        with CodeExecutor(Limits()) as executor:
            result = executor.execute("thread_abc", "print(1 + 1)", [DataFile("a.csv", b"…")])
            result.status, result.tool_logs, result.images, result.files
            executor.close_session("thread_abc")

A server uses ``CodeSandbox``, which does both lazily: probed on first question, the executor
built on the first execution.
"""

from .limits import Limits
from .probe import probe
from .results import DataFile, Execution, ExecutionStatus, Probe
from .service import CodeSandbox

__all__ = ["CodeSandbox", "DataFile", "Execution", "ExecutionStatus", "Limits", "Probe", "probe"]
