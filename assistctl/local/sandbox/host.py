"""What this machine offers the sandboxes, and the command line that starts one.

Start-up, in order: the session's cgroup is made (as root); the spawner thread forks ``/bin/sh``,
which writes its own pid into the cgroup and execs bwrap, so every process of the sandbox is
counted from its first instruction; bwrap builds the namespaces and mounts and runs the launcher,
which sets the rlimits, drops to the session's uid and execs the program (the kernel).

Nothing here needs the kernel packages, so ``probe`` can say that they are missing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import bwrap, cgroups, seccomp
from .cgroups import Cgroup, Cgroups
from .launcher import KEEP_UID, STARTUP_NAME, kernel_startup, launch_argv
from .limits import Limits

JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
KERNEL_PACKAGES = ("jupyter_client", "ipykernel", "zmq")


@dataclass(frozen=True)
class Host:
    """What this machine offers the sandboxes, found once per executor."""

    bwrap: bwrap.Bubblewrap
    as_root: bool
    cgroups: Cgroups | None
    cgroups_reason: str
    roots: tuple[str, ...]
    python: str
    seccomp: bytes | None

    def describe(self) -> str:
        who = (
            "as a uid of their own per session"
            if self.as_root
            else "in a user namespace as the server's uid"
        )
        limits = (
            f"{', '.join(self.cgroups.controllers)} cgroups (v{self.cgroups.version})"
            if self.cgroups
            else f"rlimits only ({self.cgroups_reason})"
        )
        nesting = "refused by seccomp" if self.seccomp else "not refused (no seccomp filter here)"
        return (
            f"bubblewrap at {self.bwrap.path}; kernels run {who}, with {limits}; "
            f"nested user namespaces {nesting}"
        )

    def seccomp_descriptor(self) -> int | None:
        """A file descriptor holding the seccomp filter, for bwrap to read; the caller passes
        it to the child and closes it."""
        if self.seccomp is None:
            return None
        descriptor = os.memfd_create("assistctl-sandbox-seccomp", 0)
        os.write(descriptor, self.seccomp)
        os.lseek(descriptor, 0, os.SEEK_SET)
        return descriptor


def discover_host(
    bwrap_path: str | None = None, private: Sequence[Path] | None = None
) -> Host | str:
    """The machine's sandbox setup, or one line saying why there is none.

    ``private`` are paths no sandbox may see (the account's data, say; by default the home and
    working directories): the kernel's Python must not live in a directory that holds one.
    """
    if not sys.platform.startswith("linux"):
        return "the sandbox needs Linux namespaces"
    missing = [name for name in KERNEL_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        return f"{', '.join(missing)} not installed (pip install 'assistctl[sandbox]')"
    found = bwrap.find_bubblewrap(bwrap_path)
    if isinstance(found, str):
        return found
    roots = bwrap.python_roots()
    hidden = [Path.home(), Path.cwd()] if private is None else list(private)
    for root in roots:
        for path in hidden:
            if Path(os.path.realpath(path)).is_relative_to(root):
                return f"the kernel's Python lives in {root}, which holds {path}: it would show"
    as_root = os.geteuid() == 0
    groups = cgroups.detect() if as_root else "not running as root"
    return Host(
        bwrap=found,
        as_root=as_root,
        cgroups=groups if isinstance(groups, Cgroups) else None,
        cgroups_reason=groups if isinstance(groups, str) else "",
        roots=roots,
        python=sys.executable,
        seccomp=seccomp.program(),
    )


@dataclass(frozen=True)
class SandboxPaths:
    """A session's host directories: ``data`` is its /mnt/data, ``runtime`` its sockets."""

    root: Path
    data: Path
    runtime: Path
    etc: Path

    @classmethod
    def under(cls, directory: Path) -> SandboxPaths:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(directory, directory / "data", directory / "run", directory / "etc")


def prepare(paths: SandboxPaths, uid: int | None, limits: Limits) -> None:
    """A socket directory the sandbox uid may write, holding only the kernel's start-up code,
    and the sandbox's /etc files."""
    for stale in paths.runtime.glob("*"):
        stale.unlink()
    paths.runtime.mkdir(mode=0o700, exist_ok=True)
    os.chmod(paths.runtime, 0o700)
    (paths.runtime / STARTUP_NAME).write_text(kernel_startup(limits))
    if uid is not None:
        os.chown(paths.runtime, uid, uid)
    bwrap.write_sandbox_etc(paths.etc, sandbox_uid(uid), sandbox_uid(uid))


def sandbox_uid(uid: int | None) -> int:
    """The uid the code runs as: the leased one, or ours inside a user namespace."""
    return os.getuid() if uid is None else uid


def sandbox_command(
    host: Host,
    paths: SandboxPaths,
    limits: Limits,
    uid: int | None,
    cgroup: Cgroup | None,
    seccomp_fd: int | None,
    info_fd: int | None,
    program: Sequence[str],
) -> list[str]:
    """The whole command line: cgroup joining (if any), bwrap, the launcher, ``program``."""
    line = bwrap.command(
        host.bwrap,
        data_dir=paths.data,
        runtime_dir=paths.runtime,
        etc_dir=paths.etc,
        roots=host.roots,
        as_root=host.as_root,
        tmp_bytes=limits.memory_bytes,
        seccomp_fd=seccomp_fd,
        info_fd=info_fd,
        argv=launch_argv(limits, KEEP_UID if uid is None else uid, host.python, program),
    )
    if cgroup is None:
        return line
    return ["/bin/sh", "-c", JOIN_CGROUPS, "sh", *cgroup.procs_files, "--", *line]
