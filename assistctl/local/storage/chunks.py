"""The search index: the chunks of the files attached to vector stores, in the database's own
full-text index (SQLite FTS5, or PostgreSQL's text search).

Chunking is the domain's; a file's chunks are indexed once when it is attached and removed
when it is detached. A search is one query: the question's terms matched as alternatives
(``a OR b OR c``, stop words left out, so a natural-language question finds the passages that
share its words), limited to the completed files of the searched stores whose attributes
pass the API's filters, scored, cut at ``score_threshold`` and at ``max_results``.

SQLite: an FTS5 index (porter stemmer), scores ``-bm25``. PostgreSQL: a ``tsvector`` column
('english': stemmed, stop words out) with a GIN index, scores ``ts_rank`` (no length
normalisation: it ranked the labelled questions best, 0.97 against 0.93 with it). Either score
is squashed into 0..1 as ``s / (s + 1)``; equal scores rank by file, then position.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistctl.local.storage.database import Database, Dialect
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


def query_terms(query: str) -> list[str]:
    """A natural-language question's distinct terms, stop words left out (all of them if
    nothing else is left)."""
    terms: list[str] = []
    for term in (t.lower() for t in TERM.findall(query)):
        if term not in STOP_WORDS and term not in terms:
            terms.append(term)
    if not terms:
        terms = list(dict.fromkeys(t.lower() for t in TERM.findall(query)))
    return terms[:MAX_QUERY_TERMS]


def match_expression(query: str) -> str | None:
    """The FTS5 query for a natural-language question: its terms as quoted alternatives
    (None: nothing to search for)."""
    terms = query_terms(query)
    return " OR ".join(f'"{term}"' for term in terms) if terms else None


def web_search_expression(query: str) -> str | None:
    """The same alternatives for PostgreSQL's ``websearch_to_tsquery`` (which never fails to
    parse; terms are words, so none is read as an operator but ``or``, itself a stop word)."""
    terms = query_terms(query)
    return " or ".join(terms) if terms else None


# The stored JSON as jsonb, which cannot hold the escape of a NUL (read as U+FFFD here).
POSTGRES_JSONB = "replace(data, '\\u0000', '\\ufffd')::jsonb"


@dataclass(frozen=True)
class JsonAccess:
    """How one engine reads an attribute out of an attachment's JSON ``data`` and compares it.
    ``value``: the SQL of the attribute (parameters: the key); ``literal``: the SQL of a
    value to compare it with; ``typed``: the SQL that the attribute has one of ``types``."""

    value: str
    key: Any
    literal: str
    typed: str

    def parameter(self, value: Any) -> Any:
        if self.literal == "?::jsonb":
            return json.dumps(value).replace("\\u0000", "\\ufffd")
        return _sql_value(value)

    def types(self, value: Any) -> str:
        """The JSON types comparable with ``value`` (booleans only with booleans)."""
        sqlite = self.literal == "?"
        if isinstance(value, bool):
            return "'true', 'false'" if sqlite else "'boolean'"
        if isinstance(value, int | float):
            return "'integer', 'real'" if sqlite else "'number'"
        return "'text'" if sqlite else "'string'"


def json_access(dialect: Dialect, key: str) -> JsonAccess:
    if dialect == "postgresql":
        return JsonAccess(
            f"({POSTGRES_JSONB} -> 'attributes' -> ?::text)",
            key,
            "?::jsonb",
            f"jsonb_typeof({POSTGRES_JSONB} -> 'attributes' -> ?::text)",
        )
    path = "$.attributes." + json.dumps(key)
    return JsonAccess("json_extract(data, ?)", path, "?", "json_type(data, ?)")


def attribute_condition(
    condition: dict[str, Any] | None, dialect: Dialect = "sqlite"
) -> tuple[str, list[Any]]:
    """The API's attribute filter (``eq ne gt gte lt lte in nin``, ``and``/``or``) as an SQL
    condition on the attachment's ``data``. A comparison of a value of another type (or of a
    missing one) is false, ``ne``/``nin`` of a missing value true."""
    if not condition:
        return "1 = 1", []
    kind = condition.get("type")
    if kind in ("and", "or"):
        parts = [attribute_condition(f, dialect) for f in condition.get("filters", [])]
        if not parts:
            return ("1 = 1" if kind == "and" else "1 = 0"), []
        joined = f" {kind.upper()} ".join(f"({sql})" for sql, _ in parts)
        return f"({joined})", [p for _, parameters in parts for p in parameters]
    access = json_access(dialect, str(condition.get("key")))
    actual, key = access.value, access.key
    value = condition.get("value")
    if kind in ("in", "nin"):
        values = [access.parameter(v) for v in value] if isinstance(value, list) else []
        if kind == "in" and not values:
            return "1 = 0", []
        if not values:
            return "1 = 1", []
        marks = ", ".join([access.literal] * len(values))
        if kind == "in":
            return f"{actual} IN ({marks})", [key, *values]
        return f"({actual} IS NULL OR {actual} NOT IN ({marks}))", [key, key, *values]
    if kind == "eq":
        return f"{actual} = {access.literal}", [key, access.parameter(value)]
    if kind == "ne":
        return (
            f"({actual} IS NULL OR {actual} <> {access.literal})",
            [key, key, access.parameter(value)],
        )
    operator = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}.get(str(kind))
    if operator is None:
        return "1 = 0", []
    return (
        f"({access.typed} IN ({access.types(value)}) AND {actual} {operator} {access.literal})",
        [key, key, access.parameter(value)],
    )


def _sql_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


# The search, one query per engine: ``{stores}`` the searched stores' placeholders,
# ``{status}`` the attachment's status at a moment, ``{attributes}`` the attribute filter.
SQLITE_SEARCH = (
    "SELECT file_id, vector_store_id, position, text, score, data FROM ("
    "  SELECT c.file_id, c.vector_store_id, c.position, c.text, a.data,"
    "         -bm25(chunk_text) AS score"
    "  FROM chunk_text JOIN chunk_rows AS c ON c.id = chunk_text.rowid"
    "  JOIN vector_store_files AS a"
    "    ON a.vector_store_id = c.vector_store_id AND a.id = c.file_id"
    "  WHERE chunk_text MATCH ? AND c.vector_store_id IN ({stores})"
    "    AND a.project = ? AND {status} = 'completed' AND ({attributes})"
    ") WHERE score > 0 AND round(score / (score + 1), 6) >= ?"
    " ORDER BY score DESC, file_id, position LIMIT ?"
)
POSTGRES_SEARCH = (
    "SELECT file_id, vector_store_id, position, text, score, data FROM ("
    "  SELECT c.file_id, c.vector_store_id, c.position, c.text, a.data,"
    "         ts_rank(c.terms, q.query)::float8 AS score"
    "  FROM (SELECT websearch_to_tsquery('english', ?) AS query) AS q,"
    "  chunk_rows AS c JOIN vector_store_files AS a"
    "    ON a.vector_store_id = c.vector_store_id AND a.id = c.file_id"
    "  WHERE c.terms @@ q.query AND c.vector_store_id IN ({stores})"
    "    AND a.project = ? AND {status} = 'completed' AND ({attributes})"
    ") AS found WHERE score > 0 AND round((score / (score + 1))::numeric, 6) >= ?"
    ' ORDER BY score DESC, file_id COLLATE "C", position LIMIT ?'
)


class ChunkIndex:
    def __init__(self, database: Database) -> None:
        self._database = database

    def index_file(self, vector_store_id: str, file_id: str, chunks: Sequence[str]) -> None:
        """Make ``chunks`` the file's chunks in this vector store (replacing any it had)."""
        if self._database.dialect == "postgresql":  # its text cannot hold NUL: a separator
            chunks = [text.replace("\x00", " ") for text in chunks]
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
        dialect = self._database.dialect
        expression = (
            web_search_expression(query) if dialect == "postgresql" else match_expression(query)
        )
        if expression is None or not vector_store_ids:
            return []
        stores = ", ".join("?" * len(vector_store_ids))
        attributes, attribute_parameters = attribute_condition(filters, dialect)
        rows = self._database.read(
            (POSTGRES_SEARCH if dialect == "postgresql" else SQLITE_SEARCH).format(
                stores=stores, status=ATTACHMENT_STATUS, attributes=attributes
            ),
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
