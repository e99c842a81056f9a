"""Runs per second with 1, 2 and 3 ``assistctl local serve`` replicas on one database (SQLite
and PostgreSQL), and the database round trips per run.

Run: python benchmarks/replicas.py [--runs 120] [--clients 6] [--postgres URL] [--engines ...]

Each replica is a process of its own (``--admin`` for its counters); the clients (threads,
each an SDK client behind a round-robin balancer over every replica) create a thread with one
message and a run on it, then poll the run every 10 ms until it completes (deterministic
engine). Round trips per run are the statements and transactions every replica sent its
database (``/_admin/stats``), summed and divided by the runs: they include the polls (each a
read) and the heartbeats. PostgreSQL: ``--postgres URL``, else a throwaway server started
from the PostgreSQL binaries found here (as the tests do); each replica count gets a fresh
schema. On a machine with few cores the replicas, the clients and the database share the same
CPUs, so more replicas cannot make runs faster there: the table shows what the sharing costs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' replica helpers and PostgreSQL starter

from tests.local import postgres_server  # noqa: E402
from tests.local.replicas import Shared, balanced_client, start_replicas, stop_all  # noqa: E402

POLL_S = 0.01


def database_counts(url: str) -> dict[str, int]:
    root = url.removesuffix("/v1")
    request = urllib.request.Request(f"{root}/_admin/stats", headers={"Authorization": "Bearer k"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        counts: dict[str, int] = json.loads(answer.read())["database"]
    return counts


def one_run(client, assistant_id: str) -> float:
    started = time.perf_counter()
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello there"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)
    while run.status in ("queued", "in_progress"):
        time.sleep(POLL_S)
        run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert run.status == "completed", run.status
    return time.perf_counter() - started


def measure(shared: Shared, replicas: int, runs: int, clients: int) -> dict[str, float]:
    started = start_replicas(replicas, shared, lease_s=30, arguments=["--admin"])
    try:
        balanced = [balanced_client(started) for _ in range(clients)]
        assistant = balanced[0].beta.assistants.create(model="gpt-4o", name="bench")
        for client in balanced:  # warm every replica (imports, engine) before timing
            one_run(client, assistant.id)
        before = [database_counts(replica.url) for replica in started]
        began = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            latencies = list(
                pool.map(lambda i: one_run(balanced[i % clients], assistant.id), range(runs))
            )
        elapsed = time.perf_counter() - began
        after = [database_counts(replica.url) for replica in started]
    finally:
        stop_all(started)
    statements = sum(a["statements"] - b["statements"] for a, b in zip(after, before, strict=True))
    transactions = sum(
        a["transactions"] - b["transactions"] for a, b in zip(after, before, strict=True)
    )
    return {
        "runs_per_s": runs / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "statements": statements / runs,
        "transactions": transactions / runs,
    }


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[str | None]:
    if url:
        yield url
        return
    found = postgres_server.binaries()
    if found is None:
        print("PostgreSQL: no --postgres URL and no PostgreSQL binaries here; skipped")
        yield None
        return
    with postgres_server.started_server(found) as started:
        yield started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=120)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--postgres", metavar="URL")
    arguments = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    counts = [int(n) for n in arguments.replicas.split(",")]
    engines = arguments.engines.split(",")
    print(
        f"{arguments.runs} runs, {arguments.clients} concurrent clients, deterministic engine, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'engine':<11} {'replicas':>8} {'runs/s':>8} {'x 1 replica':>11} {'p50 ms':>8} "
        f"{'statements/run':>14} {'transactions/run':>16}"
    )
    wanted = "postgresql" in engines
    with postgres(arguments.postgres) if wanted else contextlib.nullcontext(None) as server:
        for engine in engines:
            if engine == "postgresql" and server is None:
                continue
            first = None
            for replicas in counts:
                with tempfile.TemporaryDirectory() as directory:
                    schema = (
                        postgres_server.fresh_schema(server)
                        if engine == "postgresql" and server
                        else contextlib.nullcontext(None)
                    )
                    with schema as database:
                        row = measure(
                            Shared(Path(directory), database),
                            replicas,
                            arguments.runs,
                            arguments.clients,
                        )
                first = first or row["runs_per_s"]
                print(
                    f"{engine:<11} {replicas:>8} {row['runs_per_s']:>8.1f} "
                    f"{row['runs_per_s'] / first:>10.2f}x {row['p50_ms']:>8.0f} "
                    f"{row['statements']:>14.1f} {row['transactions']:>16.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
