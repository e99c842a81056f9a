"""A release directory served as the ``assistants`` collection: one JSON file per assistant.

In the Responses era the assistant is no server object: it is a release file that the team
commits or ships with its app (``releases/<stack>[/<env>]/<name>.json``). The store lists,
creates, updates and deletes those files with the semantics of the Assistants API (an update
changes only the fields it names), so the planner, the applier and export use it exactly as
they use a server's assistants. An object's id is its file's path as people see it (relative
to ``shown_from``, the stack root).

Writes are atomic (a temporary file renamed over the old one), so a killed apply leaves the old
release or the new one, never half of one. A file that is not a release assistctl would write
(invalid JSON, a digest that does not match, settings assistctl does not write) is read as the
assistant it names, marked with ``ALTERED_KEY`` and the reason: the plan shows it as drift and
apply writes it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistctl import release
from assistctl.backends.base import ApiObject
from assistctl.backends.release_compiler import alteration, assistant_of, compile_document
from assistctl.errors import AccountError
from assistctl.model import ALTERED_KEY, NAME_KEY, STACK_KEY, ownership

SUFFIX = ".json"


@dataclass(frozen=True)
class ReleaseStore:
    """``directory`` holds the releases of one owner (``owner``: ``<stack>[/<env>]``, None when
    reading a directory whose owner is not known, as export does)."""

    directory: Path
    shown_from: Path
    owner: str | None = None

    def list(self) -> Iterator[ApiObject]:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            found = self._read(path)
            if found is not None:
                yield found

    def retrieve(self, release_id: str) -> ApiObject:
        found = self._read(self.path_of(release_id))
        if found is None:
            raise AccountError(f"no release {release_id}", status=404)
        return found

    def create(self, body: Mapping[str, Any]) -> ApiObject:
        owner, name = ownership(body.get("metadata"))
        if not name:
            raise AccountError("a release needs assistctl_name in its metadata")
        path = self.directory / f"{name}{SUFFIX}"
        existing = self._read(path) if path.exists() else None
        if existing is not None:
            holder, _ = ownership(existing.get("metadata"))
            if holder != owner and not existing.get(ALTERED_KEY):
                raise AccountError(
                    f"{self.id_of(path)} already holds a release of {holder or 'no stack'!r}; "
                    f"refusing to overwrite it with one of {owner!r}",
                    hint="give each stack and environment its own release directory "
                    "(spec.release_dir, --release-dir)",
                )
        return self._write(path, body)

    def update(self, release_id: str, body: Mapping[str, Any]) -> ApiObject:
        """Only the fields ``body`` names change, as the Assistants API modifies an assistant.
        A new logical name (a ``moved`` rename) moves the release to its new file."""
        path = self.path_of(release_id)
        merged = modified(self.retrieve(release_id), body)
        _, name = ownership(merged.get("metadata"))
        target = self.directory / f"{name}{SUFFIX}" if name else path
        written = self._write(target, merged)
        if target != path:
            path.unlink(missing_ok=True)
        return written

    def holds(self, owner: str | None, name: str | None) -> bool:
        """Whether this directory already holds ``owner``'s release named ``name``."""
        path = self.directory / f"{name}{SUFFIX}"
        found = self._read(path) if name and path.exists() else None
        return found is not None and ownership(found.get("metadata")) == (owner, name)

    def delete(self, release_id: str) -> None:
        path = self.path_of(release_id)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the last release gone: leave no empty folder
            self.directory.rmdir()

    def load(self, release_id: str) -> release.Release:
        """A release as the app loads it (verified against its digest)."""
        return release.load_release(self.path_of(release_id))

    # --- ids and files ----------------------------------------------------------------------

    def id_of(self, path: Path) -> str:
        absolute = path.absolute()
        try:
            return absolute.relative_to(self.shown_from.absolute()).as_posix()
        except ValueError:
            return absolute.as_posix()

    def path_of(self, release_id: str) -> Path:
        """The file behind an id; only files directly in the directory are releases."""
        path = self.directory / Path(release_id).name
        if not release_id.endswith(SUFFIX) or self.id_of(path) != release_id:
            raise AccountError(
                f"{release_id} is not a release of {self.directory}",
                status=404,
                hint="in responses mode an assistant is a release file that apply writes in the "
                "release directory; there is no server assistant to import",
            )
        return path

    def _read(self, path: Path) -> ApiObject | None:
        release_id = self.id_of(path)
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            return self._unreadable(path, f"the release file cannot be read as JSON ({exc})")
        try:
            assistant = assistant_of(content, release_id)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return self._unreadable(path, f"the release file is not a release ({exc!r})")
        reason = alteration(content, assistant)
        if reason is not None:
            assistant[ALTERED_KEY] = reason
        return assistant

    def _unreadable(self, path: Path, reason: str) -> ApiObject | None:
        """A broken file is drift of the release its name says, when the owner is known;
        otherwise it is nobody's and left alone."""
        if self.owner is None:
            return None
        name = path.name.removesuffix(SUFFIX)
        return {
            "id": self.id_of(path),
            "object": "assistant",
            "created_at": 0,
            "name": None,
            "model": None,
            "tools": [],
            "tool_resources": {},
            "metadata": {STACK_KEY: self.owner, NAME_KEY: name},
            ALTERED_KEY: reason,
        }

    def _write(self, path: Path, assistant: Mapping[str, Any]) -> ApiObject:
        body = {key: value for key, value in assistant.items() if key != ALTERED_KEY}
        content = compile_document(body)
        try:
            _write_atomically(path, release.dumps(content))
        except OSError as exc:
            raise AccountError(
                f"cannot write the release {self.id_of(path)}: {exc.strerror or exc}",
                hint="check that the release directory (spec.release_dir, --release-dir) is "
                "writable",
            ) from exc
        return assistant_of(content, self.id_of(path))


def modified(current: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` with the fields ``body`` names replaced (each tool's resources on its own),
    as the Assistants API modifies an assistant."""
    merged = {**current, **body}
    if "tool_resources" in body:
        merged["tool_resources"] = {
            **(current.get("tool_resources") or {}),
            **(body.get("tool_resources") or {}),
        }
    return merged


def _write_atomically(path: Path, text: str) -> None:
    """The new content under a temporary name in the same directory, then renamed over the
    old: readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
