"""What the executor hands back: files, the outcome of one execution, and the probe's verdict."""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class DataFile:
    """A file under ``/mnt/data``: ``name`` is its path relative to that directory."""

    name: str
    data: bytes = b""


def check_input_name(name: str) -> None:
    """Input files sit directly in ``/mnt/data``: one plain path component, nothing to resolve."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\0" in name
        or len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES
    ):
        raise ValueError(f"not a plain file name for /mnt/data: {name!r}")


class ExecutionStatus(enum.StrEnum):
    OK = "ok"
    ERROR = "error"  # the code raised; the session and its variables live on
    TIMEOUT = "timeout"  # the wall-time limit hit; the kernel was restarted
    CRASHED = "crashed"  # the kernel died (killed, out of memory, exited); it was restarted
    UNAVAILABLE = "unavailable"  # no kernel could be started; nothing ran


@dataclass(frozen=True)
class Execution:
    """The outcome of running one piece of code in a session.

    ``logs`` holds stdout, stderr, shown values and the traceback in the order they came, cut at
    the output cap (``truncated``). ``images`` are PNG bytes of the figures shown. ``files`` are
    the files under ``/mnt/data`` that this execution created or changed. ``message`` says, in
    words fit for the model, what went wrong with the session itself (a timeout, a restart, a
    cut): ``tool_logs`` joins it to the logs for a code-interpreter call's output.
    """

    status: ExecutionStatus
    logs: str = ""
    images: tuple[bytes, ...] = ()
    files: tuple[DataFile, ...] = ()
    message: str | None = None
    truncated: bool = False

    @property
    def restarted(self) -> bool:
        """True when the session lost its variables: the next execution starts a fresh kernel."""
        return self.status in (ExecutionStatus.TIMEOUT, ExecutionStatus.CRASHED)

    @property
    def tool_logs(self) -> str:
        if not self.message:
            return self.logs
        if not self.logs:
            return self.message
        return f"{self.logs.rstrip(chr(10))}\n{self.message}"


@dataclass(frozen=True)
class Probe:
    """Whether sandboxed kernels can run on this machine, and if not, why (one line)."""

    works: bool
    reason: str
