"""Writes ``account-87531ff.sqlite3``: a local account as the release at commit 87531ff (before
schema versions) stores it, for the migration tests. Run with that release's code on the
path: ``git archive 87531ff | tar -x -C /tmp/old && PYTHONPATH=/tmp/old python
tests/data/release_database.py OUT_DIR``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import openai

from assistctl.local import LocalConfig, start_in_process


def main(out: Path) -> None:
    with start_in_process(out, config=LocalConfig()) as server:
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        policy = client.files.create(
            file=("returns.md", b"Items can be returned within 30 days of delivery for a refund."),
            purpose="assistants",
        )
        client.files.create(file=("batch.jsonl", b"{}\n"), purpose="batch")
        store = client.vector_stores.create(name="policies", file_ids=[policy.id])
        while client.vector_stores.retrieve(store.id).file_counts.completed != 1:
            time.sleep(0.05)
        client.vector_stores.files.update(
            file_id=policy.id, vector_store_id=store.id, attributes={"year": 2024}
        )
        assistant = client.beta.assistants.create(
            model="gpt-4o",
            name="support",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
        client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
        )
        client.beta.threads.messages.create(thread.id, role="user", content="How long to return?")
        upload = client.uploads.create(
            filename="big.txt", bytes=5, mime_type="text/plain", purpose="assistants"
        )
        client.uploads.parts.create(upload.id, data=b"hello")
        conversation = client.conversations.create(
            items=[{"type": "message", "role": "user", "content": "hi"}]
        )
        client.responses.create(model="gpt-4o", input="Hello there", conversation=conversation.id)
        client.responses.create(model="gpt-4o", input="standalone", store=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
