"""Requests and wall time of the account snapshot behind `plan`, against the minimum and a
per-resource-retrieve baseline.

Run: python benchmarks/plan_requests.py [--assistants 300] [--stores 50] [--files 1000]
                                        [--latency-ms 50] [--skip-baseline]

A generated stack (assistants using vector stores, files attached to the stores with their
assistctl attributes, uploads named the assistctl way) is created on a fresh embedded local
account; then every request is delayed by --latency-ms and each approach reads the account.
Requests are counted by the server itself (/_admin/stats), not by the client.

- minimum: one page per 100 assistants and vector stores, one files page (up to 10,000), and
  one file list per vector store (each store holds <= 100 files).
- per-resource retrieve: what a naive reader does: list the ids, then GET every assistant,
  vector store, vector-store file and file one by one (same thread count as the snapshot).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

from assistctl.backends.assistants import AssistantsBackend
from assistctl.kinds.assistant import AssistantKind
from assistctl.kinds.vector_store import VectorStoreKind
from assistctl.live import snapshot
from assistctl.local import LocalConfig, start_in_process
from assistctl.model import (
    NAME_KEY,
    PATH_ATTRIBUTE,
    SHA256_ATTRIBUTE,
    STACK_KEY,
    Desired,
    DesiredFile,
    Location,
    upload_filename,
)
from assistctl.plan import plan

STACK = "bench"
HERE = Location("generated.yaml", 1)
warnings.filterwarnings("ignore", category=DeprecationWarning)  # the SDK flags the Assistants API


class Admin:
    def __init__(self, root_url: str, api_key: str | None) -> None:
        self.root_url, self.api_key = root_url, api_key

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.root_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def total(self) -> int:
        return int(self.request("GET", "/_admin/stats")["total"])

    def reset(self) -> None:
        self.request("POST", "/_admin/stats/reset")


def populate(client: openai.OpenAI, assistants: int, stores: int, files: int) -> Desired:
    """Create the stack in the account and return the Desired state that matches it."""
    desired_files = []
    for index in range(files):
        content = f"Document {index}\n\nPolicy text number {index}.\n".encode()
        digest = hashlib.sha256(content).hexdigest()
        desired_files.append(
            (DesiredFile(f"docs/{index:04}.md", Path("/generated"), digest, len(content)), content)
        )

    def upload(item: tuple[DesiredFile, bytes]) -> str:
        file, content = item
        name = upload_filename(STACK, file.sha256, file.basename)
        return client.files.create(file=(name, content), purpose="assistants").id

    with ThreadPoolExecutor(8) as pool:
        upload_ids = list(pool.map(upload, desired_files))

    per_store = math.ceil(files / stores) if stores else 0
    store_files = [
        list(range(s * per_store, min(files, (s + 1) * per_store))) for s in range(stores)
    ]

    def store(index: int) -> str:
        created = client.vector_stores.create(
            name=f"Store {index}", metadata={STACK_KEY: STACK, NAME_KEY: f"store-{index}"}
        )
        members = store_files[index]
        if members:
            client.vector_stores.file_batches.create(
                created.id,
                files=[
                    {
                        "file_id": upload_ids[i],
                        "attributes": {
                            PATH_ATTRIBUTE: desired_files[i][0].path,
                            SHA256_ATTRIBUTE: desired_files[i][0].sha256,
                        },
                    }
                    for i in members
                ],
            )
        return created.id

    with ThreadPoolExecutor(8) as pool:
        store_ids = list(pool.map(store, range(stores)))

    def assistant(index: int) -> None:
        resources = {"file_search": {"vector_store_ids": [store_ids[index % stores]]}}
        client.beta.assistants.create(
            model="gpt-4o",
            name=f"Bot {index}",
            instructions=f"You are bot {index}.",
            tools=[{"type": "file_search"}],
            tool_resources=resources if stores else None,
            metadata={STACK_KEY: STACK, NAME_KEY: f"bot-{index}"},
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(assistant, range(assistants)))

    desired_stores = tuple(
        VectorStoreKind().resource(
            f"store-{s}",
            {"name": f"Store {s}"},
            tuple(desired_files[i][0] for i in members),
            HERE,
        )
        for s, members in enumerate(store_files)
    )
    desired_assistants = tuple(
        AssistantKind().resource(
            f"bot-{index}",
            {
                "name": f"Bot {index}",
                "model": "gpt-4o",
                "instructions": f"You are bot {index}.",
                "tools": [{"type": "file_search"}],
                "tool_resources": {"file_search": {"vector_stores": [f"store-{index % stores}"]}}
                if stores
                else {},
            },
            (),
            HERE,
        )
        for index in range(assistants)
    )
    return Desired(STACK, None, Path("."), (*desired_stores, *desired_assistants))


def per_resource_baseline(client: openai.OpenAI, concurrency: int) -> None:
    """List ids, then retrieve every resource on its own."""
    assistants = [a.id for a in client.beta.assistants.list(limit=100)]
    stores = [v.id for v in client.vector_stores.list(limit=100)]
    uploads = [f.id for f in client.files.list(purpose="assistants")]
    with ThreadPoolExecutor(concurrency) as pool:
        attached = list(
            pool.map(
                lambda store_id: [
                    (store_id, f.id) for f in client.vector_stores.files.list(store_id, limit=100)
                ],
                stores,
            )
        )
        jobs = [pool.submit(client.beta.assistants.retrieve, i) for i in assistants]
        jobs += [pool.submit(client.vector_stores.retrieve, i) for i in stores]
        jobs += [pool.submit(client.files.retrieve, i) for i in uploads]
        jobs += [
            pool.submit(client.vector_stores.files.retrieve, file_id, vector_store_id=store_id)
            for pairs in attached
            for store_id, file_id in pairs
        ]
        for job in jobs:
            job.result()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assistants", type=int, default=300)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-baseline", action="store_true", help="do not run the baseline")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        server = start_in_process(Path(directory) / "account", config=LocalConfig(admin=True))
        try:
            client = openai.OpenAI(
                api_key=server.api_key or "bench", base_url=server.base_url, max_retries=0
            )
            admin = Admin(server.root_url, server.api_key)
            started = time.perf_counter()
            desired = populate(client, args.assistants, args.stores, args.files)
            print(
                f"generated {args.assistants} assistants, {args.stores} vector stores, "
                f"{args.files} files in {time.perf_counter() - started:.1f}s; "
                f"now every request waits {args.latency_ms} ms",
                file=sys.stderr,
            )
            admin.request("POST", "/_admin/faults", {"latency_ms": args.latency_ms})
            rows = measure(client, admin, desired, args)
        finally:
            server.stop()

    minimum = (
        math.ceil(args.assistants / 100)
        + math.ceil(args.stores / 100)
        + max(1, math.ceil(args.files / 10_000))
        + args.stores
    )
    print(
        f"plan snapshot: {args.assistants} assistants + {args.stores} vector stores + "
        f"{args.files} files, {args.latency_ms} ms latency per request"
    )
    print(f"{'reader':<42}  {'requests':>8}  {'x minimum':>9}  {'wall s':>7}")
    print(f"{'minimum (list pages only)':<42}  {minimum:>8}  {1:>9.2f}  {'-':>7}")
    for label, requests, seconds in rows:
        ratio = f"{requests / minimum:.2f}" if requests else "-"
        print(f"{label:<42}  {requests:>8}  {ratio:>9}  {seconds:>7.2f}")
    return 0


def measure(client, admin: Admin, desired: Desired, args) -> list[tuple[str, int, float]]:
    rows = []
    live = None
    for concurrency in sorted({1, args.concurrency}, reverse=True):
        admin.reset()
        started = time.perf_counter()
        live = snapshot(AssistantsBackend(client), STACK, concurrency=concurrency)
        rows.append(
            (
                f"assistctl snapshot (concurrency {concurrency})",
                admin.total(),
                time.perf_counter() - started,
            )
        )
    started = time.perf_counter()
    result = plan(desired, live)
    pending = len(result.pending)
    rows.append((f"plan() on that snapshot ({pending} changes)", 0, time.perf_counter() - started))
    if not args.skip_baseline:
        admin.reset()
        started = time.perf_counter()
        per_resource_baseline(client, args.concurrency)
        rows.append(
            (
                f"per-resource retrieve ({args.concurrency} threads)",
                admin.total(),
                time.perf_counter() - started,
            )
        )
    return rows


if __name__ == "__main__":
    sys.exit(main())
