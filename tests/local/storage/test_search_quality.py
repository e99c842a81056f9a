"""Search quality on a labelled set of questions (tests/data/search_queries.json): the share
whose best hit is the expected file (precision@1). The ranker before the full-text index
(BM25 in Python over re-tokenised chunks, no stemming, no stop words) scored 0.87 on this set
(measured with this test at commit 87531ff); the index must do better on each engine, and does:
0.97 on SQLite (FTS5, bm25) and on PostgreSQL (tsvector, ts_rank)."""

from __future__ import annotations

import json
import time
from pathlib import Path

LABELLED = Path(__file__).parents[2] / "data" / "search_queries.json"
BEFORE = 0.87


def test_precision_at_1_on_the_labelled_questions(client):
    labelled = json.loads(LABELLED.read_text())
    file_ids = [
        client.files.create(file=(name, text.encode()), purpose="assistants").id
        for name, text in labelled["documents"].items()
    ]
    store = client.vector_stores.create(name="quality", file_ids=file_ids)
    while client.vector_stores.retrieve(store.id).file_counts.completed != len(file_ids):
        time.sleep(0.02)
    misses = []
    for question, expected in labelled["queries"]:
        hits = client.vector_stores.search(store.id, query=question, max_num_results=1).data
        if not hits or hits[0].filename != expected:
            misses.append((question, expected, hits[0].filename if hits else None))
    precision = 1 - len(misses) / len(labelled["queries"])
    assert precision > BEFORE, misses
