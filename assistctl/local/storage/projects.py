"""Projects and the digests of their API keys, as the admin API manages them (the keys of a
``--keys`` file are held by the domain, never written here). A key is only ever stored as the
hex SHA-256 of its text."""

from __future__ import annotations

from dataclasses import dataclass

from assistctl.local.storage.database import Database


@dataclass(frozen=True)
class StoredProject:
    name: str
    created_at: int
    key_digests: tuple[str, ...]


class ProjectTable:
    def __init__(self, database: Database) -> None:
        self._database = database

    def all(self) -> list[StoredProject]:
        rows = self._database.read(
            "SELECT p.name, p.created_at, k.digest FROM projects AS p "
            "LEFT JOIN api_keys AS k ON k.project = p.name ORDER BY p.name, k.digest"
        )
        found: dict[str, StoredProject] = {}
        for name, created_at, digest in rows:
            known = found.get(name, StoredProject(name, created_at, ()))
            digests = (*known.key_digests, digest) if digest else known.key_digests
            found[name] = StoredProject(name, created_at, digests)
        return list(found.values())

    def create(self, name: str, created_at: int) -> bool:
        """Record a project; False if it exists."""
        return (
            self._database.write(
                "INSERT INTO projects (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (name, created_at),
            )
            > 0
        )

    def delete(self, name: str) -> bool:
        """Forget a project and its keys (its objects stay, reachable by no key)."""
        with self._database.transaction():
            self._database.write("DELETE FROM api_keys WHERE project = ?", (name,))
            return self._database.write("DELETE FROM projects WHERE name = ?", (name,)) > 0

    def add_key(self, name: str, digest: str, created_at: int) -> None:
        self._database.write(
            "INSERT INTO api_keys (digest, project, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (digest) DO UPDATE SET project = excluded.project",
            (digest, name, created_at),
        )

    def remove_key(self, name: str, digest: str) -> bool:
        return (
            self._database.write(
                "DELETE FROM api_keys WHERE project = ? AND digest = ?", (name, digest)
            )
            > 0
        )

    def project_of(self, digest: str) -> str | None:
        row = self._database.read_one("SELECT project FROM api_keys WHERE digest = ?", (digest,))
        return str(row[0]) if row else None
