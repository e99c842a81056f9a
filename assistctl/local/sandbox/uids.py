"""One unprivileged host uid per live sandbox, when the server runs as root.

Everything here (and in CI) runs as root, and the kernel does not count root's processes against
``RLIMIT_NPROC``; a sandbox running as root would also be the host's root should it ever get out.
So each sandbox runs as a uid of its own from a range no account uses, which makes the process
limit per sandbox and keeps one sandbox's files unreadable to another even on the host.

A uid is held with an ``flock`` on a lock file, so several servers (or test runs) on one machine
never hand out the same uid; the lock goes with the process that held it.
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
import threading
from pathlib import Path

FIRST_UID = 1_640_000_000
UID_COUNT = 65_536


class UidPool:
    """Leases uids from ``[first, first + count)``; the gid is the same number."""

    def __init__(
        self, first: int = FIRST_UID, count: int = UID_COUNT, lock_dir: Path | None = None
    ) -> None:
        self.first = first
        self.count = count
        self.lock_dir = lock_dir or Path(tempfile.gettempdir()) / "assistctl-sandbox-uids"
        self._held: dict[int, int] = {}
        self._lock = threading.Lock()
        self._next = 0

    def _prepare(self) -> None:
        self.lock_dir.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(self.lock_dir)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise RuntimeError(f"{self.lock_dir} is not a directory of this user's")

    def acquire(self) -> int:
        """A uid no other sandbox on this machine holds."""
        with self._lock:
            self._prepare()
            for step in range(self.count):
                uid = self.first + (self._next + step) % self.count
                if uid in self._held:
                    continue
                descriptor = os.open(
                    self.lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600
                )
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(descriptor)
                    continue
                self._held[uid] = descriptor
                self._next = (self._next + step + 1) % self.count
                return uid
        raise RuntimeError(f"all {self.count} sandbox uids from {self.first} are in use")

    def release(self, uid: int) -> None:
        """Give a uid back once no process of it is left. The lock file stays: unlinking it
        would let two processes lock two different files of one name."""
        with self._lock:
            descriptor = self._held.pop(uid, None)
        if descriptor is not None:
            os.close(descriptor)
