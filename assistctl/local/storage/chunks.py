"""The search index: the chunks of the files attached to vector stores, in the database's own
full-text index (SQLite FTS5 with the porter stemmer, ranked by ``bm25()``).

Chunking is the domain's; a file's chunks are indexed once when it is attached and removed
when it is detached. A search is one query: the question's terms matched as alternatives
(``a OR b OR c``, stop words left out, so a natural-language question finds the passages that
share its words), limited to the completed files of the searched stores whose attributes
pass the API's filters, scored, cut at ``score_threshold`` and at ``max_results``. Scores are
``-bm25`` squashed into 0..1 as ``s / (s + 1)``; equal scores rank by file, then position.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistctl.local.storage.database import Database
from assistctl.local.storage.scope import current_project
from assistctl.local.storage.tables import ATTACHMENT_STATUS

TERM = re.compile(r"\w+")
MAX_QUERY_TERMS = 64
# Words too common to say what a question is about (English; the index stems, these do not
# need to be stems).
# fmt: off
STOP_WORDS = frozenset((
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
    "me", "more", "most", "my", "myself", "no", "nor", "not", "of", "off", "on", "once", "only",
    "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then",
    "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up",
    "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why",
    "will", "with", "would", "you", "your", "yours", "yourself", "yourselves"
))
# fmt: on


@dataclass(frozen=True)
class IndexedChunk:
    file_id: str
    vector_store_id: str
    position: int
    text: str
    score: float
    attachment: dict[str, Any]


def match_expression(query: str) -> str | None:
    """The FTS5 query for a natural-language question: its distinct terms, stop words left
    out, as quoted alternatives (None: nothing to search for)."""
    terms: list[str] = []
    for term in (t.lower() for t in TERM.findall(query)):
        if term not in STOP_WORDS and term not in terms:
            terms.append(term)
    if not terms:
        terms = list(dict.fromkeys(t.lower() for t in TERM.findall(query)))
    if not terms:
        return None
    return " OR ".join(f'"{term}"' for term in terms[:MAX_QUERY_TERMS])


def attribute_condition(condition: dict[str, Any] | None) -> tuple[str, list[Any]]:
    """The API's attribute filter (``eq ne gt gte lt lte in nin``, ``and``/``or``) as an SQL
    condition on the attachment's ``data``. A comparison of a value of another type (or of a
    missing one) is false, ``ne``/``nin`` of a missing value true."""
    if not condition:
        return "1 = 1", []
    kind = condition.get("type")
    if kind in ("and", "or"):
        parts = [attribute_condition(f) for f in condition.get("filters", [])]
        if not parts:
            return ("1 = 1" if kind == "and" else "1 = 0"), []
        joined = f" {kind.upper()} ".join(f"({sql})" for sql, _ in parts)
        return f"({joined})", [p for _, parameters in parts for p in parameters]
    path = "$.attributes." + json.dumps(str(condition.get("key")))
    value = condition.get("value")
    actual = "json_extract(data, ?)"
    if kind in ("in", "nin"):
        values = [_sql_value(v) for v in value] if isinstance(value, list) else []
        if kind == "in" and not values:
            return "1 = 0", []
        if not values:
            return "1 = 1", []
        marks = ", ".join("?" * len(values))
        if kind == "in":
            return f"{actual} IN ({marks})", [path, *values]
        return f"({actual} IS NULL OR {actual} NOT IN ({marks}))", [path, path, *values]
    if kind == "eq":
        return f"{actual} = ?", [path, _sql_value(value)]
    if kind == "ne":
        return f"({actual} IS NULL OR {actual} <> ?)", [path, path, _sql_value(value)]
    operator = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}.get(str(kind))
    if operator is None:
        return "1 = 0", []
    return (
        f"(json_type(data, ?) IN ({_json_types(value)}) AND {actual} {operator} ?)",
        [path, path, _sql_value(value)],
    )


def _sql_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _json_types(value: Any) -> str:
    """The JSON types comparable with ``value`` (booleans only with booleans)."""
    if isinstance(value, bool):
        return "'true', 'false'"
    if isinstance(value, int | float):
        return "'integer', 'real'"
    return "'text'"


class ChunkIndex:
    def __init__(self, database: Database) -> None:
        self._database = database

    def index_file(self, vector_store_id: str, file_id: str, chunks: Sequence[str]) -> None:
        """Make ``chunks`` the file's chunks in this vector store (replacing any it had)."""
        with self._database.transaction():
            self.remove(vector_store_id, file_id)
            self._database.write_many(
                "INSERT INTO chunk_rows (text, vector_store_id, file_id, position) "
                "VALUES (?, ?, ?, ?)",
                [(text, vector_store_id, file_id, i) for i, text in enumerate(chunks)],
            )

    def remove(self, vector_store_id: str, file_id: str) -> None:
        """Drop one file's chunks from one vector store."""
        self._database.write(
            "DELETE FROM chunk_rows WHERE vector_store_id = ? AND file_id = ?",
            (vector_store_id, file_id),
        )

    def remove_store(self, vector_store_id: str) -> None:
        self._database.write("DELETE FROM chunk_rows WHERE vector_store_id = ?", (vector_store_id,))

    def remove_file_everywhere(self, file_id: str) -> None:
        self._database.write("DELETE FROM chunk_rows WHERE file_id = ?", (file_id,))

    def search(
        self,
        vector_store_ids: Sequence[str],
        query: str,
        max_results: int,
        *,
        filters: dict[str, Any] | None = None,
        score_threshold: float = 0.0,
        moment: float,
    ) -> list[IndexedChunk]:
        """The best chunks of the files of ``vector_store_ids`` completed at ``moment``."""
        expression = match_expression(query)
        if expression is None or not vector_store_ids:
            return []
        stores = ", ".join("?" * len(vector_store_ids))
        attributes, attribute_parameters = attribute_condition(filters)
        rows = self._database.read(
            "SELECT file_id, vector_store_id, position, text, score, data FROM ("
            "  SELECT c.file_id, c.vector_store_id, c.position, c.text, a.data,"
            "         -bm25(chunk_text) AS score"
            "  FROM chunk_text JOIN chunk_rows AS c ON c.id = chunk_text.rowid"
            "  JOIN vector_store_files AS a"
            "    ON a.vector_store_id = c.vector_store_id AND a.id = c.file_id"
            f"  WHERE chunk_text MATCH ? AND c.vector_store_id IN ({stores})"
            f"    AND a.project = ? AND {ATTACHMENT_STATUS} = 'completed' AND ({attributes})"
            ") WHERE score > 0 AND round(score / (score + 1), 6) >= ?"
            " ORDER BY score DESC, file_id, position LIMIT ?",
            (
                expression,
                *vector_store_ids,
                current_project(),
                moment,
                *attribute_parameters,
                score_threshold,
                max_results,
            ),
        )
        return [
            IndexedChunk(
                file_id,
                vector_store_id,
                position,
                text,
                round(score / (score + 1), 6),
                json.loads(data),
            )
            for file_id, vector_store_id, position, text, score, data in rows
        ]
