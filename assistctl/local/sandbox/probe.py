"""Whether sandboxed kernels work on this machine: the check behind ``--code-interpreter``.

It runs the real thing once, short of the kernel itself: the session's uid and cgroup, bwrap with
every namespace and mount, the launcher's limits and uid drop, and an import of the kernel's
packages inside. Well under a second, so a server can afford it at start-up.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import bwrap
from .host import Host, SandboxPaths, discover_host, prepare, sandbox_command, sandbox_uid
from .limits import Limits
from .results import Probe
from .uids import UidPool
from .workspace import Workspace

PROBE_SECONDS = 30.0
CHECK = "import ipykernel.kernelapp, os; print('sandbox-ok', os.getuid())"


def probe(
    bwrap_path: str | None = None,
    *,
    private: Sequence[Path] | None = None,
    uids: UidPool | None = None,
) -> Probe:
    """``Probe(works, reason)``: ``reason`` says why not, or how the sandbox is made.
    ``bwrap_path`` and ``private`` are as for ``CodeExecutor``."""
    host = discover_host(bwrap_path, private)
    if isinstance(host, str):
        return Probe(False, host)
    pool = uids or UidPool()
    uid = pool.acquire() if host.as_root else None
    try:
        failure = run_check(host, uid)
    finally:
        if uid is not None:
            pool.release(uid)
    if failure:
        return Probe(False, failure)
    return Probe(True, host.describe())


def run_check(host: Host, uid: int | None) -> str | None:
    """Runs ``CHECK`` in a sandbox; returns what went wrong, or None."""
    limits = Limits()
    with tempfile.TemporaryDirectory(prefix="assistctl-sandbox-probe-") as directory:
        paths = SandboxPaths.under(Path(directory))
        Workspace(paths.data, uid)
        prepare(paths, uid, limits)
        cgroup = None
        if host.cgroups is not None and uid is not None:
            cgroup = host.cgroups.create(f"probe-{uid}", limits)
        seccomp_fd = host.seccomp_descriptor()
        program = [host.python, "-c", CHECK]
        try:
            result = subprocess.run(
                sandbox_command(host, paths, limits, uid, cgroup, seccomp_fd, None, program),
                capture_output=True,
                text=True,
                timeout=PROBE_SECONDS,
                env=bwrap.sandbox_environment(host.python),
                check=False,
                pass_fds=() if seccomp_fd is None else (seccomp_fd,),
            )
        except subprocess.TimeoutExpired:
            return f"a trial sandbox did not finish within {PROBE_SECONDS:g} s"
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
            if cgroup:
                cgroup.remove()
    if result.returncode != 0 or "sandbox-ok" not in result.stdout:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {result.returncode}"
        return f"a trial sandbox failed: {detail}"
    ran_as = result.stdout.split()[-1]
    if ran_as != str(sandbox_uid(uid)):
        return f"a trial sandbox ran as uid {ran_as}, not {sandbox_uid(uid)}"
    return None
