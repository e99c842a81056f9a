"""The sandbox's parts that need no sandbox: limits, uid leases, the output cap, the bwrap line."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from assistctl.local.sandbox import Limits
from assistctl.local.sandbox.bwrap import Bubblewrap, command, python_roots, readable_parents
from assistctl.local.sandbox.kernel import CappedLog
from assistctl.local.sandbox.seccomp import program
from assistctl.local.sandbox.uids import UidPool


def test_limits_refuse_values_a_kernel_cannot_live_with() -> None:
    with pytest.raises(ValueError, match="memory_bytes"):
        Limits(memory_bytes=1 << 20)
    with pytest.raises(ValueError, match="wall_seconds"):
        Limits(wall_seconds=0)
    with pytest.raises(ValueError, match="max_processes"):
        Limits(max_processes=4)


def test_two_pools_on_one_machine_never_lease_the_same_uid(tmp_path: Path) -> None:
    first = UidPool(first=5000, count=3, lock_dir=tmp_path)
    second = UidPool(first=5000, count=3, lock_dir=tmp_path)
    leased = [first.acquire(), second.acquire(), first.acquire()]
    assert sorted(leased) == [5000, 5001, 5002]
    with pytest.raises(RuntimeError, match="in use"):
        second.acquire()
    first.release(leased[0])
    assert second.acquire() == leased[0]


def test_the_capped_log_keeps_whole_characters_up_to_the_cap() -> None:
    log = CappedLog(cap=5)
    log.add("ab")
    log.add("cdé€f")
    assert log.truncated
    assert log.text() == "abcd\n[output truncated after 4 bytes]"
    exact = CappedLog(cap=3)
    exact.add("abc")
    assert not exact.truncated and exact.text() == "abc"


def test_python_roots_bind_each_prefix_once_and_nothing_under_usr() -> None:
    roots = python_roots(["/opt/venv", "/opt/venv/lib", "/usr/local", "/root/.pyenv/versions/3"])
    assert roots == ("/opt/venv", "/root/.pyenv/versions/3")


def test_parents_of_mount_points_are_made_readable_outermost_first() -> None:
    parents = readable_parents(["/root/.pyenv/versions/3", "/tmp/x/venv", "/mnt/data"])
    assert parents == ["/root", "/root/.pyenv", "/root/.pyenv/versions", "/tmp/x", "/mnt"]


def test_the_bwrap_line_shares_no_network_and_mounts_the_system_read_only(tmp_path: Path) -> None:
    line = command(
        Bubblewrap(path="bwrap", sizes_tmpfs=True, disables_userns=True),
        data_dir=tmp_path / "data",
        runtime_dir=tmp_path / "run",
        etc_dir=tmp_path / "etc",
        roots=("/opt/python",),
        as_root=True,
        tmp_bytes=1024,
        seccomp_fd=7,
        info_fd=8,
        argv=["python"],
    )
    joined = " ".join(line)
    assert "--unshare-net" in line and "--share-net" not in line
    assert "--ro-bind /usr /usr" in joined and "--ro-bind /opt/python /opt/python" in joined
    assert f"--bind {tmp_path / 'data'} /mnt/data" in joined
    assert "--bind / " not in joined and "/etc /etc" not in joined
    assert "--cap-add CAP_SETUID --cap-add CAP_SETGID" in joined
    assert line[-6:] == ["--seccomp", "7", "--info-fd", "8", "--", "python"]


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_seccomp_filter_is_whole_instructions_ending_in_allow(machine: str) -> None:
    filter_program = program(machine)
    assert filter_program is not None and len(filter_program) % 8 == 0
    assert filter_program[-8:] == struct.pack("=HBBI", 0x06, 0, 0, 0x7FFF0000)
    assert program("sparc") is None
