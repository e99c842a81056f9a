"""A per-stack lock held in the account itself: two applies of one stack never run at once.

There is no state file, so the lock is a marker in the account: a tiny upload whose filename
says whose lock it is (``assistctl-lock~<owner>~<lock id>~<acquired ms>~<expires s>~<holder>``).
Taking the lock uploads a marker, then lists the markers of the owner: the oldest live one (by
the account's ``created_at``, then acquisition time, then lock id) holds the lock, everyone
else waits in line or gives up after ``--lock-timeout``. ``created_at`` counts whole seconds,
so a marker made in the same second could still sort first: a run that finds itself first
looks again after ``SETTLE_S`` before it believes it. A lock keeps the place of its first
marker; while it works, its holder adds a fresh marker every ``ttl_s / 3`` (dropping the
previous fresh one), so a killed apply's lock expires ``ttl_s`` after its last sign of life and
never blocks anyone for ever. A lock whose holder was a process on this machine that no longer
runs (``kill -9``) is taken over at once, so re-running apply after a crash just works;
``assistctl force-unlock LOCK_ID`` removes any lock at once, as Terraform's does.

Markers are not ``assistctl~`` uploads, so no kind ever plans, exports or deletes them.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType

from assistctl.backends.base import Backend
from assistctl.errors import AccountError, AssistctlError

MARKER_PREFIX = "assistctl-lock"
MARKER_PURPOSE = "assistants"
DEFAULT_TTL_S = 120.0
POLL_S = 1.0
SETTLE_S = 1.2  # longer than the account's created_at resolution (one second)
_SEPARATOR = "~"


class LockError(AssistctlError):
    """The stack is locked by another run (or the lock named cannot be found)."""


@dataclass(frozen=True)
class LockMarker:
    """One marker upload. ``acquired_ms`` is when its lock was first taken (renewals keep it)."""

    file_id: str
    owner: str
    lock_id: str
    acquired_ms: int
    expires_s: float
    holder: str
    created_at: int = 0

    @property
    def acquired(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.acquired_ms / 1000))

    @property
    def holder_died_here(self) -> bool:
        """The holder was a process on this machine that no longer runs."""
        found = re.fullmatch(r".*@(.*)-pid(\d+)", self.holder)
        if found is None or found.group(1) != _safe(socket.gethostname()):
            return False
        try:
            os.kill(int(found.group(2)), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]+", "-", text)


def marker_filename(
    owner: str, lock_id: str, acquired_ms: int, expires_s: float, holder: str
) -> str:
    parts = (MARKER_PREFIX, owner.replace("/", "+"), lock_id, str(acquired_ms), str(int(expires_s)))
    return _SEPARATOR.join((*parts, _safe(holder)[:120] or "unknown")) + ".txt"


def parse_marker(file_id: str, filename: str, created_at: int = 0) -> LockMarker | None:
    parts = filename.removesuffix(".txt").split(_SEPARATOR)
    if len(parts) != 6 or parts[0] != MARKER_PREFIX:
        return None
    _, owner, lock_id, acquired, expires, holder = parts
    if not (acquired.isdigit() and expires.isdigit()):
        return None
    return LockMarker(
        file_id, owner.replace("+", "/"), lock_id, int(acquired), float(expires), holder, created_at
    )


def markers(backend: Backend, owner: str) -> list[LockMarker]:
    """The owner's markers, oldest lock first."""
    found = []
    for data in backend.list("files", {"purpose": MARKER_PURPOSE}):
        filename = str(data.get("filename") or "")
        marker = parse_marker(str(data["id"]), filename, int(data.get("created_at") or 0))
        if marker is not None and marker.owner == owner:
            found.append(marker)
    return sorted(found, key=_place_in_line)


def _place_in_line(marker: LockMarker) -> tuple[int, int, str, str]:
    return (marker.created_at, marker.acquired_ms, marker.lock_id, marker.file_id)


def force_unlock(backend: Backend, owner: str, lock_id: str) -> list[LockMarker]:
    """Remove the lock ``lock_id`` of ``owner`` whoever holds it; its markers, removed."""
    removed = [m for m in markers(backend, owner) if m.lock_id == lock_id]
    if not removed:
        held = ", ".join(sorted({m.lock_id for m in markers(backend, owner)})) or "none"
        raise LockError(
            f"no lock {lock_id!r} on {owner!r} (locks held now: {held})",
            hint="the lock id is printed by the apply that waits for it",
        )
    for marker in removed:
        backend.delete("files", marker.file_id, what=f"remove lock marker {marker.file_id}")
    return removed


def default_holder() -> str:
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "someone"
    return f"{_safe(user)}@{_safe(socket.gethostname())}-pid{os.getpid()}"


class StackLock:
    """``with StackLock(backend, owner, timeout_s=60):`` holds the owner's lock for the block.

    ``clock`` (wall time, seconds) and ``sleep`` are injectable for tests; ``notify`` receives
    one line while waiting in line.
    """

    def __init__(
        self,
        backend: Backend,
        owner: str,
        *,
        timeout_s: float = 0.0,
        ttl_s: float = DEFAULT_TTL_S,
        holder: str | None = None,
        notify: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.backend = backend
        self.owner = owner
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self.holder = holder or default_holder()
        self.notify = notify
        self.clock = clock
        self.sleep = sleep
        self.lock_id = uuid.uuid4().hex[:12]
        self.acquired_ms = 0
        self.marker: LockMarker | None = None  # the newest sign of life (the first stays too)
        self.stop_renewing = threading.Event()
        self.renewer: threading.Thread | None = None
        self.guard = threading.Lock()

    def __enter__(self) -> StackLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        self.acquired_ms = int(self.clock() * 1000)
        self.marker = self._put_marker()
        deadline = self.clock() + self.timeout_s
        told = False
        settled = False
        try:
            while True:
                first = self._first_in_line()
                if first.lock_id == self.lock_id:
                    if settled:
                        break
                    self.sleep(self._settle(first))
                    settled = True
                    continue
                settled = False
                if self.clock() >= deadline:
                    raise LockError(
                        f"stack {self.owner!r} is locked by {first.holder} since "
                        f"{first.acquired} (lock id {first.lock_id})",
                        hint="wait for that run to finish (or pass --lock-timeout 5m to wait); "
                        "if it died, the lock expires by itself, or run: assistctl "
                        f"force-unlock {first.lock_id} with the same paths and --env",
                    )
                if not told and self.notify is not None:
                    self.notify(
                        f"waiting for the lock on {self.owner!r} held by {first.holder} "
                        f"(lock id {first.lock_id})"
                    )
                    told = True
                self.sleep(min(POLL_S, max(0.0, deadline - self.clock())))
        except BaseException:
            self._remove_markers()
            raise
        self.renewer = threading.Thread(target=self._renew, name="assistctl-lock", daemon=True)
        self.renewer.start()

    def release(self) -> None:
        self.stop_renewing.set()
        if self.renewer is not None:
            self.renewer.join()
        self._remove_markers()

    # --- plumbing -------------------------------------------------------------------------

    def _put_marker(self) -> LockMarker:
        expires = self.clock() + self.ttl_s
        filename = marker_filename(self.owner, self.lock_id, self.acquired_ms, expires, self.holder)
        content = json.dumps({"owner": self.owner, "lock_id": self.lock_id, "holder": self.holder})
        created = self.backend.upload(
            filename,
            content.encode(),
            purpose=MARKER_PURPOSE,
            what=f"take the lock on {self.owner!r}",
        )
        marker = parse_marker(str(created["id"]), filename, int(created.get("created_at") or 0))
        assert marker is not None
        return marker

    def _settle(self, mine: LockMarker) -> float:
        """How long until no marker made later can share our marker's second: the rest of that
        second by our clock (clocks kept by NTP agree well within it), at most ``SETTLE_S``."""
        return min(SETTLE_S, max(0.05, mine.created_at + 1.05 - self.clock()))

    def _first_in_line(self) -> LockMarker:
        """The first marker of the lock that holds now. A lock's place is its first marker; it
        lives while its newest marker has not expired. Expired locks, left by a killed run, are
        removed."""
        now = self.clock()
        by_lock: dict[str, list[LockMarker]] = {}
        for marker in markers(self.backend, self.owner):
            by_lock.setdefault(marker.lock_id, []).append(marker)
        first: list[LockMarker] = []
        for lock_id, held in by_lock.items():
            alive = max(m.expires_s for m in held) > now and not held[0].holder_died_here
            if lock_id == self.lock_id or alive:
                first.append(held[0])
            else:
                for marker in held:
                    self._delete(marker)
        return min(first, key=_place_in_line)

    def _renew(self) -> None:
        first = self.marker
        while not self.stop_renewing.wait(self.ttl_s / 3):
            with self.guard:
                previous = self.marker
                try:
                    self.marker = self._put_marker()
                except AccountError:
                    continue  # the next round tries again; the last marker still holds
                if previous is not None and previous != first:
                    self._delete(previous)

    def _remove_markers(self) -> None:
        with self.guard:
            for marker in self._own_markers():
                self._delete(marker)
            self.marker = None

    def _own_markers(self) -> Iterator[LockMarker]:
        try:
            found = markers(self.backend, self.owner)
        except AccountError:
            found = [self.marker] if self.marker is not None else []
        yield from (m for m in found if m.lock_id == self.lock_id)

    def _delete(self, marker: LockMarker) -> None:
        try:
            self.backend.delete(
                "files", marker.file_id, what=f"remove lock marker {marker.file_id}"
            )
        except AccountError:
            return  # an expired marker someone else removed first, or the account is away
