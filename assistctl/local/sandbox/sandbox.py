"""One sandboxed kernel: how it starts, how it is watched, and how it ends.

It ends by killing bwrap's inner process, the sandbox's pid 1, whose death takes the whole pid
namespace with it; the outer bwrap then exits by itself. Killing only the outer bwrap relies on
the inner one's parent-death signal, which bwrap sets just after forking it: a sandbox stopped in
that instant (a start-up timeout) would live on with nobody to stop it.

Once the kernel answers, its socket directory and connection file are handed back to the server's
user, so code in the sandbox can neither swap the sockets for anything else nor read the key.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import time

import zmq

from . import bwrap
from .cgroups import Cgroup
from .console import ConsoleTail
from .host import Host, SandboxPaths, prepare, sandbox_command
from .kernel import KernelConnection, KernelDied, KernelStartTimeout
from .launcher import kernel_program
from .limits import Limits
from .spawner import Spawner

KILL_WAIT_SECONDS = 10.0
INFO_WAIT_SECONDS = 2.0


class SandboxStartError(Exception):
    """No kernel could be started; the message says why in one line."""


class Sandbox:
    """A running kernel in its sandbox. Not thread-safe: its session's lock guards it."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        connection: KernelConnection,
        cgroup: Cgroup | None,
        info_fd: int,
    ) -> None:
        self.process = process
        self.connection = connection
        self.cgroup = cgroup
        self.info_fd = info_fd
        self.inner_pid: int | None = None
        assert process.stdout is not None
        self.console = ConsoleTail(process.stdout)
        self.oom_kills_at_start = cgroup.oom_kills() if cgroup else 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_cause(self) -> str:
        """Why the sandbox ended, in words: out of memory, a signal, or an exit status."""
        if self.cgroup and self.cgroup.oom_kills() > self.oom_kills_at_start:
            return "it ran out of memory"
        code = self.process.poll()
        if code is None:
            return "it stopped answering"
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            with contextlib.suppress(ValueError):
                return f"it was killed by {signal.Signals(number).name}"
        return f"it exited with status {code}"

    def _read_inner_pid(self, wait_seconds: float) -> int | None:
        """The inner bwrap's pid, from the JSON bwrap writes on ``--info-fd`` once it forked."""
        if self.inner_pid is None and self.info_fd >= 0:
            deadline = time.monotonic() + wait_seconds
            chunks = []
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([self.info_fd], [], [], left)[0]:
                    break
                chunk = os.read(self.info_fd, 4096)
                if not chunk:
                    break
                chunks.append(chunk)
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                self.inner_pid = int(json.loads(b"".join(chunks))["child-pid"])
            os.close(self.info_fd)
            self.info_fd = -1
        return self.inner_pid

    def stop(self) -> None:
        """Kills the whole sandbox: its pid 1 first, while the outer bwrap still holds that pid
        (so it cannot have been reused), then the outer bwrap."""
        self.connection.close()
        inner = self._read_inner_pid(INFO_WAIT_SECONDS if self.alive() else 0.0)
        if inner is not None and self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(inner, signal.SIGKILL)
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=KILL_WAIT_SECONDS)
        if self.cgroup:
            self.cgroup.remove()


def start_sandbox(
    host: Host,
    spawner: Spawner,
    context: zmq.Context[zmq.Socket[bytes]],
    paths: SandboxPaths,
    limits: Limits,
    uid: int | None,
) -> Sandbox:
    """Starts a kernel and waits until it answers; raises ``SandboxStartError`` otherwise."""
    prepare(paths, uid, limits)
    cgroup = None
    if host.cgroups is not None and uid is not None:
        cgroup = host.cgroups.create(f"uid-{uid}", limits)
    connection = None
    seccomp_fd = host.seccomp_descriptor()
    info_read, info_write = os.pipe()
    passed = [info_write] if seccomp_fd is None else [info_write, seccomp_fd]
    try:
        connection = KernelConnection(context, paths.runtime, uid)
        command = sandbox_command(
            host, paths, limits, uid, cgroup, seccomp_fd, info_write, kernel_program(host.python)
        )
        process = spawner.popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=bwrap.sandbox_environment(host.python),
            close_fds=True,
            pass_fds=passed,
        )
    except OSError as exc:
        os.close(info_read)
        if connection is not None:
            connection.close()
        if cgroup is not None:
            cgroup.remove()
        raise SandboxStartError(f"the sandbox could not be started: {exc}") from None
    finally:
        for descriptor in passed:
            os.close(descriptor)
    sandbox = Sandbox(process, connection, cgroup, info_read)
    deadline = time.monotonic() + limits.startup_seconds
    try:
        connection.wait_ready(deadline, sandbox.alive)
    except KernelDied:
        sandbox.stop()
        detail = sandbox.console.last_line(wait_seconds=1.0) or sandbox.exit_cause()
        raise SandboxStartError(f"the sandbox exited while starting: {detail}") from None
    except KernelStartTimeout:
        sandbox.stop()
        raise SandboxStartError(
            f"the kernel did not answer within {limits.startup_seconds:g} s"
        ) from None
    for locked in (paths.runtime, connection.connection_file):
        os.chown(locked, os.geteuid(), os.getegid())
    os.chmod(paths.runtime, 0o755)
    os.chmod(connection.connection_file, 0o600)
    return sandbox
