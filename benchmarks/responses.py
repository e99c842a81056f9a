"""Responses next to runs on the local account's deterministic engine, through the SDK, measured
in one run so the ratios compare like with like.

Run: python benchmarks/responses.py [--count 200]

Rows, each at concurrency 1 and 8:
- a plain answer: ``responses.create`` against a run made with ``create_and_poll`` on a new
  thread (poll interval 10 ms, so the numbers show the server, not the polling);
- a function call and its output: two responses (``previous_response_id``) against a run that
  goes ``requires_action`` and ``submit_tool_outputs_and_poll``;
- streamed: the time to the first event of ``responses.stream`` and of ``runs.stream``.

The goal: a response costs no more than a run (ratio responses/s ÷ runs/s ≥ 1).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
from runs import GET_ORDER, function_call, plain  # benchmarks/runs.py: the runs side

from assistctl.local import LocalConfig, start_in_process

RESPONSE_TOOL = {"type": "function", **GET_ORDER["function"]}
Kind = Callable[[openai.OpenAI, int], float | None]
WARM_UP = 5


def for_assistant(kind: Callable[[openai.OpenAI, str, int], None], assistant_id: str) -> Kind:
    """One of ``runs.py``'s kinds (a run with ``create_and_poll``) on this assistant."""
    return lambda client, index: kind(client, assistant_id, index)


def plain_response(client: openai.OpenAI, index: int) -> None:
    response = client.responses.create(model="gpt-4o", input=f"hello number {index}")
    assert response.status == "completed", response.status


def function_response(client: openai.OpenAI, index: int) -> None:
    first = client.responses.create(
        model="gpt-4o", input=f"where is order {index}", tools=[RESPONSE_TOOL]
    )
    call = first.output[0]
    assert call.type == "function_call", call.type
    second = client.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        tools=[RESPONSE_TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "shipped"}],
    )
    assert second.status == "completed", second.status


def first_run_event(assistant_id: str) -> Kind:
    def one(client: openai.OpenAI, index: int) -> float:
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": f"stream number {index}"}]
        )
        started = time.perf_counter()
        with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant_id) as s:
            first = None
            for _ in s:
                first = first or time.perf_counter() - started
        assert first is not None
        return first

    return one


def first_response_event(client: openai.OpenAI, index: int) -> float:
    started = time.perf_counter()
    first = None
    with client.responses.stream(model="gpt-4o", input=f"stream number {index}") as stream:
        for _ in stream:
            first = first or time.perf_counter() - started
    assert first is not None
    return first


def measure(
    kind: Kind, client: openai.OpenAI, count: int, concurrency: int
) -> tuple[float, list[float]]:
    """(operations per second, latencies in seconds: each kind's own, else wall time), after a
    few untimed calls (the SDK builds its response types on first use)."""
    for index in range(WARM_UP):
        kind(client, -1 - index)
    latencies: list[float] = []

    def one(index: int) -> None:
        started = time.perf_counter()
        timed = kind(client, index)
        latencies.append(timed if timed is not None else time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return count / elapsed, latencies


def percentile(latencies: list[float], share: float) -> float:
    return latencies[max(0, int(len(latencies) * share) - 1)] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="operations per cell")
    options = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    with tempfile.TemporaryDirectory() as directory:
        server = start_in_process(Path(directory) / "account", config=LocalConfig())
        client = openai.OpenAI(api_key="bench", base_url=server.base_url, max_retries=0)
        plain_bot = client.beta.assistants.create(model="gpt-4o", name="Bench")
        function_bot = client.beta.assistants.create(model="gpt-4o", tools=[GET_ORDER])
        pairs = [
            ("plain answer", for_assistant(plain, plain_bot.id), plain_response),
            (
                "function call + output",
                for_assistant(function_call, function_bot.id),
                function_response,
            ),
        ]
        print(f"{options.count} operations per cell, deterministic engine, one server")
        print(
            f"{'kind':<24} {'conc':>4} {'runs/s':>8} {'resp/s':>8} {'ratio':>6} "
            f"{'run p50':>8} {'resp p50':>9}"
        )
        for name, run_kind, response_kind in pairs:
            for concurrency in (1, 8):
                runs, run_latencies = measure(run_kind, client, options.count, concurrency)
                responses, response_latencies = measure(
                    response_kind, client, options.count, concurrency
                )
                print(
                    f"{name:<24} {concurrency:>4} {runs:8.1f} {responses:8.1f} "
                    f"{responses / runs:6.2f} {percentile(run_latencies, 0.5):8.1f} "
                    f"{percentile(response_latencies, 0.5):9.1f}"
                )
        print()
        print(
            f"{'streamed, first event':<24} {'conc':>4} {'run p50':>8} {'run p95':>8} "
            f"{'resp p50':>9} {'resp p95':>9}"
        )
        for concurrency in (1, 8):
            _, runs = measure(first_run_event(plain_bot.id), client, options.count, concurrency)
            _, responses = measure(first_response_event, client, options.count, concurrency)
            print(
                f"{'time to first event ms':<24} {concurrency:>4} {percentile(runs, 0.5):8.1f} "
                f"{percentile(runs, 0.95):8.1f} {percentile(responses, 0.5):9.1f} "
                f"{percentile(responses, 0.95):9.1f}"
            )
        server.stop()


if __name__ == "__main__":
    main()
