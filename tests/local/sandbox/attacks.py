"""Escape attempts as code, shared by the executor's own tests (test_escapes.py) and the same
attacks sent through the SDK over HTTP (tests/local/api/test_code_interpreter_escapes.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from assistctl.local.sandbox.uids import FIRST_UID, UID_COUNT

SECRET = "sk-assistctl-sandbox-test-0123456789"
VISIBLE_FILES = (  # every file the code can see but the system's and Python's (read-only binds)
    "import os, sys\n"
    "def visible_files():\n"
    "    skip = {'/proc', '/sys', '/usr', os.path.realpath(sys.prefix), sys.base_prefix}\n"
    "    for directory, subdirectories, names in os.walk('/'):\n"
    "        subdirectories[:] = [\n"
    "            d for d in subdirectories if os.path.join(directory, d) not in skip\n"
    "        ]\n"
    "        yield from (os.path.join(directory, name) for name in names)\n"
)
READ_SHADOW = (
    "import os\n"
    "for path in ('/etc/shadow', '/etc/gshadow', '/proc/1/root/etc/shadow'):\n"
    "    try:\n"
    "        print(path, open(path).read()[:20])\n"
    "    except OSError as error:\n"
    "        print(path, type(error).__name__)\n"
    "print(sorted(os.listdir('/etc')))"
)
READ_ENVIRONMENT = (
    "import os\n"
    "print(sorted(os.environ))\n"
    f"secret = {SECRET!r}\n"
    "leaks = []\n"
    "for pid in os.listdir('/proc'):\n"
    "    for name in ('environ', 'cmdline'):\n"
    "        try:\n"
    "            if secret.encode() in open(f'/proc/{pid}/{name}', 'rb').read():\n"
    "                leaks.append((pid, name))\n"
    "        except OSError:\n"
    "            pass\n"
    "print('leaks', leaks)"
)
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
MEMORY_BOMB = "blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 2**20))"
INFINITE_LOOP = "while True:\n    pass"
FLOOD = "print('x' * 100_000_000)"


def find_database(database: Path, directory: Path) -> str:
    """Code that looks for the account's database, its directory and any SQLite file."""
    return (
        VISIBLE_FILES
        + f"print(os.path.exists({str(database)!r}), os.path.exists({str(directory)!r}))\n"
        "print([p for p in visible_files() if p.endswith(('.sqlite3', '.sqlite', '.db'))])"
    )


def connect_to(targets: list[tuple[str, int]]) -> str:
    """Code that lists the interfaces and tries each TCP target and a UDP route out."""
    return (
        "import socket\n"
        "print(socket.if_nameindex())\n"
        f"for target in {targets!r}:\n"
        "    try:\n"
        "        socket.create_connection(target, timeout=2).close()\n"
        "        print(target, 'connected')\n"
        "    except OSError as error:\n"
        "        print(target, type(error).__name__)\n"
        "udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "try:\n"
        "    udp.connect(('192.0.2.1', 53))\n"
        "    print('route found')\n"
        "except OSError as error:\n"
        "    print('no route', error.strerror)"
    )


def write_to(targets: list[str], marker: str) -> str:
    """Code that tries to write each target, /tmp (private to the sandbox) and /mnt/data."""
    return (
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'a').write('x')\n"
        "        print(path, 'written')\n"
        "    except OSError as error:\n"
        "        print(path, type(error).__name__)\n"
        f"open('/tmp/{marker}', 'w').write('private')\n"
        "print('mnt/data', open('/mnt/data/ok.txt', 'w').write('ok'))"
    )


def kill(pids: tuple[int, ...]) -> str:
    """Code that tries to SIGKILL each pid (its parent, pid 1, the server)."""
    return (
        "import os, signal\n"
        f"for pid in {pids!r}:\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "        print(pid, 'killed')\n"
        "    except OSError as error:\n"
        "        print(pid, type(error).__name__)"
    )


def host_address() -> str | None:
    """This machine's own non-loopback address (a UDP connect sends nothing), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        return str(probe.getsockname()[0])


def write_targets() -> list[str]:
    """Places outside /mnt/data that code must not write."""
    return [
        "/marker",
        "/etc/marker",
        "/usr/marker",
        "/usr/local/marker",
        "/run/kernel/marker",
        "/run/kernel/connection.json",
        "/run/kernel/kernel-1",
        f"{os.path.realpath(os.sys.prefix)}/marker",
        f"{os.path.realpath(os.sys.base_prefix)}/marker",
    ]


def largest_sandbox() -> int:
    """The most tasks (processes and threads) that any one sandbox uid runs on the host now."""
    tasks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid = int(fields.get("Uid", "0").split()[0])
        if FIRST_UID <= uid < FIRST_UID + UID_COUNT:
            tasks[uid] = tasks.get(uid, 0) + int(fields.get("Threads", "1"))
    return max(tasks.values(), default=0)
