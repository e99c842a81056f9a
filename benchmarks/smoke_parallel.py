"""Wall time of `assistctl test` for many conversations at several --parallel values, in each
API mode.

Run: python benchmarks/smoke_parallel.py [--conversations 50] [--latency-ms 200]
                                         [--parallel 1 4 8 16] [--api assistants responses]

The quickstart is applied to a fresh embedded local account, then its order-status smoke test
runs as one test with ``repeat`` = --conversations, while every request is delayed by
--latency-ms. In assistants mode a conversation is a function-call round trip over a thread
(thread, message, run, polls, submit_tool_outputs, reply, run steps, thread deletion); in
responses mode over a conversation (conversation, a response with the release, a response
with the function output, conversation deletion). One unmeasured conversation per mode warms
the account up first. Requests are counted by the server (/_admin/stats).

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

from assistctl.accounts import API_MODES, parse_account
from assistctl.apply import execute
from assistctl.backends.connect import connect
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
    parser.add_argument("--api", nargs="+", choices=API_MODES, default=list(API_MODES))
    options = parser.parse_args()

    desired = load([QUICKSTART])
    order = next(t for t in load_smoke_tests([QUICKSTART]) if t.name == "order-status")
    test = replace(order, spec={**order.spec, "repeat": options.conversations})
    warm_up = replace(order, spec={**order.spec, "repeat": 1})
    rows = []
    with tempfile.TemporaryDirectory(prefix="assistctl-bench-") as scratch:
        server = start_in_process(Path(scratch) / "account", config=LocalConfig(admin=True))
        try:
            for mode in options.api:
                backend = connect(
                    parse_account(server.base_url),
                    api=mode,
                    desired=desired,
                    release_dir=str(Path(scratch) / "releases"),
                )
                live = snapshot(backend, desired.owner)
                execute(plan(desired, live), desired, live, backend)
                run_suite(backend, desired, [warm_up])
                admin(server, "POST", "/_admin/faults", {"latency_ms": options.latency_ms})
                serial_mean = overhead = 0.0
                for parallel in options.parallel:
                    admin(server, "POST", "/_admin/stats/reset")
                    started = time.perf_counter()
                    result = run_suite(backend, desired, [test], parallel=parallel)
                    wall = time.perf_counter() - started
                    stats = admin(server, "GET", "/_admin/stats")["requests"]
                    (outcome,) = result.tests
                    problem = outcome.attempts[0].first_problem
                    assert outcome.passes == options.conversations, problem
                    mean = sum(a.duration_s for a in outcome.attempts) / len(outcome.attempts)
                    if not serial_mean:
                        serial_mean = mean
                        overhead = wall - sum(a.duration_s for a in outcome.attempts)
                    ideal = overhead + math.ceil(options.conversations / parallel) * serial_mean
                    rows.append((mode, parallel, sum(stats.values()), wall, ideal, mean))
                admin(server, "DELETE", "/_admin/faults")
        finally:
            server.stop()

    print(
        f"{options.conversations} conversations (order-status), "
        f"{options.latency_ms} ms injected latency per request"
    )
    print(
        f"{'api':>10}  {'parallel':>8}  {'requests':>8}  {'wall s':>7}  {'ideal s':>7}  "
        f"{'wall/ideal':>10}  {'conv s':>6}"
    )
    for mode, parallel, requests, wall, ideal, mean in rows:
        print(
            f"{mode:>10}  {parallel:>8}  {requests:>8}  {wall:>7.2f}  {ideal:>7.2f}  "
            f"{wall / ideal:>10.2f}  {mean:>6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
