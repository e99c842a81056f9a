"""A cgroup per sandbox (memory and pids), when the server may make them (as root).

``RLIMIT_AS`` caps each process, not their sum, so a fork-and-allocate bomb would still reach
``max_processes × memory_bytes``; the memory cgroup caps the sandbox as a whole (its tmpfs pages
included) and lets the kernel's OOM killer pick a victim inside it, never the server. The pids
controller is a second process cap next to ``RLIMIT_NPROC``.

cgroup v1 (a hierarchy per controller, as on these machines) nests under the server's own cgroup.
cgroup v2 forbids processes in a cgroup that delegates controllers, so there the sandboxes get a
parent directly under the root of the hierarchy.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .limits import Limits

PARENT = "assistctl-sandbox"
CONTROLLERS = ("memory", "pids")
REMOVE_SECONDS = 5.0


@dataclass(frozen=True)
class Cgroup:
    """One sandbox's cgroup: a directory per hierarchy (v1) or one directory (v2)."""

    version: int
    directories: tuple[Path, ...]

    @property
    def procs_files(self) -> tuple[str, ...]:
        """Where a process writes its pid to join (before it starts the sandbox)."""
        return tuple(str(directory / "cgroup.procs") for directory in self.directories)

    def oom_kills(self) -> int:
        """How many processes the OOM killer has killed in this cgroup."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for directory in self.directories:
            path = directory / name
            if not path.exists():
                continue
            with contextlib.suppress(OSError):
                for line in path.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        return 0

    def remove(self) -> None:
        """Removes the directories once their processes are gone (exiting takes a moment)."""
        deadline = time.monotonic() + REMOVE_SECONDS
        for directory in self.directories:
            while True:
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)


@dataclass(frozen=True)
class Cgroups:
    """Where this machine lets us make sandbox cgroups."""

    version: int
    parents: tuple[Path, ...]

    def create(self, name: str, limits: Limits) -> Cgroup:
        directories = tuple(parent / name for parent in self.parents)
        for directory in directories:
            directory.mkdir(exist_ok=True)
        memory = str(limits.memory_bytes)
        pids = str(limits.max_processes)
        if self.version == 1:
            memory_dir, pids_dir = directories
            write(memory_dir / "memory.limit_in_bytes", memory)
            swap = memory_dir / "memory.memsw.limit_in_bytes"
            if swap.exists():
                write(swap, memory)
            write(pids_dir / "pids.max", pids)
        else:
            (directory,) = directories
            write(directory / "memory.max", memory)
            swap = directory / "memory.swap.max"
            if swap.exists():
                write(swap, "0")
            write(directory / "pids.max", pids)
        return Cgroup(self.version, directories)


def write(path: Path, value: str) -> None:
    with open(path, "w") as file:
        file.write(value)


def detect() -> Cgroups | str:
    """Sandbox cgroups on this machine, or why not."""
    if os.geteuid() != 0:
        return "cgroups need root"
    mounts = cgroup_mounts()
    own = own_cgroups()
    try:
        if all(controller in mounts for controller in CONTROLLERS):
            parents = []
            for controller in CONTROLLERS:
                mine = own.get(controller, "/").lstrip("/")
                parent = mounts[controller] / mine / PARENT
                parent.mkdir(exist_ok=True)
                parents.append(parent)
            return Cgroups(1, tuple(parents))
        if "" in mounts:
            return unified_parent(mounts[""])
    except OSError as exc:
        return f"cannot make cgroups: {exc}"
    return "no memory and pids cgroup controllers are mounted"


def unified_parent(mount: Path) -> Cgroups | str:
    available = (mount / "cgroup.controllers").read_text().split()
    if not all(controller in available for controller in CONTROLLERS):
        return "the cgroup v2 hierarchy offers no memory and pids controllers"
    enable = " ".join(f"+{controller}" for controller in CONTROLLERS)
    write(mount / "cgroup.subtree_control", enable)
    parent = mount / PARENT
    parent.mkdir(exist_ok=True)
    write(parent / "cgroup.subtree_control", enable)
    return Cgroups(2, (parent,))


def cgroup_mounts() -> dict[str, Path]:
    """Mount point per v1 controller, and the v2 hierarchy's under ``""``."""
    mounts: dict[str, Path] = {}
    with open("/proc/self/mounts") as file:
        for line in file:
            fields = line.split()
            if len(fields) < 4:
                continue
            point, kind, options = fields[1], fields[2], fields[3].split(",")
            if kind == "cgroup2":
                mounts.setdefault("", Path(point))
            elif kind == "cgroup":
                for controller in CONTROLLERS:
                    if controller in options:
                        mounts.setdefault(controller, Path(point))
    return mounts


def own_cgroups() -> dict[str, str]:
    """This process's cgroup path per v1 controller (``/proc/self/cgroup``)."""
    paths: dict[str, str] = {}
    with open("/proc/self/cgroup") as file:
        for line in file:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(","):
                if controller:
                    paths[controller] = path
    return paths
