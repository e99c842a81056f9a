"""One exception tree. Every error carries a message a user can act on, plus an optional hint."""

from __future__ import annotations

from enum import StrEnum


class AssistctlError(Exception):
    """Base of every error assistctl raises on purpose; the CLI maps it to exit code 1."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


def format_field(path: tuple[str | int, ...]) -> str:
    """``("spec", "tools", 2, "function")`` -> ``spec.tools[2].function``.

    A key that would not read back as one name (empty, or holding a dot) is quoted:
    ``spec.metadata[""]``, ``spec.metadata["a.b"]``.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part or "." in part:
            text += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
        else:
            text += f".{part}" if text else part
    return text


class Problem:
    """One located manifest problem: ``FILE:LINE: FIELD.PATH: message``."""

    __slots__ = ("file", "line", "field", "message", "hint")

    def __init__(
        self, file: str, line: int | None, field: str, message: str, hint: str | None = None
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )
        return f"{text} (hint: {self.hint})" if self.hint else text

    def __repr__(self) -> str:
        return f"Problem({str(self)!r})"


class ManifestError(AssistctlError):
    """Manifests are invalid. Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        summary = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{summary}\n{count} problem{'s' if count != 1 else ''} found.")


class PlanError(AssistctlError):
    """The desired state cannot be planned against the account (ownership clash, stale plan)."""


class ApplyError(AssistctlError):
    """Applying a plan failed part-way. ``done`` lists what was completed before the failure."""

    def __init__(
        self, message: str, *, hint: str | None = None, done: list[str] | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.done = list(done or [])


class Transience(StrEnum):
    """What a failed request may have done, which decides whether and how it is tried again."""

    THROTTLED = "throttled"  # refused before doing anything (429, 409): repeat after a wait
    REFUSED = "refused"  # never sent (nothing listens there): repeat a few times
    UNKNOWN = "unknown"  # may have committed (5xx, dropped connection, timeout): look first
    FATAL = "fatal"  # the request itself is wrong (4xx): never repeat


class ApplyInterrupted(ApplyError):
    """Ctrl-C during apply: what finished stays done; the next apply continues from there."""

    exit_code = 130


class AccountError(AssistctlError):
    """The account cannot be reached or refused a request.

    ``status`` is the HTTP status (None when no answer came), ``code`` the API's error code,
    ``transience`` what the failure may have done, ``retry_after`` the wait the server asked
    for, in seconds. Backends raise it for every failed request, so nothing above them needs
    to know the SDK's exception classes.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        code: str | None = None,
        transience: Transience = Transience.FATAL,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.transience = transience
        self.retry_after = retry_after

    @property
    def not_found(self) -> bool:
        return self.status == 404


class SmokeTestError(AssistctlError):
    """A smoke-test suite cannot run (invalid file, assistant not deployed)."""


class ReleaseError(AssistctlError):
    """A release file cannot be loaded: not a release, or edited since assistctl wrote it."""
