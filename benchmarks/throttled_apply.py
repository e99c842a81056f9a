"""`apply` against an account that throttles: does it finish, how long, how many requests
(issue 14, item 2).

Run: python benchmarks/throttled_apply.py [--assistants 100] [--rate-limit 30]
                                          [--concurrency 8] [--repeat 3] [--baseline DIR]

`assistctl local serve` runs as its own process (as a team's shared test account would) and
answers 429 with ``retry-after-ms`` beyond --rate-limit requests a second. A generated stack of
N assistants is applied by the CLI in a subprocess with --concurrency workers: first without
throttling (the floor: start-up and the requests themselves), then throttled. --baseline names
a checkout of an older assistctl whose CLI is run the same way against the same server
(``git worktree add /tmp/old a734be2~1`` is the tree before throttling was fixed). Each run
applies a fresh stack (another owner); the median run by wall time is shown. Requests are
counted by the server itself; "owned after" lists the account, so duplicates would show.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai
from apply_latency import write_stack  # benchmarks/apply_latency.py: the same generated stack

ROOT = Path(__file__).resolve().parent.parent
ENTRY = "from assistctl.cli import main; main()"

warnings.filterwarnings("ignore", category=DeprecationWarning)  # the SDK flags the Assistants API


@contextmanager
def local_account(data: Path, rate_limit: float | None) -> Iterator[str]:
    """``local serve`` on a free port; yields its base URL (``.../v1``)."""
    command = [sys.executable, "-c", ENTRY, "local", "serve", "--port", "0", "--admin"]
    command += ["--data", str(data)]
    if rate_limit:
        command += ["--rate-limit", f"{rate_limit:g}"]
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    environment.pop("OPENAI_API_KEY", None)
    server = subprocess.Popen(
        command,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=data.parent,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        if not base_url.startswith("http"):
            sys.exit(f"local serve did not start (exit {server.wait()})")
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


def request_count(base_url: str, reset: bool = False) -> int:
    root_url = base_url.removesuffix("/v1")
    path = "/_admin/stats/reset" if reset else "/_admin/stats"
    request = urllib.request.Request(root_url + path, method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read() or b"null")
    return int(body.get("total", 0)) if isinstance(body, dict) else 0


def apply_once(
    base_url: str, directory: Path, checkout: Path, concurrency: int
) -> tuple[int, float, int, int, str]:
    """(exit code, wall seconds, requests, assistants owned afterwards, last error line)."""
    environment = dict(os.environ, PYTHONPATH=str(checkout), OPENAI_API_KEY="bench", NO_COLOR="1")
    command = [sys.executable, "-c", ENTRY, "--account", base_url, "apply", "--yes"]
    command += ["--concurrency", str(concurrency), str(directory)]
    request_count(base_url, reset=True)
    started = time.perf_counter()
    # cwd: ``python -c`` puts the working directory first on sys.path, before PYTHONPATH.
    done = subprocess.run(
        command, env=environment, capture_output=True, text=True, cwd=directory.parent
    )
    wall = time.perf_counter() - started
    requests = request_count(base_url)
    client = openai.OpenAI(api_key="bench", base_url=base_url)
    prefix = f"{directory.name} bot "
    owned = sum(
        1
        for assistant in client.beta.assistants.list(limit=100)
        if (assistant.name or "").startswith(prefix)
    )
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    return done.returncode, wall, requests, owned, errors[-1] if errors else done.stderr[-300:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assistants", type=int, default=100)
    parser.add_argument("--rate-limit", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (median shown)")
    parser.add_argument("--baseline", type=Path, help="checkout of an older assistctl")
    options = parser.parse_args()

    runs: list[tuple[str, Path, float | None]] = [
        ("this checkout", ROOT, None),
        ("this checkout", ROOT, options.rate_limit),
    ]
    if options.baseline is not None:
        runs.append(
            (f"baseline {options.baseline}", options.baseline.resolve(), options.rate_limit)
        )
    rows = []
    with tempfile.TemporaryDirectory(prefix="assistctl-bench-") as scratch:
        root = Path(scratch)
        for number, (label, checkout, rate) in enumerate(runs):
            with local_account(root / f"account-{number}", rate) as base_url:
                results = [
                    apply_once(
                        base_url,
                        write_stack(
                            root / f"s{number}-{repeat}", f"s{number}-{repeat}", options.assistants
                        ),
                        checkout,
                        options.concurrency,
                    )
                    for repeat in range(options.repeat)
                ]
            middle = sorted(results, key=lambda result: result[1])[len(results) // 2]
            failed = sum(1 for result in results if result[0] != 0)
            failure = next((result[4] for result in results if result[0] != 0), "")
            rows.append((label, f"{rate:g}/s" if rate else "none", failed, *middle[1:4], failure))

    print(
        f"apply of {options.assistants} assistants, --concurrency {options.concurrency}, "
        f"{options.repeat} runs per row (a fresh stack each; the median run shown)"
    )
    width = max(len(row[0]) for row in rows)
    print(
        f"{'client':<{width}}  {'throttle':>8}  {'failed':>6}  {'wall s':>7}  {'requests':>8}  "
        f"{'owned after':>11}"
    )
    for label, rate, failed, wall, requests, owned, _ in rows:
        print(
            f"{label:<{width}}  {rate:>8}  {failed:>4}/{options.repeat}  {wall:>7.1f}  "
            f"{requests:>8}  {owned:>11}"
        )
    for label, _, failed, _, _, _, failure in rows:
        if failed:
            print(f"\n{label}: {failure}")
    return 0 if not any(row[2] for row in rows[:2]) else 1


if __name__ == "__main__":
    sys.exit(main())
