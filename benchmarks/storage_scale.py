"""How the local account's storage scales: search, filtered lists, snapshots, runs on long
threads, and the request path against a bare Starlette handler, through real HTTP.

Run: python benchmarks/storage_scale.py [--quick] [--only search,lists,runs,path]
         [--database postgresql://...] [--search-sizes 100,1000,5000,20000]
         [--list-sizes 1000,10000,100000] [--rounds 5]

``--database`` measures the account on PostgreSQL (an empty database or schema) instead of
SQLite in a temporary directory; the lists table needs one account per size, so it runs on
SQLite only.

Objects are seeded through the domain services in this process (fast, in batched
transactions); every measurement goes through the server over loopback HTTP, so the numbers
include the request path. ``--quick`` uses smaller sizes (a smoke run, not the table).
Each table prints its ratios (growth from the smallest size, or the share of the bare
handler's throughput) measured in the same run, sizes (or the account and the bare handler)
alternated round by round and medians taken, so a machine busy with other work slows every
column alike. Lists use one account per size; the snapshot is timed twice, over plain HTTP
(the server's time per file) and through the SDK (the client's total, its parsing included).
``--rounds`` sets how many rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

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


def seed_rows(account: Account, size: int) -> str:
    """``size`` files (half ``purpose=batch``) and a thread of ``size`` messages, 20 of them
    (spread over the thread) written by the run ``run_marked``: a page of 20 at every size."""
    thread = account.threads.create(NewThread())["id"]
    spacing = max(1, size // 20)
    for chunk in batches(size):
        with account.store.transaction():
            for index in chunk:
                purpose = "assistants" if index % 2 else "batch"
                upload(account, f"f{index}.txt", b"x", purpose)
                account.threads.add_message(
                    thread,
                    NewMessage("user", (text_part(f"message {index}"),)),
                    run_id="run_marked" if index % spacing == 0 else None,
                )
    return thread


def raw_snapshot(http: httpx.Client) -> int:
    """Every ``batch`` file in pages of 10,000 over plain HTTP: the server's time (and the
    transport's), without the SDK's parsing; the cursor is read from the body's end."""
    seen, after = 0, ""
    while True:
        body = http.get(f"/files?limit=10000&purpose=batch{after}").raise_for_status().content
        seen += body.count(b'"object":"file"')
        tail = body[body.rindex(b'"last_id"') :]
        if b'"has_more":true' not in tail:
            return seen
        after = "&after=" + tail.split(b'"')[3].decode()


def list_timings(client: openai.OpenAI, http: httpx.Client, thread: str) -> dict[str, float]:
    """p50 ms of each filtered list and cursor page of one account (the cursor page also over
    plain HTTP: the server's share, without the SDK building 100 objects)."""
    middle = client.files.list(limit=1, purpose="assistants", order="asc").data[0].id
    marked = client.beta.threads.messages.list(thread, run_id="run_marked", limit=10).data[-1].id
    timed: dict[str, Callable[[int], object]] = {
        "files?purpose= ms": lambda i: client.files.list(limit=20, purpose="batch"),
        "page after= ms": lambda i: client.files.list(limit=100, after=middle, order="asc"),
        "page after= HTTP ms": lambda i: http.get(f"/files?limit=100&after={middle}&order=asc"),
        "messages?run_id= ms": lambda i: client.beta.threads.messages.list(
            thread, run_id="run_marked", limit=20
        ),
        "run_id= after= ms": lambda i: client.beta.threads.messages.list(
            thread, run_id="run_marked", limit=5, after=marked
        ),
    }
    return {name: p50_ms(operation, 5) for name, operation in timed.items()}


def bench_lists(sizes: list[int], rounds: int) -> None:
    """One account per size, measured in interleaved rounds (so a busy machine slows every
    size alike); medians over every round."""
    with ExitStack() as stack:
        servers, threads = [], []
        for size in sizes:
            data = stack.enter_context(tempfile.TemporaryDirectory())
            server = stack.enter_context(start_in_process(data, config=LocalConfig()))
            threads.append(seed_rows(server.account, size))
            servers.append(server)
        clients = [
            openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
            for server in servers
        ]
        https = [
            stack.enter_context(
                httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer k"})
            )
            for server in servers
        ]
        samples: dict[tuple[int, str], list[float]] = {}
        for turn in range(rounds + 1):  # round 0 warms up (the SDK builds its types lazily)
            for size, http, client, thread in zip(sizes, https, clients, threads, strict=True):
                timings = list_timings(client, http, thread)
                started = time.perf_counter()
                seen = raw_snapshot(http)
                raw = time.perf_counter() - started
                started = time.perf_counter()
                assert seen == sum(1 for _ in client.files.list(limit=10_000, purpose="batch"))
                sdk = time.perf_counter() - started
                assert seen == size // 2, (seen, size)
                if turn == 0:
                    continue
                for name, median in timings.items():
                    samples.setdefault((size, name), []).append(median)
                samples.setdefault((size, "snapshot HTTP µs/file"), []).append(raw / seen * 1e6)
                samples.setdefault((size, "snapshot SDK µs/file"), []).append(sdk / seen * 1e6)
                samples.setdefault((size, "snapshot SDK s"), []).append(sdk)
        names = list(dict.fromkeys(name for _, name in samples))
        print(f"\n| rows   | {' | '.join(names)} |")
        print(f"|--------|{'------|' * len(names)}")
        for size in sizes:
            cells = []
            for name in names:
                median = statistics.median(samples[(size, name)])
                first = statistics.median(samples[(sizes[0], name)])
                cells.append(f"{median:.2f} ({median / first:.2f}×)")
            print(f"| {size:>6} | {' | '.join(cells)} |")


def bench_runs(account: Account, client: openai.OpenAI, sizes: list[int], rounds: int) -> None:
    """Runs (streamed to done) on threads of each size, interleaved round by round."""
    assistant = client.beta.assistants.create(model="gpt-4o", name="runs")
    threads = []
    for size in sizes:
        thread = account.threads.create(NewThread())["id"]
        for chunk in batches(size):
            with account.store.transaction():
                for index in chunk:
                    account.threads.add_message(
                        thread, NewMessage("user", (text_part(f"question {index}"),))
                    )
        threads.append(thread)

    def run(thread: str) -> float:
        started = time.perf_counter()
        for _event in client.beta.threads.runs.create(
            thread, assistant_id=assistant.id, stream=True
        ):
            pass
        return (time.perf_counter() - started) * 1000

    for thread in threads:
        run(thread)
    timings: list[list[float]] = [[] for _ in sizes]
    for _ in range(rounds):
        for index, thread in enumerate(threads):
            timings[index].append(run(thread))
    print("\n| thread messages | run (stream to done) p50 ms | × smallest |")
    print("|-----------------|-----------------------------|------------|")
    first = statistics.median(timings[0])
    for size, samples in zip(sizes, timings, strict=True):
        median = statistics.median(samples)
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
    """Requests per second answered by ``clients`` keep-alive HTTP clients (run in a process
    of its own, so the load does not share the servers' interpreter lock)."""
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


def served(load: ProcessPoolExecutor, base_url: str, path: str, seconds: float) -> Served:
    """Requests per second under load from the load process, and this process's CPU time per
    request (the servers run here, the load does not): CPU time barely moves when other
    programs share the machine, where requests per second do."""
    started = time.process_time()
    rate = load.submit(throughput, base_url, path, seconds).result()
    requests = max(1.0, rate * seconds)  # none answered in a slice: a machine this busy
    return Served(rate, (time.process_time() - started) / requests * 1e6)


@dataclass(frozen=True)
class Served:
    per_second: float
    cpu_us: float


def bench_path(client: openai.OpenAI, base_url: str, seconds: float, rounds: int) -> None:
    """The account against a bare Starlette handler answering the same bytes, alternated
    round by round; each ratio is the median of the rounds' ratios: of requests per second,
    and of CPU time per request (bare / account, so both read as the account's share)."""
    assistant = client.beta.assistants.create(model="gpt-4o", name="path")
    for index in range(120):
        client.beta.assistants.create(model="gpt-4o", name=f"filler{index}")
    one = httpx.get(f"{base_url}/assistants/{assistant.id}").content
    listed = httpx.get(f"{base_url}/assistants?limit=100").content
    print(
        "\n| request | account req/s | bare req/s | ratio req/s | account CPU µs/req "
        "| bare CPU µs/req | ratio CPU |"
    )
    print("|---|---|---|---|---|---|---|")
    with (
        ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as load,
        bare_starlette(one) as bare_one,
        bare_starlette(listed) as bare_listed,
    ):
        for name, path, bare_url in (
            ("retrieve", f"/assistants/{assistant.id}", bare_one),
            ("list(limit=100)", "/assistants?limit=100", bare_listed),
        ):
            served(load, bare_url, path, 0.5)
            served(load, base_url, path, 0.5)
            accounts, bares = [], []
            for _ in range(rounds):
                bares.append(served(load, bare_url, path, seconds))
                accounts.append(served(load, base_url, path, seconds))
            pairs = [
                (a, b)
                for a, b in zip(accounts, bares, strict=True)
                if a.per_second > 0 and b.per_second > 0
            ]
            rate = statistics.median(a.per_second / b.per_second for a, b in pairs)
            cpu = statistics.median(b.cpu_us / a.cpu_us for a, b in pairs)
            print(
                f"| {name} | {statistics.median(a.per_second for a in accounts):.0f} "
                f"| {statistics.median(b.per_second for b in bares):.0f} | {rate:.2f}× "
                f"| {statistics.median(a.cpu_us for a in accounts):.0f} "
                f"| {statistics.median(b.cpu_us for b in bares):.0f} | {cpu:.2f}× |"
            )


def sizes(given: str | None, default: list[int]) -> list[int]:
    return [int(size) for size in given.split(",")] if given else default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--only", default="search,lists,runs,path")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per table")
    parser.add_argument("--database", help="a postgresql:// URL (default: SQLite)")
    parser.add_argument("--search-sizes", help="comma-separated file counts")
    parser.add_argument("--list-sizes", help="comma-separated row counts")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    wanted = set(arguments.only.split(","))
    quick, rounds = arguments.quick, arguments.rounds
    if "lists" in wanted and arguments.database:
        parser.error("the lists table needs one account per size: run it on SQLite")
    if "lists" in wanted:
        bench_lists(
            sizes(arguments.list_sizes, [1_000, 3_000] if quick else [1_000, 10_000, 100_000]),
            rounds,
        )
    with (
        tempfile.TemporaryDirectory() as data,
        start_in_process(data, config=LocalConfig(database=arguments.database)) as server,
    ):
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        if "path" in wanted:
            bench_path(client, server.base_url, 0.5 if quick else 1.0, 3 * rounds)
        if "search" in wanted:
            bench_search(
                server.account,
                client,
                sizes(arguments.search_sizes, [100, 300] if quick else [100, 1_000, 5_000, 20_000]),
            )
        if "runs" in wanted:
            bench_runs(
                server.account, client, [1_000, 3_000] if quick else [1_000, 100_000], 2 * rounds
            )


if __name__ == "__main__":
    main()
