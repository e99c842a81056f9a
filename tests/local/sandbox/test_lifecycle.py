"""A session's life: closing, idle reaping, a kernel dying between or during executions, a kernel
that cannot start, and kernels outliving the threads that asked for them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistctl.local.sandbox import ExecutionStatus, Limits
from assistctl.local.sandbox.executor import CodeExecutor


@pytest.fixture(scope="module")
def executor(sandbox_available: None) -> Iterator[CodeExecutor]:
    with CodeExecutor(Limits(wall_seconds=30)) as executor:
        yield executor


def test_closing_a_session_ends_its_kernel_and_files(executor: CodeExecutor) -> None:
    executor.execute("closing", "kept = 1\nopen('f.txt', 'w').write('x')")
    executor.close_session("closing")
    assert "closing" not in executor.session_ids()
    fresh = executor.execute("closing", "import os\nprint('kept' in globals(), os.listdir('.'))")
    assert fresh.logs == "False []\n"
    assert fresh.message is None
    executor.close_session("never-opened")


def test_a_kernel_that_exits_is_restarted_with_a_clear_message(executor: CodeExecutor) -> None:
    executor.execute("exits", "kept = 1")
    result = executor.execute("exits", "import os\nos._exit(3)")
    assert result.status is ExecutionStatus.CRASHED and result.restarted
    assert "The Python kernel died (it exited with status 3)" in result.tool_logs
    assert "variables, imports and definitions from earlier executions are gone" in result.message
    after = executor.execute("exits", "print('kept' in globals())")
    assert (after.status, after.logs, after.message) == (ExecutionStatus.OK, "False\n", None)


def test_a_kernel_killed_between_executions_is_replaced_and_says_so(
    executor: CodeExecutor,
) -> None:
    executor.execute(
        "killed-later",
        "import os, signal, threading\n"
        "threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGKILL)).start()",
    )
    time.sleep(1.0)
    result = executor.execute("killed-later", "print('running')")
    assert result.status is ExecutionStatus.OK and result.logs == "running\n"
    assert "the Python kernel had stopped since the last execution" in result.message
    assert "killed by SIGKILL" in result.message


def test_kernels_outlive_the_threads_that_started_them(executor: CodeExecutor) -> None:
    """bwrap --die-with-parent follows the forking *thread*; the spawner's never exits."""

    def first() -> None:
        executor.execute("outlives", "kept = 'still here'")

    worker = threading.Thread(target=first)
    worker.start()
    worker.join()
    time.sleep(0.5)
    assert executor.execute("outlives", "print(kept)").logs == "still here\n"


def test_idle_sessions_are_reaped_and_the_next_execution_says_so(
    sandbox_available: None,
) -> None:
    with CodeExecutor(Limits(idle_seconds=1.0), prestart=False) as executor:
        executor.execute("idle", "kept = 1")
        deadline = time.monotonic() + 10
        while executor.session_ids() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert executor.session_ids() == ()
        result = executor.execute("idle", "print('kept' in globals())")
        assert result.logs == "False\n"
        assert "session had expired after" in result.message


def test_a_kernel_that_cannot_start_makes_an_unavailable_execution(
    sandbox_available: None,
) -> None:
    with CodeExecutor(Limits(startup_seconds=0.001), prestart=False) as executor:
        result = executor.execute("slow", "print(1)")
    assert result.status is ExecutionStatus.UNAVAILABLE
    assert result.tool_logs.startswith("The code interpreter could not start a Python kernel")


def orphaned_sandboxes(bwrap_path: str) -> list[int]:
    """Live bwrap processes whose parent is gone (adopted by pid 1): sandboxes nobody stops."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")[0].decode()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and fields[1] == "1" and command == bwrap_path:
            found.append(int(stat.parent.name))
    return found


def test_kernels_stopped_while_starting_leave_nothing_behind(sandbox_available: None) -> None:
    with CodeExecutor(Limits(startup_seconds=0.001), prestart=False) as executor:
        before = orphaned_sandboxes(executor.host.bwrap.path)
        for attempt in range(5):
            executor.execute(f"stopped-{attempt}", "1")
    time.sleep(0.5)
    assert orphaned_sandboxes(executor.host.bwrap.path) == before


def test_a_closed_executor_refuses_work(sandbox_available: None) -> None:
    executor = CodeExecutor(prestart=False)
    executor.execute("closed", "1")
    executor.close()
    executor.close()
    with pytest.raises(RuntimeError, match="closed"):
        executor.execute("closed", "1")
