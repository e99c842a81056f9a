"""The host's side of a session's ``/mnt/data``: putting files in, finding what the code wrote.

The directory belongs to code we do not trust, and that code may still be running (a background
thread) while the server reads it. So every name is opened relative to its parent directory's
descriptor with ``O_NOFOLLOW``: a symlink, whenever it appears, is never followed out of the
directory (``/mnt/data/x -> /etc/shadow`` reads nothing of the host's); only regular files are
read, never a FIFO that would block; inputs are created with ``O_EXCL`` so a planted link is not
written through. The walk is bounded in depth and entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .results import DataFile, check_input_name

MAX_DEPTH = 16
MAX_ENTRIES = 10_000
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

Stamp = tuple[int, int, int, int]
Snapshot = dict[str, Stamp]


@dataclass(frozen=True)
class Changes:
    """What one execution left in ``/mnt/data``: the files to return and any left out."""

    files: tuple[DataFile, ...]
    left_out: tuple[str, ...]


@dataclass
class Scan:
    collect: bool
    before: Snapshot
    max_files: int
    max_bytes: int
    snapshot: Snapshot = field(default_factory=dict)
    files: list[DataFile] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    entries: int = 0
    returned_bytes: int = 0


class Workspace:
    """One session's data directory; ``owner`` is the sandbox uid that must own the files."""

    def __init__(self, directory: Path, owner: int | None) -> None:
        self.directory = directory
        self.owner = owner
        self.placed: dict[str, str] = {}
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if owner is not None:
            os.chown(directory, owner, owner)

    def put(self, files: Iterable[DataFile]) -> list[str]:
        """Writes each input file that this session has not been given with this content;
        returns why any could not be written (the code may have put a directory in the way)."""
        wanted = list(files)
        for item in wanted:
            check_input_name(item.name)
        failures = []
        directory = os.open(self.directory, DIRECTORY_FLAGS)
        try:
            for item in wanted:
                digest = hashlib.sha256(item.data).hexdigest()
                if self.placed.get(item.name) == digest:
                    continue
                try:
                    self._replace(directory, item)
                except OSError as exc:
                    failures.append(f"/mnt/data/{item.name}: {exc.strerror}")
                    continue
                self.placed[item.name] = digest
        finally:
            os.close(directory)
        return failures

    def _replace(self, directory: int, item: DataFile) -> None:
        try:
            info = os.stat(item.name, dir_fd=directory, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is not None:
            os.unlink(item.name, dir_fd=directory)
        descriptor = os.open(item.name, CREATE_FLAGS, 0o644, dir_fd=directory)
        try:
            with open(descriptor, "wb", closefd=False) as file:
                file.write(item.data)
            if self.owner is not None:
                os.fchown(descriptor, self.owner, self.owner)
        finally:
            os.close(descriptor)

    def snapshot(self) -> Snapshot:
        """Identity, size and times of every regular file, to compare after an execution."""
        return self._scan(Scan(collect=False, before={}, max_files=0, max_bytes=0)).snapshot

    def changes(self, before: Snapshot, *, max_files: int, max_bytes: int) -> Changes:
        """The regular files that are new or changed since ``before``, read within the caps."""
        scan = self._scan(
            Scan(collect=True, before=before, max_files=max_files, max_bytes=max_bytes)
        )
        return Changes(tuple(scan.files), tuple(scan.left_out))

    def _scan(self, scan: Scan) -> Scan:
        """Walks the directory; one the code made unreadable (it can, outside root) is empty."""
        try:
            directory = os.open(self.directory, DIRECTORY_FLAGS)
        except OSError:
            return scan
        try:
            self._walk(directory, "", 0, scan)
        finally:
            os.close(directory)
        return scan

    def _walk(self, directory: int, prefix: str, depth: int, scan: Scan) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                scan.entries += 1
                if scan.entries > MAX_ENTRIES:
                    return
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                name = prefix + entry.name
                if stat.S_ISDIR(info.st_mode) and depth < MAX_DEPTH:
                    with contextlib.suppress(OSError):
                        child = os.open(entry.name, DIRECTORY_FLAGS, dir_fd=directory)
                        try:
                            self._walk(child, name + "/", depth + 1, scan)
                        finally:
                            os.close(child)
                elif stat.S_ISREG(info.st_mode):
                    stamp = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
                    scan.snapshot[name] = stamp
                    if scan.collect and scan.before.get(name) != stamp:
                        self._collect(directory, entry.name, name, scan)

    def _collect(self, directory: int, entry: str, name: str, scan: Scan) -> None:
        if len(scan.files) >= scan.max_files:
            scan.left_out.append(name)
            return
        try:
            descriptor = os.open(entry, READ_FLAGS, dir_fd=directory)
        except OSError:
            return
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                return
            if scan.returned_bytes + info.st_size > scan.max_bytes:
                scan.left_out.append(name)
                return
            with open(descriptor, "rb", closefd=False) as file:
                data = file.read(info.st_size)
        finally:
            os.close(descriptor)
        scan.returned_bytes += len(data)
        scan.files.append(DataFile(name, data))
