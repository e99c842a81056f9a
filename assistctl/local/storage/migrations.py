"""The schema's history: an ordered list of SQL migrations; the database records the version it
has reached (``schema_version``) and start-up runs the ones after it, each in its own
transaction with its new version. A database written by an older release is upgraded in
place, its objects moved into the new tables; nothing is ever dropped and recreated empty.

Version 1 is the schema of the releases before versions were recorded (one ``objects`` table
keyed by type and parent); a database without ``schema_version`` but with ``objects`` is at
version 1. Version 2 gives every record type its table with indexed columns (see ``tables``).
Version 3 makes the chunk index a full-text index (FTS5, bm25). Version 4 keeps a message's
role and text in columns (what a run sends its engine). Version 5 adds ``jobs``: the runs and
responses to execute, claimed by replicas with a lease (see ``jobs``).

PostgreSQL databases start at version 3: one migration creates the schema of version 3 with
PostgreSQL's types, file bytes in parts (``file_parts``) and a ``tsvector`` column with a GIN
index for search. Every migration after 3 is written once for both engines, with the type
placeholders ``{seq}`` (the insertion-order key), ``{blob}``, ``{real}`` and
``{data_status}`` (a stored object's ``status``; literal braces doubled), in
``LATER_MIGRATIONS``: both lists get it under the same version number.

A migration is frozen once released: later changes are new migrations, never edits.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION_1 = """
CREATE TABLE IF NOT EXISTS objects (
    type TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (type, parent, id)
);
CREATE INDEX IF NOT EXISTS objects_by_id ON objects (id);
CREATE INDEX IF NOT EXISTS objects_by_seq ON objects (type, parent, seq);
CREATE TABLE IF NOT EXISTS blobs (
    id TEXT PRIMARY KEY,
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    vector_store_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (vector_store_id, file_id, position)
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks (file_id);
"""


@dataclass(frozen=True)
class TableShape:
    """A table of version 2: its parent column (None: top level) and extra columns with their
    SQL types and where version 1 kept them (a JSON path into ``data``)."""

    name: str
    type: str
    parent: str | None = None
    extra: tuple[tuple[str, str, str], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()


VERSION_2_TABLES = (
    TableShape("assistants", "assistant"),
    TableShape(
        "files",
        "file",
        extra=(("purpose", "TEXT", "json_extract(data, '$.purpose')"),),
        indexes=(("project", "purpose", "seq"),),
    ),
    TableShape("vector_stores", "vector_store"),
    TableShape(
        "vector_store_files",
        "vector_store.file",
        "vector_store_id",
        extra=(
            ("ready_at", "{real}", "json_extract(data, '$._ready_at')"),
            ("outcome", "TEXT", "json_extract(data, '$._outcome')"),
            ("cancelled", "INTEGER", "COALESCE(json_extract(data, '$._cancelled'), 0)"),
            ("usage_bytes", "INTEGER", "json_extract(data, '$._usage_bytes')"),
        ),
        indexes=(("id",),),
    ),
    TableShape("file_batches", "vector_store.file_batch", "vector_store_id"),
    TableShape("threads", "thread"),
    TableShape(
        "messages",
        "thread.message",
        "thread_id",
        extra=(("run_id", "TEXT", "json_extract(data, '$.run_id')"),),
        indexes=(("thread_id", "run_id", "seq"),),
    ),
    TableShape(
        "runs",
        "thread.run",
        "thread_id",
        extra=(("status", "TEXT", "json_extract(data, '$.status')"),),
        indexes=(("status", "seq"),),
    ),
    TableShape("run_steps", "thread.run.step", "run_id"),
    TableShape("uploads", "upload"),
    TableShape("upload_parts", "upload.part", "upload_id"),
    TableShape("responses", "response"),
    TableShape("response_events", "response.event", "response_id"),
    TableShape("conversations", "conversation"),
    TableShape("conversation_items", "conversation.item", "conversation_id"),
)


def _version_2_table(shape: TableShape) -> str:
    parent = f"    {shape.parent} TEXT NOT NULL,\n" if shape.parent else ""
    extra = "".join(f"    {name} {sql_type},\n" for name, sql_type, _ in shape.extra)
    unique = f"UNIQUE ({shape.parent}, id)" if shape.parent else "UNIQUE (id)"
    listed = f"({shape.parent}, seq)" if shape.parent else "(project, seq)"
    statements = [
        f"CREATE TABLE {shape.name} (\n    seq {{seq}},\n    id TEXT NOT NULL,\n"
        f"    project TEXT NOT NULL,\n{parent}    created_at BIGINT,\n{extra}"
        f"    data TEXT NOT NULL,\n    {unique}\n);",
        f"CREATE INDEX {shape.name}_listed ON {shape.name} {listed};",
    ]
    statements += [
        f"CREATE INDEX {shape.name}_by_{'_'.join(columns)} ON {shape.name} ({', '.join(columns)});"
        for columns in shape.indexes
    ]
    return "\n".join(statements)


VERSION_2_SCHEMA = "\n".join(
    [
        *(_version_2_table(shape) for shape in VERSION_2_TABLES),
        """CREATE TABLE records (
    seq {seq},
    type TEXT NOT NULL,
    parent TEXT NOT NULL,
    id TEXT NOT NULL,
    project TEXT NOT NULL,
    created_at BIGINT,
    data TEXT NOT NULL,
    UNIQUE (type, parent, id)
);
CREATE INDEX records_listed ON records (type, parent, seq);
CREATE TABLE file_bytes (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    content {blob} NOT NULL
);
CREATE TABLE projects (
    name TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE api_keys (
    digest TEXT PRIMARY KEY,
    project TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);""",
    ]
)


def _version_2_copy(shape: TableShape) -> str:
    parent = f"{shape.parent}, " if shape.parent else ""
    parent_value = "parent, " if shape.parent else ""
    names = "".join(f"{name}, " for name, _, _ in shape.extra)
    values = "".join(f"{path}, " for _, _, path in shape.extra)
    return (
        f"INSERT INTO {shape.name} (seq, id, project, {parent}created_at, {names}data) "
        f"SELECT seq, id, 'default', {parent_value}json_extract(data, '$.created_at'), "
        f"{values}data FROM objects WHERE type = '{shape.type}' ORDER BY seq;"
    )


KNOWN_TYPES = ", ".join(f"'{shape.type}'" for shape in VERSION_2_TABLES)
VERSION_2_FROM_1 = "\n".join(
    [
        *(_version_2_copy(shape) for shape in VERSION_2_TABLES),
        "INSERT INTO records (seq, type, parent, id, project, created_at, data) "
        "SELECT seq, type, parent, id, 'default', json_extract(data, '$.created_at'), data "
        f"FROM objects WHERE type NOT IN ({KNOWN_TYPES}) ORDER BY seq;",
        "INSERT INTO file_bytes (id, project, content) SELECT id, 'default', content FROM blobs;",
        "DROP TABLE objects;",
        "DROP TABLE blobs;",
        "DROP TABLE counters;",
    ]
)

# Version 3: chunks keyed by an integer id (indexed by store and file, so a file's chunks are
# found and removed without a scan) and an FTS5 index over their text, kept by triggers; the
# porter tokenizer stems ("opens" finds "open").
VERSION_3_SQLITE = """
CREATE TABLE chunk_rows (
    id INTEGER PRIMARY KEY,
    vector_store_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    UNIQUE (vector_store_id, file_id, position)
);
CREATE INDEX chunk_rows_by_file ON chunk_rows (file_id);
CREATE VIRTUAL TABLE chunk_text USING fts5(
    text, content = 'chunk_rows', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE TRIGGER chunk_rows_added AFTER INSERT ON chunk_rows BEGIN
    INSERT INTO chunk_text (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER chunk_rows_removed AFTER DELETE ON chunk_rows BEGIN
    INSERT INTO chunk_text (chunk_text, rowid, text) VALUES ('delete', old.id, old.text);
END;
INSERT INTO chunk_rows (vector_store_id, file_id, position, text)
    SELECT vector_store_id, file_id, position, text FROM chunks
    ORDER BY vector_store_id, file_id, position;
DROP TABLE chunks;
"""


# Version 4: a message's role and text (its text parts joined by blank lines) in columns, so a
# run reads what it sends without decoding the messages' JSON. The columns are portable SQL;
# filling them from the stored JSON takes each engine's JSON functions (parts kept in order).
VERSION_4_COLUMNS = """
ALTER TABLE messages ADD COLUMN role TEXT;
ALTER TABLE messages ADD COLUMN content_text TEXT;
"""
VERSION_4_FILL_SQLITE = """
UPDATE messages SET role = json_extract(data, '$.role'), content_text = COALESCE((
    SELECT group_concat(json_extract(part.value, '$.text.value'), char(10) || char(10))
    FROM json_each(messages.data, '$.content') AS part
    WHERE json_extract(part.value, '$.type') = 'text'
), '');
"""
VERSION_4_FILL_POSTGRES = """
UPDATE messages SET role = data::jsonb ->> 'role', content_text = COALESCE((
    SELECT string_agg(part -> 'text' ->> 'value', E'\\n\\n' ORDER BY position)
    FROM jsonb_array_elements(data::jsonb -> 'content') WITH ORDINALITY AS parts (part, position)
    WHERE part ->> 'type' = 'text'
), '');
"""

# Version 5 (both dialects): the work some replica must execute, with its lease. Work left
# unfinished by an older release becomes a job whose lease has already expired, so the first
# replica to start takes it over (an older release restarted it when it was next read).
VERSION_5 = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    parent TEXT NOT NULL,
    project TEXT NOT NULL,
    owner TEXT,
    lease_until {real} NOT NULL,
    attempts INTEGER NOT NULL,
    token TEXT NOT NULL
);
CREATE INDEX jobs_by_lease ON jobs (lease_until);
CREATE INDEX jobs_by_owner ON jobs (owner);
INSERT INTO jobs (id, kind, parent, project, owner, lease_until, attempts, token)
    SELECT id, 'run', thread_id, project, NULL, 0, 0, '' FROM runs
    WHERE status IN ('queued', 'in_progress', 'cancelling');
INSERT INTO jobs (id, kind, parent, project, owner, lease_until, attempts, token)
    SELECT id, 'response', '', project, NULL, 0, 0, '' FROM responses
    WHERE {data_status} IN ('queued', 'in_progress');
"""


@dataclass(frozen=True)
class Migration:
    version: int
    sql: str

    def for_types(self, types: dict[str, str]) -> Migration:
        """This migration with its type placeholders spelled for one engine."""
        return Migration(self.version, self.sql.format(**types))


SQLITE_TYPES = {
    "seq": "INTEGER PRIMARY KEY",
    "blob": "BLOB",
    "real": "REAL",
    "data_status": "json_extract(data, '$.status')",
}
POSTGRES_TYPES = {
    "seq": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    "blob": "BYTEA",
    "real": "DOUBLE PRECISION",
    "data_status": "(data::json ->> 'status')",
}

# PostgreSQL's version 3: the tables of version 2, file bytes as a header row (its size) and
# parts of at most 1 MiB (a bytea value is read and written whole, so one row per file would
# need the whole file in memory), and chunks with their 'english' text-search vector (stemmed,
# stop words left out), kept by the database and indexed with GIN.
VERSION_3_POSTGRES = (
    VERSION_2_SCHEMA.format(**POSTGRES_TYPES)
    + """
ALTER TABLE file_bytes DROP COLUMN content;
ALTER TABLE file_bytes ADD COLUMN size BIGINT NOT NULL;
CREATE TABLE file_parts (
    id TEXT NOT NULL REFERENCES file_bytes (id) ON DELETE CASCADE,
    part INTEGER NOT NULL,
    content BYTEA NOT NULL,
    PRIMARY KEY (id, part)
);
CREATE TABLE chunk_rows (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    vector_store_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    terms TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    UNIQUE (vector_store_id, file_id, position)
);
CREATE INDEX chunk_rows_by_file ON chunk_rows (file_id);
CREATE INDEX chunk_rows_terms ON chunk_rows USING GIN (terms) WITH (fastupdate = off);
"""
)

# Written once for both engines (type placeholders), appended to both lists.
LATER_MIGRATIONS: tuple[Migration, ...] = (Migration(5, VERSION_5),)

SQLITE_MIGRATIONS = (
    Migration(1, VERSION_1),
    Migration(2, VERSION_2_SCHEMA.format(**SQLITE_TYPES) + "\n" + VERSION_2_FROM_1),
    Migration(3, VERSION_3_SQLITE),
    Migration(4, VERSION_4_COLUMNS + VERSION_4_FILL_SQLITE),
    *(migration.for_types(SQLITE_TYPES) for migration in LATER_MIGRATIONS),
)
POSTGRES_MIGRATIONS = (
    Migration(3, VERSION_3_POSTGRES),
    Migration(4, VERSION_4_COLUMNS + VERSION_4_FILL_POSTGRES),
    *(migration.for_types(POSTGRES_TYPES) for migration in LATER_MIGRATIONS),
)
LATEST = SQLITE_MIGRATIONS[-1].version
