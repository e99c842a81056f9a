"""Wall time of `apply` against the latency bound, for several --concurrency values; and
attaching many files to a vector store, one request per file against file batches.

Run: python benchmarks/apply_latency.py [--assistants 100] [--latency-ms 100]
                                        [--concurrency 1 4 8 16]
                                        [--files 1000] [--attach-latency-ms 50]

A generated stack of N assistants (written as manifests and loaded like any stack) is applied to
a fresh embedded local account whose every request is delayed by --latency-ms. Each
concurrency level applies its own copy of the stack (another owner), so each run creates all N.
Only the executor is timed (the snapshot and plan before it are not); requests are counted by the
server itself (/_admin/stats). The bound is what perfect overlap would give:
requests ÷ concurrency × latency.

The second table attaches --files small files (uploaded beforehand, untimed) to a new store at
--attach-latency-ms: "per file" is what apply did before file batches (one attach request each,
--concurrency 8 at a time, then the indexing poll), "file batches" is apply itself (store
create, batches, indexing poll). Both count every request from the store's create on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

from assistctl.apply import DEFAULT_CONCURRENCY, execute
from assistctl.backends.assistants import AssistantsBackend
from assistctl.live import snapshot
from assistctl.local import LocalConfig, start_in_process
from assistctl.manifest import load
from assistctl.model import PATH_ATTRIBUTE, SHA256_ATTRIBUTE, upload_filename
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


def write_store_stack(directory: Path, stack: str, files: int) -> Path:
    (directory / "docs").mkdir(parents=True)
    (directory / "stack.yaml").write_text(
        f"apiVersion: assistctl/v1\nkind: Stack\nmetadata: {{name: {stack}}}\n"
    )
    (directory / "store.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: VectorStore\nmetadata: {name: docs}\n"
        f"spec:\n  name: {stack} docs\n  files: [docs/*.md]\n"
    )
    for index in range(files):
        (directory / "docs" / f"doc-{index:04d}.md").write_text(f"# Doc {index}\n\nFact {index}.\n")
    return directory


def attach_rows(server, client, root: Path, files: int, latency_ms: int) -> list[tuple]:
    """(way, requests, wall) for attaching ``files`` files one by one and in file batches."""

    def call(method: str, path: str, body=None):
        return admin(server.root_url, server.api_key, method, path, body)

    desired = load([write_store_stack(root / "attach", "attach", files)])
    call("DELETE", "/_admin/faults")
    upload_ids = {}
    for desired_file in desired.files:
        name = upload_filename(desired.owner, desired_file.sha256, desired_file.basename)
        content = desired_file.source.read_bytes()
        upload_ids[desired_file] = client.files.create(
            file=(name, content), purpose="assistants"
        ).id
    live = snapshot(AssistantsBackend(client), desired.owner)
    the_plan = plan(desired, live)
    call("POST", "/_admin/faults", {"latency_ms": latency_ms})

    call("POST", "/_admin/stats/reset")
    started = time.perf_counter()
    store = client.vector_stores.create(name="per-file")

    def attach_one(desired_file) -> None:
        client.vector_stores.files.create(
            store.id,
            file_id=upload_ids[desired_file],
            attributes={
                SHA256_ATTRIBUTE: desired_file.sha256,
                PATH_ATTRIBUTE: desired_file.path,
            },
        )

    with ThreadPoolExecutor(max_workers=DEFAULT_CONCURRENCY) as pool:
        list(pool.map(attach_one, desired.files))
    for status in ("in_progress", "failed"):
        list(client.vector_stores.files.list(store.id, limit=100, filter=status))
    per_file = time.perf_counter() - started
    per_file_requests = call("GET", "/_admin/stats")["total"]

    call("POST", "/_admin/stats/reset")
    started = time.perf_counter()
    (outcome,) = execute(the_plan, desired, live, AssistantsBackend(client)).outcomes
    batches = time.perf_counter() - started
    batch_requests = call("GET", "/_admin/stats")["total"]
    call("DELETE", "/_admin/faults")
    for store_id in (store.id, outcome.id):
        assert client.vector_stores.retrieve(store_id).file_counts.completed == files
    return [("per file", per_file_requests, per_file), ("file batches", batch_requests, batches)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assistants", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--attach-latency-ms", type=int, default=50)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="assistctl-bench-") as scratch:
        root = Path(scratch)
        server = start_in_process(root / "account", config=LocalConfig(admin=True))
        client = openai.OpenAI(
            api_key=server.api_key or "bench", base_url=server.base_url, max_retries=0
        )
        rows = []
        try:
            for concurrency in options.concurrency:
                stack = f"bench-c{concurrency}"
                desired = load([write_stack(root / stack, stack, options.assistants)])
                admin(server.root_url, server.api_key, "DELETE", "/_admin/faults")
                live = snapshot(AssistantsBackend(client), desired.owner)
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
                result = execute(
                    the_plan, desired, live, AssistantsBackend(client), concurrency=concurrency
                )
                wall = time.perf_counter() - started
                requests = admin(server.root_url, server.api_key, "GET", "/_admin/stats")["total"]
                assert result.counts()["created"] == options.assistants
                bound = requests / concurrency * options.latency_ms / 1000
                rows.append((concurrency, requests, wall, bound))
            attaches = attach_rows(server, client, root, options.files, options.attach_latency_ms)
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
    print()
    print(
        f"attaching {options.files} files to a new vector store, "
        f"{options.attach_latency_ms} ms injected latency per request"
    )
    print(f"{'way':>12}  {'requests':>8}  {'wall s':>7}")
    for way, requests, wall in attaches:
        print(f"{way:>12}  {requests:>8}  {wall:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
