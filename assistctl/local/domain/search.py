"""Chunking of vector-store files and the hits a search answers (the ranking itself runs in
the database's full-text index, see ``storage.chunks``).

A file attached to a vector store is split into chunks of ``max_chunk_size_tokens`` words
with ``chunk_overlap_tokens`` words of overlap (tokens are approximated as whitespace-
separated words; ``auto`` = 800 / 400 like the API). Chunks keep the file's original text
between their first and last word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

AUTO_MAX_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class SearchHit:
    file_id: str
    filename: str
    text: str
    score: float
    attributes: dict[str, Any] = field(default_factory=dict)


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
