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

CONNECTION_NAME = "connection.json"
STARTUP_NAME = "startup.py"
CONNECTION_FILE = f"{RUNTIME_DIR}/{CONNECTION_NAME}"
STARTUP_FILE = f"{RUNTIME_DIR}/{STARTUP_NAME}"
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


KERNEL_STARTUP = """\
def _assistctl_limit_output(limit):
    from IPython import get_ipython
    from ipykernel.iostream import OutStream

    left = [limit]
    write = OutStream.write

    def reset(*_):
        left[0] = limit

    def limited_write(self, text):
        if isinstance(text, str) and len(text) > left[0]:
            if left[0] > 0:
                write(self, text[: left[0]])
            left[0] = 0
            return len(text)
        if isinstance(text, str):
            left[0] -= len(text)
        return write(self, text)

    get_ipython().events.register("pre_execute", reset)
    OutStream.write = limited_write


_assistctl_limit_output({limit})
del _assistctl_limit_output
"""


def kernel_startup(limits: Limits) -> str:
    """Code the kernel runs before any other: it stops forwarding an execution's output at twice
    the cap, so a huge ``print`` neither exhausts the kernel's memory while it is encoded nor
    crosses the socket. Code can undo it; the server's own cap and message limit still hold."""
    return KERNEL_STARTUP.format(limit=2 * limits.output_bytes)


def kernel_program(python: str = sys.executable) -> list[str]:
    """An IPython kernel on the ipc sockets of the connection file; history is kept in memory
    (the sandbox's home is a tmpfs anyway)."""
    return [
        python,
        "-m",
        "ipykernel_launcher",
        "-f",
        CONNECTION_FILE,
        f"--IPKernelApp.exec_files={STARTUP_FILE}",
        "--HistoryManager.hist_file=:memory:",
        "--IPKernelApp.quiet=True",
    ]
