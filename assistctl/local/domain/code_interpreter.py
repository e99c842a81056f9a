"""The account's code interpreter: one sandboxed Python kernel per thread (Assistants) or per
container (Responses), with the code-interpreter files in ``/mnt/data``.

An engine gets a ``CodeSession`` for a run (or response) only when the run has the tool and the
sandbox works here; otherwise the tool is not offered. Each execution's images and the files it
wrote come back as account files (purpose ``assistants_output``, downloadable), named by their
``/mnt/data`` path; ``file_mentions`` finds where an answer links them.

Containers (``container`` records) are what a response's ``code_interpreter`` tool names: an
id, or ``{"type": "auto", "file_ids": [...]}``, which continues the container of the last
code-interpreter call in the response's context, or else makes a new one. A container keeps
the files it was given (``_file_ids``), so a later response naming it finds them again.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistctl.local.domain.errors import InvalidRequest
from assistctl.local.domain.files import Files
from assistctl.local.domain.records import CONTAINER, ApiObject, new_id, now
from assistctl.local.engines import CodeFile, CodeRun, CodeSession, ServerToolCall
from assistctl.local.engines import CodeInterpreterCall as CodeCall
from assistctl.local.sandbox import CodeSandbox, DataFile, Execution, ExecutionStatus
from assistctl.local.storage import Store

log = logging.getLogger(__name__)

OUTPUT_PURPOSE = "assistants_output"
DATA_DIRECTORY = "/mnt/data/"
IMAGE_NAME = "image.png"
IDLE_MINUTES = 20
_NAME_END = r"""[^\s)\]\}>"'`,;]*[^\s)\]\}>"'`,;.:!?]"""


@dataclass(frozen=True)
class FileMention:
    """Where an answer names a file the code wrote: ``text`` at ``[start, end)``."""

    text: str
    start: int
    end: int
    file: CodeFile


def code_files(calls: Iterable[ServerToolCall]) -> dict[str, CodeFile]:
    """The files the code wrote, by path (the last version of each)."""
    found: dict[str, CodeFile] = {}
    for call in calls:
        if isinstance(call, CodeCall):
            found.update((file.path, file) for file in call.files)
    return found


def code_images(calls: Iterable[ServerToolCall]) -> list[str]:
    """The file ids of the images the code showed, in order."""
    return [image for call in calls if isinstance(call, CodeCall) for image in call.image_file_ids]


def file_mentions(text: str, calls: Iterable[ServerToolCall]) -> list[FileMention]:
    """Every ``sandbox:/mnt/data/NAME`` (or bare ``/mnt/data/NAME``) in ``text`` that names a
    file the code wrote, in order."""
    files = code_files(calls)
    if not files:
        return []
    found = []
    pattern = re.compile(r"(?:sandbox:)?/mnt/data/" + _NAME_END)
    for match in pattern.finditer(text):
        path = match.group(0).removeprefix("sandbox:")
        file = files.get(path)
        if file is not None:
            found.append(FileMention(match.group(0), match.start(), match.end(), file))
    return found


class CodeInterpreter:
    """Code sessions over the account's files and the sandbox."""

    def __init__(self, store: Store, files: Files, sandbox: CodeSandbox) -> None:
        self._store = store
        self._files = files
        self._sandbox = sandbox

    def session(self, session_id: str, file_ids: Iterable[str]) -> CodeSession | None:
        """The code interpreter of a thread or container, given these files (those deleted
        since are left out); None when no code runs here."""
        if not self._sandbox.works:
            return None
        placed = self._placement(file_ids)

        def run(code: str) -> CodeRun:
            return self._run(session_id, code, placed)

        return CodeSession(run, tuple(placed))

    def close(self, session_id: str) -> None:
        """The thread or container is gone: its kernel and files go too."""
        self._sandbox.close_session(session_id)

    # --- containers (Responses) -----------------------------------------------------------

    def container(self, tool: ApiObject, context: list[ApiObject]) -> ApiObject:
        """The container a response's ``code_interpreter`` tool runs in (see the module)."""
        named = tool["container"]
        if isinstance(named, str):
            found = self._store.get(CONTAINER, named)
            if found is None:
                raise InvalidRequest(f"Container with id '{named}' not found.", param="tools")
            return found
        file_ids = list(named.get("file_ids") or [])
        for item in reversed(context):
            if item["type"] != "code_interpreter_call" or not item.get("container_id"):
                continue
            earlier = self._store.get(CONTAINER, item["container_id"])
            if earlier is not None:
                known = earlier["_file_ids"]
                earlier["_file_ids"] = known + [f for f in file_ids if f not in known]
                earlier["last_active_at"] = now()
                return self._store.put(CONTAINER, earlier)
        created = now()
        container: ApiObject = {
            "id": new_id("cntr"),
            "object": "container",
            "created_at": created,
            "last_active_at": created,
            "name": "code_interpreter",
            "status": "running",
            "expires_after": {"anchor": "last_active_at", "minutes": IDLE_MINUTES},
            "_file_ids": file_ids,
        }
        return self._store.insert(CONTAINER, container)

    # --- inside -------------------------------------------------------------------------------

    def _placement(self, file_ids: Iterable[str]) -> dict[str, str]:
        """``/mnt/data`` name -> file id: each file under its own name, or its id when the name
        is taken or not a plain file name."""
        placed: dict[str, str] = {}
        for file_id in dict.fromkeys(file_ids):
            if not self._files.exists(file_id):
                continue
            name = posixpath.basename(self._files.get(file_id)["filename"].replace("\\", "/"))
            if not name or name in (".", "..") or name in placed or "\0" in name:
                name = file_id
            placed[name] = file_id
        return placed

    def _run(self, session_id: str, code: str, placed: dict[str, str]) -> CodeRun:
        files = [
            DataFile(name, self._files.bytes_of(file_id))
            for name, file_id in placed.items()
            if self._files.exists(file_id)
        ]
        try:
            execution = self._sandbox.execute(session_id, code, files)
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning("code interpreter session %s could not run code: %s", session_id, exc)
            return CodeRun(f"The code was not run: {exc}")
        return self._kept(execution)

    def _kept(self, execution: Execution) -> CodeRun:
        """An execution with its images and files stored as account files."""
        if execution.status is ExecutionStatus.UNAVAILABLE:
            return CodeRun(f"The code was not run. {execution.tool_logs}")
        images = tuple(self._keep(IMAGE_NAME, image) for image in execution.images)
        written = tuple(
            CodeFile(DATA_DIRECTORY + file.name, self._keep(DATA_DIRECTORY + file.name, file.data))
            for file in execution.files
        )
        return CodeRun(execution.tool_logs, images, written)

    def _keep(self, filename: str, data: bytes) -> str:
        return self._files.upload(filename, OUTPUT_PURPOSE, [data], len(data), None)["id"]
