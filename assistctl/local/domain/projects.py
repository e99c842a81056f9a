"""Projects and their API keys: which project a request's key belongs to, and the admin API's
management of projects and keys.

Keys come from the ``--keys`` file (held here, in memory, as SHA-256 digests) and from the
admin API (their digests stored in the database). A key is never kept or shown in plain text:
the admin API answers digests (``sha256:<hex>``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from assistctl.local.domain.errors import InvalidRequest, NotFound
from assistctl.local.domain.records import ApiObject, now
from assistctl.local.storage import Store, StoredProject

PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def key_digest(key: str) -> str:
    """How a key is kept: ``sha256:`` and the hex SHA-256 of its text."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class Projects:
    """``file_keys``: digest -> project, from the ``--keys`` file (its projects exist from the
    start and cannot be deleted through the admin API)."""

    def __init__(self, store: Store, file_keys: Mapping[str, str]) -> None:
        self._store = store
        self._file_keys = dict(file_keys)
        self._file_projects = set(file_keys.values())
        for name in sorted(self._file_projects):
            store.projects.create(name, now())

    def project_of(self, key: str) -> str | None:
        """The project a key belongs to (None: no project has it)."""
        digest = key_digest(key)
        for known, project in self._file_keys.items():
            if hmac.compare_digest(known, digest):
                return project
        return self._store.projects.project_of(digest)

    def page(self) -> ApiObject:
        data = [self._view(p.name, p.created_at, p.key_digests) for p in self._stored()]
        return {"object": "list", "data": data, "has_more": False}

    def get(self, name: str) -> ApiObject:
        for project in self._stored():
            if project.name == name:
                return self._view(project.name, project.created_at, project.key_digests)
        raise NotFound(f"No project found with name '{name}'.")

    def create(self, name: object) -> ApiObject:
        if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
            raise InvalidRequest(
                "Invalid 'name': expected 1 to 64 letters, digits, '_', '.' or '-', starting "
                "with a letter or digit.",
                param="name",
            )
        if not self._store.projects.create(name, now()):
            raise InvalidRequest(f"A project named '{name}' already exists.", param="name")
        return self.get(name)

    def delete(self, name: str) -> ApiObject:
        if name in self._file_projects:
            raise InvalidRequest(f"Project '{name}' is defined in the keys file; edit it there.")
        if not self._store.projects.delete(name):
            raise NotFound(f"No project found with name '{name}'.")
        return {"object": "project.deleted", "id": name, "deleted": True}

    def add_key(self, name: str, key: object, digest: object) -> ApiObject:
        """Give a project a key (its text, or its ``sha256:<hex>`` digest); the project comes
        back with its key digests."""
        self.get(name)
        if (key is None) == (digest is None):
            raise InvalidRequest("Give exactly one of 'key' and 'sha256'.")
        if key is not None:
            if not isinstance(key, str) or not key.strip() or key != key.strip():
                raise InvalidRequest("Invalid 'key': expected a non-empty string.", param="key")
            digest = key_digest(key)
        if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
            raise InvalidRequest("Invalid 'sha256': expected 'sha256:<64 hex digits>'.", "sha256")
        owner = self._file_keys.get(digest) or self._store.projects.project_of(digest)
        if owner is not None and owner != name:
            raise InvalidRequest("That key already belongs to another project.")
        self._store.projects.add_key(name, digest, now())
        return self.get(name)

    def remove_key(self, name: str, digest: str) -> ApiObject:
        if not self._store.projects.remove_key(name, digest):
            raise NotFound(f"Project '{name}' has no key '{digest}' given through this API.")
        return self.get(name)

    def _stored(self) -> list[StoredProject]:
        in_file: dict[str, list[str]] = {}
        for digest, project in self._file_keys.items():
            in_file.setdefault(project, []).append(digest)
        return [
            StoredProject(
                p.name, p.created_at, tuple(sorted({*p.key_digests, *in_file.get(p.name, [])}))
            )
            for p in self._store.projects.all()
        ]

    @staticmethod
    def _view(name: str, created_at: int, digests: tuple[str, ...]) -> ApiObject:
        return {
            "object": "project",
            "id": name,
            "name": name,
            "created_at": created_at,
            "keys": list(digests),
        }
