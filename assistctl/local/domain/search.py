"""Chunking and lexical ranking of vector-store files (what the local ``file_search`` does).

A file attached to a vector store is split into chunks of ``max_chunk_size_tokens`` words
with ``chunk_overlap_tokens`` words of overlap (tokens are approximated as whitespace-
separated words; ``auto`` = 800 / 400 like the API). Chunks keep the file's original text
between their first and last word. Queries are ranked with BM25 over the chunks of the
searched vector stores, so results are deterministic and explainable; scores are squashed into
0..1 as ``bm25 / (bm25 + 1)``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

AUTO_MAX_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
BM25_K1 = 1.2
BM25_B = 0.75
WORD = re.compile(r"\S+")
TERM = re.compile(r"\w+")
Key = TypeVar("Key")


@dataclass(frozen=True)
class SearchHit:
    file_id: str
    filename: str
    text: str
    score: float
    attributes: dict[str, Any] = field(default_factory=dict)


def terms(text: str) -> list[str]:
    return [t.lower() for t in TERM.findall(text)]


def chunk_text(text: str, max_tokens: int, overlap_tokens: int) -> list[str]:
    """Overlapping windows of whitespace words, each keeping the original text between them."""
    spans = [m.span() for m in WORD.finditer(text)]
    if not spans:
        return []
    step = max(1, max_tokens - overlap_tokens)
    chunks = []
    for start in range(0, len(spans), step):
        window = spans[start : start + max_tokens]
        chunks.append(text[window[0][0] : window[-1][1]])
        if start + max_tokens >= len(spans):
            break
    return chunks


def matches_filter(attributes: dict[str, Any], condition: dict[str, Any] | None) -> bool:
    """The API's attribute filters: comparison (eq, ne, gt, gte, lt, lte, in, nin) and
    compound (and, or)."""
    if not condition:
        return True
    kind = condition.get("type")
    if kind in ("and", "or"):
        results = (matches_filter(attributes, f) for f in condition.get("filters", []))
        return all(results) if kind == "and" else any(results)
    key: Any = condition.get("key")
    expected = condition.get("value")
    actual = attributes.get(key)
    if kind == "eq":
        return actual == expected
    if kind == "ne":
        return actual != expected
    if kind == "in":
        return isinstance(expected, list) and actual in expected
    if kind == "nin":
        return isinstance(expected, list) and actual not in expected
    if actual is None or isinstance(actual, bool) != isinstance(expected, bool):
        return False
    try:
        if kind == "gt":
            return actual > expected
        if kind == "gte":
            return actual >= expected
        if kind == "lt":
            return actual < expected
        if kind == "lte":
            return actual <= expected
    except TypeError:
        return False
    return False


def rank(
    query: str, chunks: Sequence[tuple[Key, str]], max_results: int
) -> list[tuple[Key, float]]:
    """BM25 over ``(key, text)`` chunks; the best ``max_results`` with a positive score."""
    query_terms = set(terms(query))
    if not query_terms or not chunks:
        return []
    documents = [Counter(terms(text)) for _, text in chunks]
    average_length = sum(sum(d.values()) for d in documents) / len(documents) or 1.0
    frequency = Counter(t for d in documents for t in query_terms if t in d)
    total = len(documents)
    scored = []
    for (key, _), document in zip(chunks, documents, strict=True):
        length = sum(document.values())
        score = 0.0
        for term in query_terms:
            count = document.get(term, 0)
            if not count:
                continue
            idf = math.log(1 + (total - frequency[term] + 0.5) / (frequency[term] + 0.5))
            norm = count + BM25_K1 * (1 - BM25_B + BM25_B * length / average_length)
            score += idf * count * (BM25_K1 + 1) / norm
        if score > 0:
            scored.append((key, round(score / (score + 1), 6)))
    scored.sort(key=lambda item: -item[1])
    return scored[:max_results]
