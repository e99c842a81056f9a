"""Replicas for tests and benchmarks: ``assistctl local serve`` processes on one database, and a
client-side round-robin load balancer in front of them (an httpx2 transport, so the unchanged
``openai`` SDK spreads its requests over every replica)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx2
import openai

_numbers = itertools.count()


@dataclass(frozen=True)
class Shared:
    """Where replicas keep the account: an SQLite file in ``root`` (``database`` None), or the
    PostgreSQL database ``database`` names (each replica gets a data directory of its own,
    as replicas on several machines would)."""

    root: Path
    database: str | None = None

    def arguments(self, index: int) -> list[str]:
        if self.database is None:
            return ["--data", str(self.root / "account")]
        return ["--data", str(self.root / f"replica-{index}"), "--database", self.database]


class Replica:
    """One ``local serve`` process; its stderr is collected as it comes (``log``)."""

    def __init__(self, arguments: Sequence[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "assistctl",
                "local",
                "serve",
                "--port",
                "0",
                *arguments,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "ASSISTCTL_LOCAL_CODE_INTERPRETER": "off",
                "ASSISTCTL_LOCAL_INDEXING_DELAY": "0",
                **env,
            },
        )
        self.log: list[str] = []
        self.url = ""

    def ready(self) -> Replica:
        """Wait for the printed URL (the server listens once it is printed)."""
        assert self.process.stdout is not None and self.process.stderr is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise AssertionError(f"replica did not start: {self.process.stderr.read()}")
        threading.Thread(target=self._collect, daemon=True).start()
        return self

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(api_key="k", base_url=self.url, max_retries=0)

    def logged(self, text: str, timeout_s: float = 10) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(text in line for line in self.log):
                return True
            time.sleep(0.05)
        return False

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        """Ctrl-C, as an operator stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_replicas(
    count: int,
    shared: Shared,
    *,
    lease_s: float = 1.0,
    arguments: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> list[Replica]:
    """``count`` replicas started at once on one database (they race to migrate it)."""
    started = [
        Replica(
            [*shared.arguments(next(_numbers)), "--job-lease", str(lease_s), *arguments], env or {}
        )
        for _ in range(count)
    ]
    return [replica.ready() for replica in started]


def stop_all(replicas: Iterable[Replica]) -> None:
    for replica in replicas:
        replica.stop()


class RoundRobin(httpx2.BaseTransport):
    """A load balancer in the client: each request goes to the next replica's port."""

    def __init__(self, ports: Sequence[int]) -> None:
        self._ports = itertools.cycle(ports)
        self._lock = threading.Lock()
        self._transport = httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        with self._lock:
            port = next(self._ports)
        request.url = request.url.copy_with(port=port)
        return self._transport.handle_request(request)

    def close(self) -> None:
        self._transport.close()


def balanced_client(replicas: Sequence[Replica]) -> openai.OpenAI:
    """An SDK client whose requests are spread over ``replicas`` in turn."""
    transport = RoundRobin([replica.port for replica in replicas])
    return openai.OpenAI(
        api_key="k",
        base_url=replicas[0].url,
        max_retries=0,
        http_client=httpx2.Client(transport=transport, timeout=60),
    )
