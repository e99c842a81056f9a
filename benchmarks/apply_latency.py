"""Wall time of `apply` against the latency bound, for several --concurrency values.

Run: python benchmarks/apply_latency.py [--assistants 100] [--latency-ms 100]
                                        [--concurrency 1 4 8 16]

A generated stack of N assistants (written as manifests and loaded like any stack) is applied to
a fresh embedded local account whose every request is delayed by --latency-ms. Each
concurrency level applies its own copy of the stack (another owner), so each run creates all N.
Only the executor is timed (the snapshot and plan before it are not); requests are counted by the
server itself (/_admin/stats). The bound is what perfect overlap would give:
requests ÷ concurrency × latency.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

import openai

from assistctl.apply import execute
from assistctl.live import snapshot
from assistctl.local import LocalConfig, start_in_process
from assistctl.manifest import load
from assistctl.plan import plan

warnings.filterwarnings("ignore", category=DeprecationWarning)  # the SDK flags the Assistants API


def admin(root_url: str, api_key: str | None, method: str, path: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(root_url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def write_stack(directory: Path, stack: str, assistants: int) -> Path:
    directory.mkdir(parents=True)
    (directory / "stack.yaml").write_text(
        f"apiVersion: assistctl/v1\nkind: Stack\nmetadata: {{name: {stack}}}\n"
    )
    documents = [
        f"apiVersion: assistctl/v1\nkind: Assistant\nmetadata: {{name: bot-{index:03d}}}\n"
        f"spec:\n  model: gpt-4o-mini\n  name: {stack} bot {index}\n"
        f"  instructions: You are assistant number {index}.\n"
        for index in range(assistants)
    ]
    (directory / "assistants.yaml").write_text("---\n".join(documents))
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assistants", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="assistctl-bench-") as scratch:
        root = Path(scratch)
        server = start_in_process(root / "account", config=LocalConfig())
        client = openai.OpenAI(
            api_key=server.api_key or "bench", base_url=server.base_url, max_retries=0
        )
        rows = []
        try:
            for concurrency in options.concurrency:
                stack = f"bench-c{concurrency}"
                desired = load([write_stack(root / stack, stack, options.assistants)])
                admin(server.root_url, server.api_key, "DELETE", "/_admin/faults")
                live = snapshot(client, desired.owner)
                the_plan = plan(desired, live)
                admin(
                    server.root_url,
                    server.api_key,
                    "POST",
                    "/_admin/faults",
                    {"latency_ms": options.latency_ms},
                )
                admin(server.root_url, server.api_key, "POST", "/_admin/stats/reset")
                started = time.perf_counter()
                result = execute(the_plan, desired, live, client, concurrency=concurrency)
                wall = time.perf_counter() - started
                requests = admin(server.root_url, server.api_key, "GET", "/_admin/stats")["total"]
                assert result.counts()["created"] == options.assistants
                bound = requests / concurrency * options.latency_ms / 1000
                rows.append((concurrency, requests, wall, bound))
        finally:
            server.stop()

    print(
        f"apply of {options.assistants} assistants, {options.latency_ms} ms injected latency "
        "per request"
    )
    print(
        f"{'concurrency':>11}  {'requests':>8}  {'wall s':>7}  {'bound s':>7}  {'wall/bound':>10}"
    )
    for concurrency, requests, wall, bound in rows:
        print(
            f"{concurrency:>11}  {requests:>8}  {wall:>7.2f}  {bound:>7.2f}  {wall / bound:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
