"""A real `assistctl apply` process killed with SIGKILL part-way (no cleanup, no finally blocks)
leaves an account that the next apply converges from: no duplicate resources, no orphaned
uploads. Injected latency makes each request slow enough to kill the process between writes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from assistctl.cli import cli
from assistctl.model import NAME_KEY, STACK_KEY, parse_upload_filename

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
KILL_AFTER_WRITES = (1, 3, 4, 5)  # quickstart: 3 uploads, 1 store, 1 file batch, 1 assistant


def copy_quickstart(directory: Path, stack: str) -> Path:
    """A copy with its own stack name and display names (display names are unique across
    stacks)."""
    shutil.copytree(QUICKSTART, directory)
    for manifest, old, new in (
        ("stack.yaml", "name: support", f"name: {stack}"),
        ("handbook.yaml", "Support handbook", f"Handbook {stack}"),
        ("support-bot.yaml", "Support Bot", f"Bot {stack}"),
    ):
        path = directory / manifest
        path.write_text(path.read_text().replace(old, new))
    return directory


def writes(admin) -> int:
    return sum(
        count
        for route, count in admin.stats()["requests"].items()
        if route.startswith(("POST /v1/", "DELETE /v1/"))
    )


def kill_after(admin, base_url: str, directory: Path, count: int) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTCTL_")}
    before = writes(admin)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistctl",
            "--account",
            base_url,
            "apply",
            str(directory),
            "--yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment,
    )
    try:
        deadline = time.monotonic() + 30
        while writes(admin) - before < count:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the apply never reached the kill point"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=10)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, "it finished before it could be killed"


def test_apply_killed_at_several_points_converges_on_the_next_run(
    local_server, admin, client, tmp_path
):
    admin.set_faults(latency_ms=100)
    directories = {}
    for count in KILL_AFTER_WRITES:
        directory = copy_quickstart(tmp_path / f"crash{count}", f"crash{count}")
        kill_after(admin, local_server.base_url, directory, count)
        directories[f"crash{count}"] = directory
    admin.clear_faults()

    runner = CliRunner()
    for directory in directories.values():
        account = ["--account", local_server.base_url]
        resumed = runner.invoke(cli, [*account, "apply", str(directory), "--yes"])
        assert resumed.exit_code == 0, resumed.output
        plan = runner.invoke(cli, [*account, "plan", str(directory), "--detailed-exitcode"])
        assert plan.exit_code == 0, plan.output

    assistants = Counter(
        (a.metadata[STACK_KEY], a.metadata[NAME_KEY])
        for a in client.beta.assistants.list(limit=100)
    )
    stores = list(client.vector_stores.list(limit=100))
    assert set(assistants.values()) == {1} and len(assistants) == len(directories)
    assert Counter(s.metadata[STACK_KEY] for s in stores) == Counter(list(directories))
    attached = {f.id for s in stores for f in client.vector_stores.files.list(s.id, limit=100)}
    uploads = Counter()
    for upload in client.files.list(limit=100):
        owner, _, _ = parse_upload_filename(upload.filename)
        uploads[owner] += 1
        assert upload.id in attached, f"orphaned upload {upload.filename}"
    assert uploads == Counter({owner: 3 for owner in directories})
