"""Request latency and throughput of the local account's core endpoints, through the SDK.

Run: python benchmarks/local_server.py [--requests 500] [--concurrency 8] [--files 200]

Rows: assistant create / retrieve / list (limit 100), file upload, vector-store attach (a
~2,000-word file chunked 800/400), vector-store search over ``--files`` files, message create;
each first one at a time (latency percentiles), then ``--concurrency`` client threads
(throughput). The server runs in this process on a temp data dir (WAL SQLite on disk), so
the numbers include real HTTP on loopback and durable commits.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import openai

from assistctl.local import LocalConfig, start_in_process

WORDS = [
    "returns",
    "refunds",
    "shipping",
    "delivery",
    "warranty",
    "order",
    "invoice",
    "card",
    "express",
    "parcel",
]


def document(index: int, words: int) -> bytes:
    body = " ".join(WORDS[(index * 7 + i * 3) % len(WORDS)] + str(i % 50) for i in range(words))
    return f"Document {index} about topic{index}.\n{body}\n".encode()


def measure(name: str, operation: Callable[[int], object], count: int, concurrency: int) -> str:
    timings = []
    for index in range(count):
        started = time.perf_counter()
        operation(index)
        timings.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(operation, range(count)))
    throughput = count / (time.perf_counter() - started)
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    return f"| {name:<28} | {count:>5} | {p50:>7.2f} | {p95:>7.2f} | {throughput:>8.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--files", type=int, default=200)
    arguments = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    count, concurrency = arguments.requests, arguments.concurrency

    with (
        tempfile.TemporaryDirectory() as data,
        start_in_process(data, config=LocalConfig()) as server,
    ):
        client = openai.OpenAI(api_key="bench", base_url=server.base_url, max_retries=0)
        assistant = client.beta.assistants.create(model="gpt-4o", name="bench")
        for index in range(100):
            client.beta.assistants.create(model="gpt-4o", name=f"filler{index}")
        store = client.vector_stores.create(name="bench")
        file_ids = [
            client.files.create(file=(f"doc{i}.md", document(i, 300)), purpose="assistants").id
            for i in range(arguments.files)
        ]
        client.vector_stores.file_batches.create(store.id, file_ids=file_ids)
        big = document(0, 2000)
        attach_store = client.vector_stores.create(name="attach")
        big_ids = [
            client.files.create(file=(f"big{i}.md", big), purpose="assistants").id
            for i in range(2 * count // 10)
        ]
        attach_queue = iter(big_ids)
        thread = client.beta.threads.create()

        rows = [
            measure(
                "assistants.create",
                lambda i: client.beta.assistants.create(model="gpt-4o", name=f"a{i}"),
                count,
                concurrency,
            ),
            measure(
                "assistants.retrieve",
                lambda i: client.beta.assistants.retrieve(assistant.id),
                count,
                concurrency,
            ),
            measure(
                "assistants.list(limit=100)",
                lambda i: client.beta.assistants.list(limit=100),
                count // 5,
                concurrency,
            ),
            measure(
                "files.create (4 KB)",
                lambda i: client.files.create(
                    file=(f"u{i}.md", document(i, 400)), purpose="assistants"
                ),
                count // 5,
                concurrency,
            ),
            measure(
                "vector_stores.files.create",
                lambda i: client.vector_stores.files.create(
                    attach_store.id, file_id=next(attach_queue)
                ),
                count // 10,
                concurrency,
            ),
            measure(
                f"search ({arguments.files} files)",
                lambda i: client.vector_stores.search(store.id, query=f"warranty topic{i}"),
                count // 5,
                concurrency,
            ),
            measure(
                "messages.create",
                lambda i: client.beta.threads.messages.create(
                    thread.id, role="user", content=f"m{i}"
                ),
                count,
                concurrency,
            ),
        ]
    print(f"local account, {concurrency} client threads for throughput")
    print("| operation                    |     n | p50 ms  | p95 ms  |  req/s   |")
    print("|------------------------------|-------|---------|---------|----------|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
