"""Escape attempts: each must fail, and the executor must serve the next execution."""

from __future__ import annotations

import dataclasses
import os
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistctl.local.sandbox import DataFile, ExecutionStatus, Limits
from assistctl.local.sandbox.executor import CodeExecutor

from .attacks import (
    FLOOD,
    FORK_BOMB,
    INFINITE_LOOP,
    MEMORY_BOMB,
    READ_ENVIRONMENT,
    READ_SHADOW,
    SECRET,
    VISIBLE_FILES,
    connect_to,
    find_database,
    host_address,
    kill,
    largest_sandbox,
    write_targets,
    write_to,
)

LIMITS = Limits(wall_seconds=3, memory_bytes=1024 * 1024 * 1024, max_processes=64)


@pytest.fixture(scope="module")
def executor(sandbox_available: None) -> Iterator[CodeExecutor]:
    with CodeExecutor(LIMITS) as executor:
        yield executor


@pytest.fixture(scope="module")
def patient_executor(sandbox_available: None) -> Iterator[CodeExecutor]:
    """The memory limits, with time to reach them: filling 1 GiB on a busy machine can take
    longer than the 3 s that the loops and bombs get, and then the test would see a timeout."""
    with CodeExecutor(dataclasses.replace(LIMITS, wall_seconds=60)) as executor:
        yield executor


def still_serves(executor: CodeExecutor, session: str) -> None:
    """The attacked session and a bystander session that lives through every attack run code."""
    for name in (session, "bystander"):
        result = executor.execute(name, "print('alive')")
        assert (result.status, result.logs) == (ExecutionStatus.OK, "alive\n"), result.tool_logs


def run(executor: CodeExecutor, session: str, code: str) -> str:
    result = executor.execute(session, code)
    assert result.status is ExecutionStatus.OK, result.tool_logs
    return result.logs


def test_etc_shadow_cannot_be_read(executor: CodeExecutor) -> None:
    logs = run(executor, "shadow", READ_SHADOW)
    assert "root:" not in logs
    assert "/etc/shadow FileNotFoundError" in logs
    assert "/proc/1/root/etc/shadow PermissionError" in logs
    assert "['fonts', 'group', 'hosts', 'ld.so.cache', 'localtime', 'passwd']" in logs
    still_serves(executor, "shadow")


def test_the_accounts_database_is_not_visible(executor: CodeExecutor, tmp_path: Path) -> None:
    database = tmp_path / "account" / "assistctl.sqlite3"
    database.parent.mkdir()
    with sqlite3.connect(database) as connection:
        connection.execute("create table keys (secret text)")
        connection.execute("insert into keys values (?)", (SECRET,))
    logs = run(executor, "database", find_database(database, tmp_path))
    assert logs == "False False\n[]\n"
    assert SECRET not in logs
    still_serves(executor, "database")


def test_the_servers_environment_is_not_visible(
    executor: CodeExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("ASSISTCTL_LOCAL_API_KEY", SECRET)
    logs = run(executor, "environment", READ_ENVIRONMENT)
    assert "OPENAI_API_KEY" not in logs and "ASSISTCTL_LOCAL_API_KEY" not in logs
    assert "leaks []" in logs
    still_serves(executor, "environment")


def test_no_address_can_be_reached_not_even_the_servers_port(executor: CodeExecutor) -> None:
    address = host_address()
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        targets = [("127.0.0.1", port)] + ([(address, port)] if address else [])
        logs = run(executor, "network", connect_to(targets))
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert "[(1, 'lo')]" in logs
    assert "connected" not in logs
    assert f"('127.0.0.1', {port}) ConnectionRefusedError" in logs
    assert "no route Network is unreachable" in logs
    still_serves(executor, "network")


def test_nothing_outside_mnt_data_can_be_written(executor: CodeExecutor) -> None:
    marker = f"assistctl-sandbox-marker-{os.getpid()}"
    targets = write_targets()
    logs = run(executor, "writes", write_to(targets, marker))
    assert "written" not in logs
    assert "mnt/data 2" in logs
    assert not (Path(tempfile.gettempdir()) / marker).exists()
    for path in targets[:4] + targets[6:]:
        assert not Path(path).exists()
    still_serves(executor, "writes")


def test_another_sessions_files_are_not_visible(executor: CodeExecutor) -> None:
    content = f"private to session a {SECRET}"
    # A name of its own: other suites (and other xdist workers) keep sandboxes in the same /tmp.
    name = f"secret-a-{uuid.uuid4().hex}.txt"
    executor.execute("owner-a", "1", [DataFile(name, content.encode())])
    [host_copy] = Path(tempfile.gettempdir()).glob(f"assistctl-sandbox-*/s*/data/{name}")
    logs = run(
        executor,
        "owner-b",
        VISIBLE_FILES + "print(os.listdir('/mnt/data'))\n"
        f"print(os.path.exists({str(host_copy)!r}))\n"
        "print([path for path in visible_files() if 'secret-' in path])",
    )
    assert logs == "[]\nFalse\n[]\n"
    own = executor.execute("owner-a", f"print(open({name!r}).read())")
    assert own.logs == content + "\n"
    still_serves(executor, "owner-b")


def test_links_and_fifos_in_mnt_data_reach_nothing_of_the_hosts(
    executor: CodeExecutor, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("host file")
    result = executor.execute(
        "links",
        "import os\n"
        "os.symlink('/etc/passwd', 'passwd')\n"
        f"os.symlink({str(victim)!r}, 'victim.txt')\n"
        f"os.symlink({str(tmp_path)!r}, 'host-dir')\n"
        "os.mkfifo('pipe')\n"
        "open('real.txt', 'w').write('mine')",
    )
    assert result.status is ExecutionStatus.OK
    assert [(item.name, item.data) for item in result.files] == [("real.txt", b"mine")]
    overwrite = executor.execute(
        "links", "print(open('victim.txt').read())", [DataFile("victim.txt", b"from the model")]
    )
    assert overwrite.logs == "from the model\n"
    assert victim.read_text() == "host file"
    still_serves(executor, "links")


def test_the_code_runs_unprivileged_and_alone(executor: CodeExecutor) -> None:
    logs = run(
        executor,
        "privileges",
        "import os, socket\n"
        "lines = open('/proc/self/status').read().splitlines()\n"
        "status = dict(line.split(':\\t', 1) for line in lines)\n"
        "print(os.getuid() != 0, status['CapEff'], status['NoNewPrivs'], socket.gethostname())\n"
        "try:\n"
        "    os.setuid(0)\n"
        "except PermissionError:\n"
        "    print('setuid refused')\n"
        "print(len([pid for pid in os.listdir('/proc') if pid.isdigit()]) < 5)",
    )
    assert logs == "True 0000000000000000 1 sandbox\nsetuid refused\nTrue\n"
    still_serves(executor, "privileges")


def test_no_user_namespace_can_be_made_inside(executor: CodeExecutor) -> None:
    if executor.host.seccomp is None and executor.host.as_root:
        pytest.skip("no seccomp filter for this architecture: nested namespaces are possible")
    logs = run(
        executor,
        "namespaces",
        "import subprocess\n"
        "for flags in (['-U'], ['-U', '-r'], ['-n'], ['-m']):\n"
        "    done = subprocess.run(['unshare', *flags, 'true'], capture_output=True, text=True)\n"
        "    print(flags, done.returncode, done.stderr.strip())",
    )
    assert logs.count("unshare failed: Operation not permitted") == 4, logs
    still_serves(executor, "namespaces")


def test_a_fork_bomb_is_contained(executor: CodeExecutor) -> None:
    executor.execute("fork-bomb", "import os")
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], largest_sandbox())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = executor.execute("fork-bomb", FORK_BOMB)
        assert subprocess.run(["true"], check=False).returncode == 0
    finally:
        done.set()
        watcher.join()
    assert result.status is ExecutionStatus.TIMEOUT
    assert "3 s limit" in result.message and "restarted" in result.message
    assert LIMITS.max_processes / 2 < peak[0] <= LIMITS.max_processes
    still_serves(executor, "fork-bomb")


def test_a_memory_bomb_is_contained(patient_executor: CodeExecutor) -> None:
    executor = patient_executor
    result = executor.execute("memory-bomb", MEMORY_BOMB)
    assert result.status in (ExecutionStatus.ERROR, ExecutionStatus.CRASHED), result.tool_logs
    if result.status is ExecutionStatus.ERROR:
        assert "MemoryError" in result.logs
    else:
        assert "out of memory" in result.message
    still_serves(executor, "memory-bomb")


def test_forked_memory_hogs_share_one_memory_limit(patient_executor: CodeExecutor) -> None:
    """Eight children holding 200 MiB each at once: 1.6 GiB against the sandbox's 1 GiB."""
    executor = patient_executor
    result = executor.execute(
        "memory-hogs",
        "import os, time\n"
        "children = []\n"
        "for _ in range(8):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        code = 1\n"
        "        try:\n"
        "            block = bytearray(200 * 2**20)\n"
        "            block[::4096] = b'x' * len(block[::4096])\n"
        "            time.sleep(1)\n"
        "            code = 0\n"
        "        finally:\n"
        "            os._exit(code)\n"
        "    children.append(pid)\n"
        "print(sorted(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children))",
    )
    if executor.host.cgroups is not None and result.status is ExecutionStatus.OK:
        assert "-9" in result.logs  # the sandbox's cgroup OOM-killed some of them
    still_serves(executor, "memory-hogs")


def test_an_infinite_loop_times_out_and_the_kernel_restarts(executor: CodeExecutor) -> None:
    executor.execute("loop", "state = 1")
    started = time.monotonic()
    result = executor.execute("loop", INFINITE_LOOP)
    assert time.monotonic() - started < LIMITS.wall_seconds + 5
    assert result.status is ExecutionStatus.TIMEOUT and result.restarted
    assert "ran longer than the 3 s limit" in result.tool_logs
    after = executor.execute("loop", "print('state' in globals())")
    assert after.logs == "False\n"
    still_serves(executor, "loop")


@pytest.mark.parametrize(
    "code",
    [FLOOD, "for _ in range(100):\n    print('y' * 1_000_000)"],
    ids=["one-message", "many-messages"],
)
def test_100_mb_of_output_is_capped(executor: CodeExecutor, code: str) -> None:
    result = executor.execute("flood", code)
    assert result.status is ExecutionStatus.OK, result.tool_logs
    assert result.truncated
    assert result.logs.endswith(f"[output truncated after {LIMITS.output_bytes} bytes]")
    still_serves(executor, "flood")


def test_killing_the_parent_or_the_server_fails_and_killing_everything_restarts(
    executor: CodeExecutor,
) -> None:
    logs = run(executor, "kill", kill((os.getppid(), 1, os.getpid())))
    assert "killed" not in logs
    everyone = executor.execute("kill", "os.kill(-1, signal.SIGKILL)")
    assert "ProcessLookupError" in everyone.logs  # nothing but the kernel itself is there
    result = executor.execute("kill", "os.kill(os.getpid(), signal.SIGKILL)")
    assert result.status is ExecutionStatus.CRASHED
    assert "killed by SIGKILL" in result.message and "restarted" in result.message
    still_serves(executor, "kill")


def test_code_spinning_on_every_core_gets_only_its_cpu_share(sandbox_available: None) -> None:
    with CodeExecutor(Limits(cpus=0.25), prestart=False) as executor:
        if executor.host.cgroups is None or "cpu" not in executor.host.cgroups.controllers:
            pytest.skip("no cpu cgroup controller here: rlimits cannot share cpu")
        logs = run(
            executor,
            "spinner",
            "import threading, time\n"
            "def spin():\n"
            "    end = time.monotonic() + 2\n"
            "    while time.monotonic() < end:\n"
            "        pass\n"
            "start = time.process_time()\n"
            "threads = [threading.Thread(target=spin) for _ in range(2)]\n"
            "[thread.start() for thread in threads]\n"
            "[thread.join() for thread in threads]\n"
            "print(round(time.process_time() - start, 2))",
        )
    assert float(logs) <= 0.25 * 2 * 1.5


def test_forged_malformed_and_flooding_messages_are_dropped(executor: CodeExecutor) -> None:
    """Code holds the kernel's key: it can send anything on iopub, as often as it likes."""
    result = executor.execute(
        "forger",
        "kernel = get_ipython().kernel\n"
        "parent = kernel.get_parent()\n"
        "iopub = kernel.iopub_socket\n"
        "def send(kind, content):\n"
        "    kernel.session.send(iopub, kind, content, parent=parent)\n"
        "iopub.send_multipart([b'not', b'a', b'jupyter', b'message'])\n"
        "send('status', {'execution_state': 'idle'})\n"
        "for _ in range(200):\n"
        "    send('stream', {'name': 'stdout', 'text': 'x' * 400})\n"
        "    send('display_data', {'data': 'not a dict'})\n"
        "    send('error', {'traceback': 7})",
    )
    assert result.status is ExecutionStatus.OK, result.tool_logs
    assert set(result.logs.partition("\n[output truncated")[0]) <= {"x"}
    assert len(result.logs) <= LIMITS.output_bytes + 64  # zmq's queue limit may drop some
    still_serves(executor, "forger")


def test_a_message_over_the_size_limit_is_dropped_and_output_comes_back_after(
    patient_executor: CodeExecutor,
) -> None:
    """Building and sending 20 MiB can outlast the 3 s limit on a busy machine (the suite
    runs the code interpreter's bombs on other workers meanwhile): this test is about the
    drop, so it gets the patient executor."""
    executor = patient_executor
    result = executor.execute(
        "oversized",
        "kernel = get_ipython().kernel\n"
        "text = 'x' * (20 * 2**20)\n"
        "content = {'name': 'stdout', 'text': text}\n"
        "kernel.session.send(kernel.iopub_socket, 'stream', content, parent=kernel.get_parent())",
    )
    assert result.status is ExecutionStatus.OK, result.tool_logs
    assert result.truncated and "too large to deliver" in result.message
    assert len(result.logs) <= LIMITS.output_bytes
    still_serves(executor, "oversized")
