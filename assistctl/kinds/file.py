"""Uploaded files, identified by content.

Files have no metadata in the API, so an upload carries its owner and sha256 in its filename
(``model.upload_filename``). Manifests never declare files: the files the other kinds use are
this kind's desired resources, addressed by their path (``file.docs/returns.md``). Unchanged
content is never uploaded twice; new content under a path the account already has attached
replaces the old upload, which is deleted once nothing managed uses it (deletes run last).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from assistctl.kinds.base import (
    PlanContext,
    ResourceKind,
    ResourcePlan,
    changed_fields,
)
from assistctl.model import (
    PATH_ATTRIBUTE,
    Action,
    Address,
    Change,
    Desired,
    DesiredFile,
    DesiredResource,
    LiveResource,
    Operation,
    Ref,
    Verb,
    parse_upload_filename,
    upload_filename,
)

UPLOAD_PURPOSE = "assistants"


@dataclass(frozen=True)
class FileSpec:
    """One upload as the plan shows it: ``filename`` carries the owner and the content hash."""

    path: str
    sha256: str
    bytes: int
    filename: str
    id: str | None = None

    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "path": self.path,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "filename": self.filename,
        }
        if self.id is not None:
            view["id"] = self.id
        return view


@dataclass(frozen=True)
class LiveUpload:
    """An owned upload, with what its filename says."""

    id: str
    filename: str
    bytes: int
    sha256: str
    basename: str
    created_at: int = 0

    @classmethod
    def of(cls, resource: LiveResource) -> LiveUpload:
        filename = str(resource.data.get("filename") or "")
        parsed = parse_upload_filename(filename)
        basename = parsed[2] if parsed else filename
        size = int(resource.data.get("bytes") or 0)
        return cls(resource.id, filename, size, resource.name, basename, resource.created_at)

    def spec(self, path: str | None = None) -> FileSpec:
        """As the plan shows it; ``path`` is the manifest path it is attached as."""
        return FileSpec(path or self.basename, self.sha256, self.bytes, self.filename, self.id)

    @property
    def orphan_name(self) -> str:
        """The address name of an upload no manifest path claims."""
        return f"{self.basename}@{self.sha256[:12]}"


def unique_by_path(files: Iterable[DesiredFile]) -> tuple[DesiredFile, ...]:
    by_path = {f.path: f for f in files}
    return tuple(by_path[p] for p in sorted(by_path))


def one_per_content(
    files: Sequence[DesiredFile],
) -> tuple[tuple[DesiredFile, ...], tuple[tuple[str, str], ...]]:
    """An upload is held once per store (or code interpreter): the first path of each content
    is kept, and ``(path, kept path)`` pairs say which paths it serves too."""
    kept: dict[str, DesiredFile] = {}
    same: list[tuple[str, str]] = []
    for file in files:
        if file.sha256 in kept:
            same.append((file.path, kept[file.sha256].path))
        else:
            kept[file.sha256] = file
    return tuple(kept.values()), tuple(same)


class FileKind(ResourceKind):
    name: ClassVar[str] = "file"
    manifest_kind: ClassVar[str | None] = None
    noun: ClassVar[str] = "file"
    collection: ClassVar[str] = "files"
    list_query: ClassVar[Mapping[str, str]] = {"purpose": UPLOAD_PURPOSE}
    target_placeholder: ClassVar[str] = "PATH"
    # The address is the path, and the filename follows from the hash.
    hidden_when_created: ClassVar[frozenset[str]] = frozenset({"path", "filename"})

    def identify(self, data: Mapping[str, Any]) -> tuple[str | None, str | None]:
        parsed = parse_upload_filename(str(data.get("filename") or ""))
        return (parsed[0], parsed[1]) if parsed else (None, None)

    def display_name(self, data: Mapping[str, Any]) -> str | None:
        return str(data.get("filename") or "") or None

    def digest_view(self, resource: LiveResource) -> Any:
        return resource.id

    def desired(self, desired: Desired) -> tuple[DesiredResource, ...]:
        return tuple(
            DesiredResource(self.address(file.path), self.desired_spec(file, desired.owner))
            for file in desired.files
        )

    @staticmethod
    def desired_spec(file: DesiredFile, owner: str) -> FileSpec:
        return FileSpec(
            file.path, file.sha256, file.bytes, upload_filename(owner, file.sha256, file.basename)
        )

    def plan(self, context: PlanContext) -> list[ResourcePlan]:
        usage = _Usage.of(context)
        uploads = sorted((LiveUpload.of(r) for r in context.live.of_kind(self.name)), key=_by_id)
        wanted = {f.sha256 for f in context.desired.files}
        by_sha: dict[str, list[LiveUpload]] = {}
        for upload in uploads:
            by_sha.setdefault(upload.sha256, []).append(upload)

        plans: list[ResourcePlan] = []
        consumed: set[str] = set()
        for file in context.desired.files:
            address = self.address(file.path)
            after = self.desired_spec(file, context.owner)
            holders = by_sha.get(file.sha256)
            if holders:
                keep = min(holders, key=lambda u: (u.id not in usage.used, u.created_at, u.id))
                held = keep.spec(usage.paths.get(keep.id, file.path)).view()
                plans.append(
                    ResourcePlan(Change(address, Action.NO_OP, held, after.view(), id=keep.id))
                )
                consumed.add(keep.id)
                context.uploads[file.sha256] = context.ids[address] = keep.id
                continue
            key = f"upload {file.sha256}"
            if file.sha256 in context.uploads:
                first = next(p for p in context.desired.files if p.sha256 == file.sha256)
                plans.append(
                    ResourcePlan(
                        Change(
                            address,
                            Action.NO_OP,
                            None,
                            after.view(),
                            reason=f"same content as file.{first.path} (uploaded once)",
                        )
                    )
                )
                context.ids[address] = context.uploads[file.sha256]
                continue
            send = Operation(
                key,
                Verb.UPLOAD,
                address,
                self.collection,
                body={
                    "filename": after.filename,
                    "purpose": UPLOAD_PURPOSE,
                    "path": file.path,
                    "sha256": file.sha256,
                },
            )
            context.uploads[file.sha256] = context.ids[address] = Ref(key)
            replaced = _replaced_upload(file, uploads, usage, wanted, consumed)
            if replaced is None:
                change = Change(address, Action.CREATE, None, after.view(), reason="new content")
                plans.append(ResourcePlan(change, (send,)))
                continue
            consumed.add(replaced.id)
            old = replaced.spec(file.path).view()
            change = Change(
                address,
                Action.REPLACE,
                old,
                after.view(),
                changed_fields(old, {**after.view(), "id": replaced.id}),
                f"content changed (sha256 {replaced.sha256[:12]} → {file.sha256[:12]}); "
                "the API cannot change an upload's content",
                replaced.id,
            )
            delete = Operation(
                f"delete {address}", Verb.DELETE, address, self.collection, target=replaced.id
            )
            plans.append(ResourcePlan(change, (send, delete)))

        taken: set[str] = set()
        for upload in uploads:
            if upload.id in consumed:
                continue
            if upload.sha256 in wanted:
                # What still uses it is re-pointed or detached by this plan, before deletes.
                reason = "a duplicate upload of content another upload already holds"
            else:
                reason = (
                    "destroy deletes everything the stack owns"
                    if context.destroy
                    else "no manifest uses this content any more"
                )
            name = upload.orphan_name
            if name in taken:
                name = f"{name}#{upload.id}"
            taken.add(name)
            address = self.address(name)
            gone = upload.spec(usage.paths.get(upload.id)).view()
            change = Change(address, Action.DELETE, gone, None, reason=reason, id=upload.id)
            delete = Operation(
                f"delete {address}", Verb.DELETE, address, self.collection, target=upload.id
            )
            plans.append(ResourcePlan(change, (delete,)))
        return plans


@dataclass(frozen=True)
class _Usage:
    """Which owned uploads the stack's live resources use, and the manifest path each was
    attached as (vector stores record it; code interpreters do not)."""

    used: frozenset[str]
    paths: Mapping[str, str]
    unrecorded: frozenset[str]

    @classmethod
    def of(cls, context: PlanContext) -> _Usage:
        used: set[str] = set()
        paths: dict[str, str] = {}
        unrecorded: set[str] = set()
        for kind in context.kinds:
            for resource in context.live.of_kind(kind.name):
                recorded = kind.file_paths(resource)
                for file_id in kind.file_ids(resource):
                    used.add(file_id)
                    if file_id in recorded:
                        paths.setdefault(file_id, recorded[file_id])
                    else:
                        unrecorded.add(file_id)
        return cls(frozenset(used), paths, frozenset(unrecorded))


def _by_id(upload: LiveUpload) -> str:
    return upload.id


def _replaced_upload(
    file: DesiredFile,
    uploads: Sequence[LiveUpload],
    usage: _Usage,
    wanted: set[str],
    consumed: set[str],
) -> LiveUpload | None:
    """The owned upload this file's new content replaces: attached under the same path (vector
    stores record it) or, where no path is recorded (code interpreters), the same basename."""
    candidates = [u for u in uploads if u.id not in consumed and u.sha256 not in wanted]
    for upload in candidates:
        if usage.paths.get(upload.id) == file.path:
            return upload
    for upload in candidates:
        if upload.id in usage.unrecorded and upload.basename == file.basename:
            return upload
    return None


def recorded_paths(children: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """File id -> the manifest path assistctl recorded when it attached the file (the first
    one, should attachments disagree). Files attached by hand record none and are left out."""
    paths: dict[str, str] = {}
    for child in children:
        path = (child.get("attributes") or {}).get(PATH_ATTRIBUTE)
        if path:
            paths.setdefault(str(child["id"]), str(path))
    return paths


def upload_path(
    upload: LiveUpload | None, file_id: str, desired: Desired, preferred: Sequence[str]
) -> str:
    """The manifest path a live reference to an upload stands for: a desired path with the
    same content (the preferred one first), else ``basename@sha12``; the id when not ours."""
    if upload is None:
        return file_id
    paths = [f.path for f in desired.files if f.sha256 == upload.sha256]
    if paths:
        ranked = sorted(
            paths, key=lambda p: (p not in preferred, p.rsplit("/", 1)[-1] != upload.basename, p)
        )
        return ranked[0]
    return upload.orphan_name


def address_of(path: str) -> Address:
    return Address(FileKind.name, path)
