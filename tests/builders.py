"""Plain-data builders for the model, shaped the way the API and the manifests shape things:
desired resources from manifest-like views, live resources from API objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from assistctl.kinds.assistant import AssistantKind
from assistctl.kinds.file import FileKind
from assistctl.kinds.vector_store import VectorStoreKind
from assistctl.model import (
    PATH_ATTRIBUTE,
    SHA256_ATTRIBUTE,
    Desired,
    DesiredFile,
    DesiredResource,
    ForeignResource,
    Live,
    LiveResource,
    Location,
    upload_filename,
)

HERE = Location("stack.yaml", 1)
DEFAULT_STATIC = {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}


def desired(
    stack: str,
    assistants: Iterable[DesiredResource] = (),
    stores: Iterable[DesiredResource] = (),
    env: str | None = None,
    root: Path = Path("."),
) -> Desired:
    return Desired(stack=stack, env=env, root=root, resources=(*stores, *assistants))


def desired_assistant(
    logical: str, view: Mapping[str, Any], files: Iterable[DesiredFile] = ()
) -> DesiredResource:
    return AssistantKind().resource(logical, view, tuple(files), HERE)


def desired_store(
    logical: str, view: Mapping[str, Any], files: Iterable[DesiredFile] = ()
) -> DesiredResource:
    return VectorStoreKind().resource(logical, view, tuple(files), HERE)


def live_assistant(data: Mapping[str, Any]) -> LiveResource:
    return AssistantKind().live(data)


def live_store(data: Mapping[str, Any], children: Iterable[Mapping[str, Any]] = ()) -> LiveResource:
    return VectorStoreKind().live(data, tuple(children))


def live_upload(
    file_id: str, owner: str, sha256: str, basename: str, size: int = 10, created_at: int = 0
) -> LiveResource:
    data = {
        "id": file_id,
        "filename": upload_filename(owner, sha256, basename),
        "bytes": size,
        "created_at": created_at,
    }
    return FileKind().live(data)


def attached_file(
    file_id: str,
    path: str | None,
    sha256: str | None,
    *,
    status: str = "completed",
    chunking_strategy: Mapping[str, Any] | None = None,
    last_error: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A vector store's file as the API lists it (attributes only when assistctl tagged it)."""
    return {
        "id": file_id,
        "status": status,
        "attributes": {PATH_ATTRIBUTE: path, SHA256_ATTRIBUTE: sha256} if path else {},
        "chunking_strategy": chunking_strategy,
        "last_error": last_error,
    }


def live(
    owner: str,
    assistants: Iterable[LiveResource] = (),
    vector_stores: Iterable[LiveResource] = (),
    uploads: Iterable[LiveResource] = (),
    foreign: Iterable[ForeignResource] = (),
) -> Live:
    """What ``owner`` holds (resources owned by others are left out, as a snapshot does)."""
    resources = [r for r in (*uploads, *vector_stores, *assistants) if r.owner == owner]
    return Live(owner=owner, resources=tuple(resources), foreign=tuple(foreign))


def add_code_interpreter_file(stack: Path, relative_path: str, text: str) -> None:
    """Give a copy of the quickstart's support-bot the code_interpreter tool and one file."""
    path = stack / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    manifest = stack / "support-bot.yaml"
    manifest.write_text(
        manifest.read_text()
        .replace("  tools:\n", "  tools:\n    - type: code_interpreter\n")
        .replace(
            "  tool_resources:\n",
            f"  tool_resources:\n    code_interpreter:\n      files: [{relative_path}]\n",
        )
    )
