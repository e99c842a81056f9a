"""Run latency and throughput of the local account's deterministic engine, through the SDK.

Run: python benchmarks/runs.py [--runs 200] [--concurrency 8]

Each run is a fresh thread with one user message, answered by `create_and_poll` (the server
tells the SDK to poll every 100 ms; here the poll interval is 10 ms so the numbers show the
server, not the poll interval). Three kinds: a plain answer, a function call answered with
`submit_tool_outputs_and_poll`, and a file_search answer over a 20-file vector store. A fourth
row streams plain runs with `runs.stream`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

from assistctl.local import LocalConfig, start_in_process

GET_ORDER = {
    "type": "function",
    "function": {
        "name": "get_order",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}
POLL_MS = 10


def plain(client, assistant_id: str, index: int) -> None:
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": f"hello number {index}"}]},
        poll_interval_ms=POLL_MS,
    )
    assert run.status == "completed", run.status


def function_call(client, assistant_id: str, index: int) -> None:
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": f"where is order {index}"}]},
        poll_interval_ms=POLL_MS,
    )
    assert run.status == "requires_action", run.status
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": '{"status": "shipped"}'}],
        poll_interval_ms=POLL_MS,
    )
    assert run.status == "completed", run.status


def streamed(client, assistant_id: str, index: int) -> None:
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": f"stream number {index}"}]
    )
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant_id) as s:
        s.until_done()
        assert s.current_run.status == "completed"


def measure(kind, client, assistant_id: str, runs: int, concurrency: int) -> list[str]:
    latencies: list[float] = []

    def one(index: int) -> None:
        started = time.perf_counter()
        kind(client, assistant_id, index)
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(runs)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return [
        f"{runs / elapsed:8.1f}",
        f"{statistics.median(latencies) * 1000:8.1f}",
        f"{latencies[int(len(latencies) * 0.95) - 1] * 1000:8.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    with tempfile.TemporaryDirectory() as directory:
        server = start_in_process(Path(directory) / "account", config=LocalConfig())
        client = openai.OpenAI(api_key="bench", base_url=server.base_url, max_retries=0)
        files = []
        for index in range(20):
            path = Path(directory) / f"doc{index}.md"
            path.write_text(f"Document {index} explains topic{index} in detail. " * 40)
            files.append(client.files.create(file=path.open("rb"), purpose="assistants").id)
        store = client.vector_stores.create(file_ids=files)
        while client.vector_stores.retrieve(store.id).file_counts.completed < len(files):
            time.sleep(0.05)
        plain_bot = client.beta.assistants.create(model="gpt-4o", name="Bench")
        function_bot = client.beta.assistants.create(model="gpt-4o", tools=[GET_ORDER])
        search_bot = client.beta.assistants.create(
            model="gpt-4o",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )

        def search(client, assistant_id: str, index: int) -> None:
            run = client.beta.threads.create_and_run_poll(
                assistant_id=assistant_id,
                thread={"messages": [{"role": "user", "content": f"explain topic{index % 20}"}]},
                poll_interval_ms=POLL_MS,
            )
            assert run.status == "completed", run.status

        rows = [
            ("plain answer", plain, plain_bot.id),
            ("function call + outputs", function_call, function_bot.id),
            ("file_search (20 files)", search, search_bot.id),
            ("streamed plain answer", streamed, plain_bot.id),
        ]
        print(f"{options.runs} runs per row, {options.concurrency} at once, deterministic engine")
        print(f"{'kind':<26} {'runs/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
        for name, kind, assistant_id in rows:
            cells = measure(kind, client, assistant_id, options.runs, options.concurrency)
            print(f"{name:<26} " + " ".join(cells))
        server.stop()


if __name__ == "__main__":
    main()
