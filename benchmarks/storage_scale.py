"""How the local account's storage scales: search, filtered lists, snapshots, runs on long
threads, and the request path against a bare Starlette handler, through real HTTP.

Run: python benchmarks/storage_scale.py [--quick] [--only search,lists,runs,path]
         [--database postgresql://...] [--search-sizes 100,1000,5000,20000]
         [--list-sizes 1000,10000,100000]

``--database`` measures the account on PostgreSQL (an empty database or schema) instead of
SQLite in a temporary directory.

Objects are seeded through the domain services in this process (fast, in batched
transactions); every measurement goes through the server over loopback HTTP, so the numbers
include the request path. ``--quick`` uses smaller sizes (a smoke run, not the table).
Each table prints its ratios (growth from the smallest size, or the share of the bare
handler's throughput) measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx2 as httpx
import openai
import uvicorn
from local_server import WORDS as TOPICS  # the same documents as local_server.py's
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from assistctl.local import LocalConfig, start_in_process
from assistctl.local.domain import Account
from assistctl.local.domain.threads import NewMessage, NewThread, text_part
from assistctl.local.domain.vector_stores import Chunking, NewVectorStore

BATCH = 2_000


def document(index: int, words: int = 120) -> bytes:
    body = " ".join(TOPICS[(index * 7 + i * 3) % len(TOPICS)] + str(i % 50) for i in range(words))
    return f"Document {index} about topic{index}.\n{body}\n".encode()


def p50_ms(operation: Callable[[int], object], count: int) -> float:
    timings = []
    for index in range(count):
        started = time.perf_counter()
        operation(index)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def batches(total: int) -> Iterator[range]:
    for start in range(0, total, BATCH):
        yield range(start, min(total, start + BATCH))


def upload(account: Account, name: str, content: bytes, purpose: str = "assistants") -> str:
    return str(account.files.upload(name, purpose, [content], len(content), None)["id"])


def bench_search(account: Account, client: openai.OpenAI, sizes: list[int]) -> None:
    store = account.vector_stores.create(NewVectorStore(name="search"))["id"]
    print("\n| files  | search p50 ms | × 100 files |")
    print("|--------|---------------|-------------|")
    seeded, first = 0, None
    for size in sizes:
        for chunk in batches(size - seeded):
            with account.store.transaction():
                for offset in chunk:
                    index = seeded + offset
                    file_id = upload(account, f"doc{index}.md", document(index))
                    account.vector_stores.attach(store, file_id, {}, Chunking())
        seeded = size
        client.vector_stores.search(store, query="warm up")
        median = p50_ms(
            lambda i, size=size: client.vector_stores.search(
                store, query=f"warranty topic{i * 37 % size}"
            ),
            9,
        )
        first = first or median
        print(f"| {size:>6} | {median:>13.1f} | {median / first:>10.2f}× |")


def bench_lists(account: Account, client: openai.OpenAI, sizes: list[int]) -> None:
    print(
        "\n| rows   | files?purpose= p50 ms | page after= p50 ms | messages?run_id= p50 ms "
        "| snapshot (all files, 10k pages) s |"
    )
    print("|--------|------|------|------|------|")
    thread = account.threads.create(NewThread())["id"]
    seeded_files = seeded_messages = 0
    first: list[float] = []
    for size in sizes:
        for chunk in batches(size - seeded_files):
            with account.store.transaction():
                for offset in chunk:
                    index = seeded_files + offset
                    purpose = "assistants" if index % 2 else "batch"
                    upload(account, f"f{index}.txt", b"x", purpose)
        seeded_files = size
        for chunk in batches(size - seeded_messages):
            with account.store.transaction():
                for offset in chunk:
                    index = seeded_messages + offset
                    account.threads.add_message(
                        thread,
                        NewMessage("user", (text_part(f"message {index}"),)),
                        run_id="run_marked" if index % 500 == 0 else None,
                    )
        seeded_messages = size
        middle = client.files.list(limit=1, purpose="assistants", order="asc").data[0].id
        purpose = p50_ms(lambda i: client.files.list(limit=20, purpose="batch"), 15)
        paged = p50_ms(
            lambda i, middle=middle: client.files.list(limit=100, after=middle, order="asc"), 15
        )
        by_run = p50_ms(
            lambda i: client.beta.threads.messages.list(thread, run_id="run_marked", limit=20),
            15,
        )
        started = time.perf_counter()
        seen = sum(1 for _ in client.files.list(limit=10_000, purpose="batch"))
        snapshot = time.perf_counter() - started
        assert seen == size // 2, (seen, size)
        row = [purpose, paged, by_run, snapshot]
        first = first or row
        cells = " | ".join(f"{v:.2f} ({v / f:.1f}×)" for v, f in zip(row, first, strict=True))
        print(f"| {size:>6} | {cells} |")


def bench_runs(account: Account, client: openai.OpenAI, sizes: list[int]) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", name="runs")
    print("\n| thread messages | run (stream to done) p50 ms | × smallest |")
    print("|-----------------|-----------------------------|------------|")
    first = None
    for size in sizes:
        thread = account.threads.create(NewThread())["id"]
        for chunk in batches(size):
            with account.store.transaction():
                for index in chunk:
                    account.threads.add_message(
                        thread, NewMessage("user", (text_part(f"question {index}"),))
                    )

        def run(_: int, thread: str = thread) -> None:
            for _event in client.beta.threads.runs.create(
                thread, assistant_id=assistant.id, stream=True
            ):
                pass

        median = p50_ms(run, 5)
        first = first or median
        print(f"| {size:>15} | {median:>27.1f} | {median / first:>9.2f}× |")


@contextmanager
def bare_starlette(body: bytes) -> Iterator[str]:
    """A bare Starlette handler answering ``body``, served by uvicorn like the account."""

    async def handler(request: Request) -> Response:
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/v1/{path:path}", handler)])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    server = uvicorn.Server(
        uvicorn.Config(app, http="h11", lifespan="off", log_config=None, access_log=False)
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[listener])))
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join()
        listener.close()


def throughput(base_url: str, path: str, seconds: float, clients: int = 4) -> float:
    """Requests per second answered by ``clients`` keep-alive HTTP clients."""
    deadline = time.perf_counter() + seconds

    def loop(_: int) -> int:
        done = 0
        with httpx.Client(base_url=base_url, headers={"Authorization": "Bearer k"}) as http:
            while time.perf_counter() < deadline:
                http.get(path).raise_for_status()
                done += 1
        return done

    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(loop, range(clients)))
    return total / seconds


def bench_path(client: openai.OpenAI, base_url: str, seconds: float) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", name="path")
    for index in range(120):
        client.beta.assistants.create(model="gpt-4o", name=f"filler{index}")
    one = httpx.get(f"{base_url}/assistants/{assistant.id}").content
    listed = httpx.get(f"{base_url}/assistants?limit=100").content
    print("\n| request        | account req/s | bare Starlette req/s | ratio |")
    print("|----------------|---------------|----------------------|-------|")
    for name, path, body in (
        ("retrieve", f"/assistants/{assistant.id}", one),
        ("list(limit=100)", "/assistants?limit=100", listed),
    ):
        with bare_starlette(body) as bare_url:
            bare = throughput(bare_url, path, seconds)
        account = throughput(base_url, path, seconds)
        print(f"| {name:<14} | {account:>13.0f} | {bare:>20.0f} | {account / bare:>4.2f}× |")


def sizes(given: str | None, default: list[int]) -> list[int]:
    return [int(size) for size in given.split(",")] if given else default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--only", default="search,lists,runs,path")
    parser.add_argument("--database", help="a postgresql:// URL (default: SQLite)")
    parser.add_argument("--search-sizes", help="comma-separated file counts")
    parser.add_argument("--list-sizes", help="comma-separated row counts")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    wanted = set(arguments.only.split(","))
    quick = arguments.quick
    with (
        tempfile.TemporaryDirectory() as data,
        start_in_process(data, config=LocalConfig(database=arguments.database)) as server,
    ):
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        if "path" in wanted:
            bench_path(client, server.base_url, 1.0 if quick else 4.0)
        if "search" in wanted:
            bench_search(
                server.account,
                client,
                sizes(arguments.search_sizes, [100, 300] if quick else [100, 1_000, 5_000, 20_000]),
            )
        if "lists" in wanted:
            bench_lists(
                server.account,
                client,
                sizes(arguments.list_sizes, [1_000, 3_000] if quick else [1_000, 10_000, 100_000]),
            )
        if "runs" in wanted:
            bench_runs(server.account, client, [1_000, 3_000] if quick else [1_000, 100_000])


if __name__ == "__main__":
    main()
