"""Wall time of `assistctl test` for many conversations at several --parallel values.

Run: python benchmarks/smoke_parallel.py [--conversations 50] [--latency-ms 200]
                                         [--parallel 1 4 8 16]

The quickstart is applied to a fresh embedded local account, then its order-status smoke test
(a function-call round trip: thread, message, run, polls, submit_tool_outputs, reply, run steps,
thread deletion) runs as one test with ``repeat`` = --conversations, while every request is
delayed by --latency-ms. Requests are counted by the server (/_admin/stats).

``ideal`` is perfect overlap of the serial run: ⌈conversations ÷ parallel⌉ × the mean
conversation time measured at --parallel 1 (plus the same one-off account snapshot).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import urllib.request
import warnings
from dataclasses import replace
from pathlib import Path

import openai

from assistctl.apply import execute
from assistctl.backends.assistants import AssistantsBackend
from assistctl.live import snapshot
from assistctl.local import LocalConfig, start_in_process
from assistctl.manifest import load, load_smoke_tests
from assistctl.plan import plan
from assistctl.smoketest.runner import run_suite

warnings.filterwarnings("ignore", category=DeprecationWarning)  # the SDK flags the Assistants API

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart"


def admin(server, method: str, path: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.root_url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if server.api_key:
        request.add_header("Authorization", f"Bearer {server.api_key}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4, 8, 16])
    options = parser.parse_args()

    desired = load([QUICKSTART])
    order = next(t for t in load_smoke_tests([QUICKSTART]) if t.name == "order-status")
    test = replace(order, spec={**order.spec, "repeat": options.conversations})
    rows = []
    serial_mean = None
    with tempfile.TemporaryDirectory(prefix="assistctl-bench-") as scratch:
        server = start_in_process(Path(scratch) / "account", config=LocalConfig(admin=True))
        client = openai.OpenAI(
            api_key=server.api_key or "bench", base_url=server.base_url, max_retries=0
        )
        try:
            live = snapshot(AssistantsBackend(client), desired.owner)
            execute(plan(desired, live), desired, live, AssistantsBackend(client))
            admin(server, "POST", "/_admin/faults", {"latency_ms": options.latency_ms})
            for parallel in options.parallel:
                admin(server, "POST", "/_admin/stats/reset")
                started = time.perf_counter()
                result = run_suite(AssistantsBackend(client), desired, [test], parallel=parallel)
                wall = time.perf_counter() - started
                stats = admin(server, "GET", "/_admin/stats")["requests"]
                (outcome,) = result.tests
                assert outcome.passes == options.conversations, outcome.attempts[0].first_problem
                mean = sum(a.duration_s for a in outcome.attempts) / len(outcome.attempts)
                if serial_mean is None:
                    serial_mean = mean
                    overhead = wall - sum(a.duration_s for a in outcome.attempts)
                ideal = overhead + math.ceil(options.conversations / parallel) * serial_mean
                rows.append((parallel, sum(stats.values()), wall, ideal, mean))
        finally:
            server.stop()

    print(
        f"{options.conversations} conversations (order-status), "
        f"{options.latency_ms} ms injected latency per request"
    )
    print(
        f"{'parallel':>8}  {'requests':>8}  {'wall s':>7}  {'ideal s':>7}  "
        f"{'wall/ideal':>10}  {'conv s':>6}"
    )
    for parallel, requests, wall, ideal, mean in rows:
        print(
            f"{parallel:>8}  {requests:>8}  {wall:>7.2f}  {ideal:>7.2f}  "
            f"{wall / ideal:>10.2f}  {mean:>6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
