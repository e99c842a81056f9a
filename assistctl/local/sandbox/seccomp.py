"""A seccomp filter that keeps sandboxed code from making user namespaces.

As root there is no user namespace around the sandbox (that is what lets the code run as an
unprivileged uid), so bwrap's ``--disable-userns`` cannot apply, and an unprivileged process may
make a user namespace of its own: inside it the code is "root" for mounts, network namespaces and
the like, the kernel's largest attack surface open to unprivileged users. The filter refuses:

- ``clone`` and ``unshare`` with ``CLONE_NEWUSER`` (EPERM);
- ``clone3``, whose flags sit in memory a filter cannot read (ENOSYS: the C library then falls
  back to ``clone``, as it does under Docker's default profile);
- ``io_uring_setup`` (ENOSYS), a frequent source of kernel flaws that code here does not need;
- the x32 ABI on x86-64 (ENOSYS), which would otherwise reach the same calls under other numbers.

Both the machine's own ABI and its 32-bit compat ABI are covered. On an architecture not listed,
``program`` returns None and the sandbox runs without the filter (``probe`` says so).
"""

from __future__ import annotations

import errno
import platform
import struct
from dataclasses import dataclass

LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
JUMP_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JUMP_AT_LEAST = 0x35  # BPF_JMP | BPF_JGE | BPF_K
JUMP_ANY_BIT = 0x45  # BPF_JMP | BPF_JSET | BPF_K
RETURN = 0x06  # BPF_RET | BPF_K
ALLOW = 0x7FFF0000
ERRNO = 0x00050000
NUMBER_OFFSET = 0
ARCH_OFFSET = 4
FIRST_ARGUMENT_OFFSET = 16  # the low 32 bits of args[0] on a little-endian machine
CLONE_NEWUSER = 0x10000000
X32_BIT = 0x40000000


@dataclass(frozen=True)
class Abi:
    """One system-call ABI: its audit architecture and the numbers the filter looks at."""

    arch: int
    clone: int
    unshare: int
    clone3: int = 435
    io_uring_setup: int = 425
    x32_bit: bool = False


X86_64 = Abi(arch=0xC000003E, clone=56, unshare=272, x32_bit=True)
I386 = Abi(arch=0x40000003, clone=120, unshare=310)
AARCH64 = Abi(arch=0xC00000B7, clone=220, unshare=97)
ARM = Abi(arch=0x40000028, clone=120, unshare=337)
MACHINES = {"x86_64": (X86_64, I386), "aarch64": (AARCH64, ARM)}


def instruction(code: int, k: int, jump_true: int = 0, jump_false: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jump_true, jump_false, k)


def abi_block(abi: Abi) -> bytes:
    """The checks for one ABI; a call of another ABI jumps past them to the next block.

    Body, by index: 0 load the number; 1..checks one jump per check; then ALLOW; the flags test
    (load, jset, ALLOW); EPERM; ENOSYS. A jump at index i by n lands on i + 1 + n.
    """
    enosys_numbers = [abi.clone3, abi.io_uring_setup]
    checks = (1 if abi.x32_bit else 0) + len(enosys_numbers) + 2
    flags_test = checks + 2
    enosys = checks + 6
    jumps = []
    if abi.x32_bit:
        jumps.append((JUMP_AT_LEAST, X32_BIT, enosys))
    jumps += [(JUMP_EQUAL, number, enosys) for number in enosys_numbers]
    jumps += [(JUMP_EQUAL, number, flags_test) for number in (abi.clone, abi.unshare)]
    body = [instruction(LOAD_WORD, NUMBER_OFFSET)]
    for index, (code, value, target) in enumerate(jumps, start=1):
        body.append(instruction(code, value, jump_true=target - index - 1))
    body += [
        instruction(RETURN, ALLOW),
        instruction(LOAD_WORD, FIRST_ARGUMENT_OFFSET),
        instruction(JUMP_ANY_BIT, CLONE_NEWUSER, jump_true=1),
        instruction(RETURN, ALLOW),
        instruction(RETURN, ERRNO | errno.EPERM),
        instruction(RETURN, ERRNO | errno.ENOSYS),
    ]
    return b"".join(
        [
            instruction(LOAD_WORD, ARCH_OFFSET),
            instruction(JUMP_EQUAL, abi.arch, jump_false=len(body)),
            *body,
        ]
    )


def program(machine: str | None = None) -> bytes | None:
    """The filter for this machine (``platform.machine()``), in the form bwrap's ``--seccomp``
    reads, or None where the system-call numbers are not known here."""
    abis = MACHINES.get(machine or platform.machine())
    if abis is None:
        return None
    return b"".join(abi_block(abi) for abi in abis) + instruction(RETURN, ALLOW)
