"""The first program inside the sandbox: it sets the limits, drops to the session's uid, enters
/mnt/data (only that uid may) and becomes the kernel.

It runs as ``python -I -S -c`` so that nothing on the host's path or in site-packages runs
before the limits hold. Limits are set inside rather than by the server so they apply to the
sandbox's own processes only: in a user namespace the process count is then per sandbox.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .bwrap import DATA_DIR, RUNTIME_DIR
from .limits import Limits

CONNECTION_FILE = f"{RUNTIME_DIR}/connection.json"
KEEP_UID = -1
OPEN_FILES = 1024

LAUNCHER = """\
import os, resource, sys
uid, gid, nproc, memory, fsize, nofile = (int(v) for v in sys.argv[1:7])
for limit, value in (
    (resource.RLIMIT_CORE, 0),
    (resource.RLIMIT_NPROC, nproc),
    (resource.RLIMIT_AS, memory),
    (resource.RLIMIT_FSIZE, fsize),
    (resource.RLIMIT_NOFILE, nofile),
):
    hard = resource.getrlimit(limit)[1]
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(limit, (value, value))
if uid >= 0:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
os.chdir(sys.argv[7])
os.execv(sys.argv[8], sys.argv[8:])
"""


def launch_argv(limits: Limits, uid: int, python: str, program: Sequence[str]) -> list[str]:
    """The command bwrap runs: the launcher, which then becomes ``program``.

    ``uid`` is ``KEEP_UID`` when the sandbox runs in a user namespace (the server is not root);
    the gid is the same number.
    """
    numbers = (uid, uid, limits.max_processes, limits.memory_bytes, limits.file_bytes, OPEN_FILES)
    return [
        python,
        "-I",
        "-S",
        "-c",
        LAUNCHER,
        *(str(number) for number in numbers),
        DATA_DIR,
        *program,
    ]


def kernel_program(python: str = sys.executable) -> list[str]:
    """An IPython kernel on the ipc sockets of the connection file; history is kept in memory
    (the sandbox's home is a tmpfs anyway)."""
    return [
        python,
        "-m",
        "ipykernel_launcher",
        "-f",
        CONNECTION_FILE,
        "--HistoryManager.hist_file=:memory:",
        "--IPKernelApp.quiet=True",
    ]
