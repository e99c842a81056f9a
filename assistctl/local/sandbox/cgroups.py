"""A cgroup per sandbox (memory, pids and, where offered, cpu), when the server may make them.

``RLIMIT_AS`` caps each process, not their sum, so a fork-and-allocate bomb would still reach
``max_processes × memory_bytes``; the memory cgroup caps the sandbox as a whole (its tmpfs pages
included) and lets the kernel's OOM killer pick a victim inside it, never the server. The pids
controller is a second process cap next to ``RLIMIT_NPROC``. The cpu controller keeps code that
spins in the background (a thread left running after its execution) to ``cpus`` cores, so the
server and the other sessions keep theirs.

cgroup v1 (a hierarchy per controller, as on these machines) nests under the server's own cgroup.
cgroup v2 forbids processes in a cgroup that delegates controllers, so there the sandboxes get a
parent directly under the root of the hierarchy.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .limits import Limits

PARENT = "assistctl-sandbox"
REQUIRED = ("memory", "pids")
OPTIONAL = ("cpu",)
CPU_PERIOD_US = 100_000
REMOVE_SECONDS = 5.0


@dataclass(frozen=True)
class Cgroup:
    """One sandbox's cgroup: a directory per controller (v1), or one for all (v2)."""

    version: int
    directories: dict[str, Path]

    @property
    def procs_files(self) -> tuple[str, ...]:
        """Where a process writes its pid to join (before it starts the sandbox)."""
        unique = dict.fromkeys(self.directories.values())
        return tuple(str(directory / "cgroup.procs") for directory in unique)

    def oom_kills(self) -> int:
        """How many processes the OOM killer has killed in this cgroup."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            text = (self.directories["memory"] / name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> None:
        """Removes the directories once their processes are gone (exiting takes a moment)."""
        deadline = time.monotonic() + REMOVE_SECONDS
        for directory in dict.fromkeys(self.directories.values()):
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
    """Where this machine lets us make sandbox cgroups: a parent directory per controller."""

    version: int
    parents: dict[str, Path]

    @property
    def controllers(self) -> tuple[str, ...]:
        return tuple(self.parents)

    def create(self, name: str, limits: Limits) -> Cgroup:
        directories = {controller: parent / name for controller, parent in self.parents.items()}
        for directory in dict.fromkeys(directories.values()):
            directory.mkdir(exist_ok=True)
        memory, pids = directories["memory"], directories["pids"]
        quota = str(round(limits.cpus * CPU_PERIOD_US))
        if self.version == 1:
            swap = memory / "memory.memsw.limit_in_bytes"
            if swap.exists():  # memory+swap may never be below memory: lift it first
                write(swap, "-1")
            write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
            if swap.exists():
                write(swap, str(limits.memory_bytes))
            write(pids / "pids.max", str(limits.max_processes))
            if "cpu" in directories:
                write(directories["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                write(directories["cpu"] / "cpu.cfs_quota_us", quota)
        else:
            write(memory / "memory.max", str(limits.memory_bytes))
            swap = memory / "memory.swap.max"
            if swap.exists():
                write(swap, "0")
            write(pids / "pids.max", str(limits.max_processes))
            if "cpu" in directories:
                write(directories["cpu"] / "cpu.max", f"{quota} {CPU_PERIOD_US}")
        return Cgroup(self.version, directories)


def write(path: Path, value: str) -> None:
    with open(path, "w") as file:
        file.write(value)


def detect() -> Cgroups | str:
    """Sandbox cgroups on this machine, or why not."""
    if os.geteuid() != 0:
        return "cgroups need root"
    mounts = cgroup_mounts()
    try:
        if all(controller in mounts for controller in REQUIRED):
            own = own_cgroups()
            parents = {}
            for controller in (*REQUIRED, *OPTIONAL):
                if controller not in mounts:
                    continue
                mine = own.get(controller, "/").lstrip("/")
                parent = mounts[controller] / mine / PARENT
                parent.mkdir(exist_ok=True)
                parents[controller] = parent
            return Cgroups(1, parents)
        if "" in mounts:
            return unified_parent(mounts[""])
    except OSError as exc:
        return f"cannot make cgroups: {exc}"
    return "no memory and pids cgroup controllers are mounted"


def unified_parent(mount: Path) -> Cgroups | str:
    available = (mount / "cgroup.controllers").read_text().split()
    if not all(controller in available for controller in REQUIRED):
        return "the cgroup v2 hierarchy offers no memory and pids controllers"
    wanted = [c for c in (*REQUIRED, *OPTIONAL) if c in available]
    enable = " ".join(f"+{controller}" for controller in wanted)
    write(mount / "cgroup.subtree_control", enable)
    parent = mount / PARENT
    parent.mkdir(exist_ok=True)
    write(parent / "cgroup.subtree_control", enable)
    return Cgroups(2, dict.fromkeys(wanted, parent))


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
                for controller in (*REQUIRED, *OPTIONAL):
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
