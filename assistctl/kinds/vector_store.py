"""Vector stores and the files attached to them.

A store's files are its children: each attachment carries ``assistctl_sha256``/``assistctl_path``
attributes, so the plan knows which manifest path an upload serves without downloading it.
Attachments change in a fixed order per store: uploads attached again are detached first (a
store holds an upload once), then new files are attached in file batches and moved files
re-tagged, then what is no longer wanted is detached, and last the plan waits for indexing, so
a store never lacks content it had while it changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from assistctl.kinds.base import (
    BuildContext,
    ExportContext,
    ExportedDocument,
    NamedKind,
    PlanContext,
    user_metadata,
)
from assistctl.kinds.file import one_per_content, recorded_paths, unique_by_path
from assistctl.model import (
    PATH_ATTRIBUTE,
    SHA256_ATTRIBUTE,
    Address,
    Change,
    DesiredFile,
    DesiredResource,
    LiveResource,
    Operation,
    Ref,
    Spec,
    Verb,
    parse_upload_filename,
)

FILES_PER_BATCH = 2000  # the API's limit for one file batch
# The file types the API's file_search can index.
FILE_SEARCH_EXTENSIONS = frozenset(
    {".c", ".cpp", ".cs", ".css", ".doc", ".docx", ".go", ".html", ".java", ".js", ".json",
     ".md", ".pdf", ".php", ".pptx", ".py", ".rb", ".sh", ".tex", ".ts", ".txt"}
)  # fmt: skip
# Binary document formats the API extracts text from; every other type must be text.
DOCUMENT_EXTENSIONS = frozenset({".doc", ".docx", ".pdf", ".pptx"})
# Vector-store files the account gave up on are not attached as far as the plan is concerned:
# the next apply attaches them again.
UNUSABLE_FILE_STATUSES = frozenset({"failed", "cancelled"})
_STORE_FIELDS = frozenset({"name", "metadata", "expires_after"})


@dataclass(frozen=True)
class Chunking:
    """How attached files are chunked. ``auto`` (or nothing) is the static 800/400 strategy the
    API applies for it; other types are kept as the API names them."""

    type: str = "static"
    max_chunk_size_tokens: int = 800
    chunk_overlap_tokens: int = 400

    @classmethod
    def of(cls, strategy: Mapping[str, Any] | None) -> Chunking:
        if not strategy or strategy.get("type") == "auto":
            return cls()
        if strategy.get("type") == "static":
            static = strategy.get("static") or {}
            return cls(
                max_chunk_size_tokens=static.get(
                    "max_chunk_size_tokens", cls.max_chunk_size_tokens
                ),
                chunk_overlap_tokens=static.get("chunk_overlap_tokens", cls.chunk_overlap_tokens),
            )
        return cls(type=str(strategy.get("type")))

    def view(self) -> dict[str, Any]:
        if self.type != "static":
            return {"type": self.type}
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.max_chunk_size_tokens,
                "chunk_overlap_tokens": self.chunk_overlap_tokens,
            },
        }


@dataclass(frozen=True)
class ExpiresAfter:
    anchor: str
    days: int

    def view(self) -> dict[str, Any]:
        return {"anchor": self.anchor, "days": self.days}


@dataclass(frozen=True)
class VectorStoreSpec:
    """``files`` maps each manifest path to its content's sha256 (None: unknown content, a file
    attached by hand that no owned upload explains)."""

    name: str | None
    expires_after: ExpiresAfter | None = None
    chunking: Chunking = Chunking()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, view: Mapping[str, Any]) -> VectorStoreSpec:
        """A spec from a view-shaped mapping (a manifest's spec, or an API object)."""
        expires = view.get("expires_after")
        return cls(
            name=view.get("name"),
            expires_after=ExpiresAfter(expires.get("anchor", "last_active_at"), expires["days"])
            if expires
            else None,
            chunking=Chunking.of(view.get("chunking_strategy")),
            metadata=user_metadata(view.get("metadata")),
            files={str(path): sha for path, sha in sorted((view.get("files") or {}).items())},
        )

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expires_after": self.expires_after.view() if self.expires_after else None,
            "chunking_strategy": self.chunking.view(),
            "metadata": dict(self.metadata),
            "files": dict(self.files),
        }


class VectorStoreKind(NamedKind):
    name: ClassVar[str] = "vector_store"
    manifest_kind: ClassVar[str | None] = "VectorStore"
    noun: ClassVar[str] = "vector store"
    collection: ClassVar[str] = "vector_stores"
    depends_on: ClassVar[tuple[str, ...]] = ("file",)
    has_children: ClassVar[bool] = True

    # --- manifests

    def build(self, context: BuildContext) -> DesiredResource | None:
        spec = context.spec
        files = context.expand_files(("spec", "files"), spec.get("files", []))
        for index, desired_file in files:
            extension = Path(desired_file.path).suffix.lower()
            if extension not in FILE_SEARCH_EXTENSIONS:
                context.problem(
                    ("spec", "files", index),
                    f"{desired_file.path}: file type '{extension or '(none)'}' cannot be "
                    "indexed by file_search",
                    hint="supported: " + " ".join(sorted(FILE_SEARCH_EXTENSIONS)),
                )
            elif extension not in DOCUMENT_EXTENSIONS:
                undecodable = _not_text(desired_file.source)
                if undecodable is not None:
                    context.problem(
                        ("spec", "files", index),
                        f"{desired_file.path} is not UTF-8 text ({undecodable}): file_search "
                        "indexes text in UTF-8 (or UTF-16 with a byte-order mark)",
                        hint="save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
                    )
        chunking = spec.get("chunking_strategy", {"type": "auto"})
        static = chunking.get("static") if chunking.get("type") == "static" else None
        if static and static["chunk_overlap_tokens"] > static["max_chunk_size_tokens"] // 2:
            context.problem(
                ("spec", "chunking_strategy", "static", "chunk_overlap_tokens"),
                f"{static['chunk_overlap_tokens']} is more than half of "
                f"max_chunk_size_tokens ({static['max_chunk_size_tokens']})",
                hint="the API requires chunk_overlap_tokens <= max_chunk_size_tokens / 2",
            )
        unique, same_content = one_per_content(unique_by_path(f for _, f in files))
        store = self.spec_of(
            {
                "name": spec.get("name", context.name),
                "expires_after": spec.get("expires_after"),
                "chunking_strategy": chunking,
                "metadata": spec.get("metadata", {}),
            },
            unique,
        )
        return DesiredResource(
            self.address(context.name), store, context.location, unique, same_content
        )

    def spec_of(
        self, view: Mapping[str, Any], files: Sequence[DesiredFile] = ()
    ) -> VectorStoreSpec:
        return VectorStoreSpec.of({**view, "files": {f.path: f.sha256 for f in files}})

    # --- the account

    def digest_view(self, resource: LiveResource) -> Any:
        volatile = {"last_active_at", "usage_bytes", "status", "file_counts", "expires_at"}
        return {
            "id": resource.id,
            "data": {k: x for k, x in resource.data.items() if k not in volatile},
            "files": sorted(
                [child["id"], dict(child.get("attributes") or {})] for child in resource.children
            ),
        }

    def file_ids(self, resource: LiveResource) -> tuple[str, ...]:
        return tuple(str(child["id"]) for child in resource.children)

    def file_paths(self, resource: LiveResource) -> Mapping[str, str]:
        return recorded_paths(resource.children)

    def live_spec(
        self, resource: LiveResource, context: PlanContext, wanted: Spec | None
    ) -> VectorStoreSpec:
        uploads = {r.id: r.name for r in context.live.of_kind("file")}
        files: dict[str, str | None] = {}
        for attached in resource.children:
            if attached.get("status") in UNUSABLE_FILE_STATUSES:
                continue
            attributes = attached.get("attributes") or {}
            path, sha = attributes.get(PATH_ATTRIBUTE), attributes.get(SHA256_ATTRIBUTE)
            if path and sha:
                files[str(path)] = str(sha)
            else:
                files[str(attached["id"])] = uploads.get(str(attached["id"]))
        strategies = [
            c["chunking_strategy"] for c in resource.children if c.get("chunking_strategy")
        ]
        # Chunking is per file: files attached together agree, otherwise the first one speaks.
        # With no file there is nothing that could differ, so the manifest's strategy stands.
        if strategies:
            chunking = Chunking.of(strategies[0])
        elif isinstance(wanted, VectorStoreSpec):
            chunking = wanted.chunking
        else:
            chunking = Chunking()
        data = resource.data
        spec = VectorStoreSpec.of(
            {
                "name": data.get("name"),
                "expires_after": data.get("expires_after"),
                "metadata": data.get("metadata"),
                "files": files,
            }
        )
        return VectorStoreSpec(spec.name, spec.expires_after, chunking, spec.metadata, spec.files)

    # --- planning

    def references(self, resource: DesiredResource) -> tuple[Address, ...]:
        return tuple(Address("file", f.path) for f in resource.files)

    def request(self, spec: Spec, context: PlanContext) -> dict[str, Any]:
        assert isinstance(spec, VectorStoreSpec)
        body: dict[str, Any] = {"name": spec.name, "metadata": dict(spec.metadata)}
        if spec.expires_after is not None:
            body["expires_after"] = spec.expires_after.view()
        return body

    def update_request(
        self, spec: Spec, live: LiveResource, context: PlanContext, fields: Sequence[str]
    ) -> dict[str, Any] | None:
        assert isinstance(spec, VectorStoreSpec)
        if not _STORE_FIELDS & set(fields):
            return None
        return {
            "name": spec.name,
            "metadata": dict(spec.metadata),
            "expires_after": spec.expires_after.view() if spec.expires_after else None,
        }

    def update_reason(self, fields: Sequence[str]) -> str:
        reason = "the account differs from the manifests"
        if "chunking_strategy" in fields:
            reason += "; a new chunking strategy re-attaches every file"
        return reason

    def follow_up(
        self,
        resource: DesiredResource,
        live: LiveResource | None,
        target: str | Ref,
        change: Change,
        context: PlanContext,
    ) -> list[Operation]:
        """Compare the store's attachments with the desired (path, sha256) pairs.

        Kept: an attachment whose attributes already say the desired pair. Moved: the same
        upload under a new path (or without attributes, e.g. after import) gets its attributes
        updated, one request each. Everything else desired is attached in file batches of at
        most ``files_per_batch``; everything else attached is detached after the attaches.
        """
        spec = resource.spec
        assert isinstance(spec, VectorStoreSpec)
        address = resource.address
        desired_pairs = {(f.path, f.sha256): f for f in resource.files}
        reattach_all = "chunking_strategy" in change.fields
        kept: set[tuple[str, str]] = set()
        unmatched: list[Mapping[str, Any]] = []
        for child in live.children if live is not None else ():
            pair = _pair(child)
            fresh = pair in desired_pairs and pair not in kept and not reattach_all
            if fresh and _serves(child, pair, context):
                kept.add(pair)
                continue
            unmatched.append(child)
        by_file_id = {str(child["id"]): child for child in unmatched}
        clear: list[Operation] = []
        retag: list[Operation] = []
        entries: list[dict[str, Any]] = []
        for (path, sha), _desired_file in sorted(desired_pairs.items()):
            if (path, sha) in kept:
                continue
            upload = context.uploads[sha]
            attributes = {SHA256_ATTRIBUTE: sha, PATH_ATTRIBUTE: path}
            present = by_file_id.pop(upload, None) if isinstance(upload, str) else None
            if present is not None and present.get("status") != "failed" and not reattach_all:
                retag.append(
                    Operation(
                        f"retag {address} {path}",
                        Verb.RETAG,
                        address,
                        self.collection,
                        target=target,
                        body={"file_id": upload, "attributes": attributes},
                        summary=path,
                    )
                )
                continue
            if present is not None:
                clear.append(self._detach(address, target, str(upload), path, "clear"))
            entries.append(
                {
                    "file_id": upload,
                    "attributes": attributes,
                    "chunking_strategy": spec.chunking.view(),
                }
            )
        clear_keys = tuple(op.key for op in clear)
        batches = [
            entries[start : start + context.files_per_batch]
            for start in range(0, len(entries), context.files_per_batch)
        ]
        attach = [
            Operation(
                f"attach {address} batch {number}",
                Verb.ATTACH,
                address,
                self.collection,
                target=target,
                body={"files": batch},
                after=clear_keys,
                summary=f"{len(batch)} file(s)",
            )
            for number, batch in enumerate(batches, start=1)
        ]
        attach_keys = tuple(op.key for op in [*attach, *retag])
        detach = [
            self._detach(
                address,
                target,
                file_id,
                (child.get("attributes") or {}).get(PATH_ATTRIBUTE) or file_id,
                "detach",
                after=attach_keys,
            )
            for file_id, child in by_file_id.items()
        ]
        operations = [*clear, *attach, *retag, *detach]
        if entries:
            operations.append(
                Operation(
                    f"wait {address}",
                    Verb.WAIT,
                    address,
                    self.collection,
                    target=target,
                    body={"file_ids": [entry["file_id"] for entry in entries]},
                    after=tuple(op.key for op in [*attach, *detach]),
                    summary=f"{len(entries)} file(s)",
                )
            )
        return operations

    def realign(
        self, resource: DesiredResource, live: LiveResource, change: Change, context: PlanContext
    ) -> tuple[str, list[Operation]] | None:
        """A path attached twice, or attached as a duplicate upload of its content (two applies
        at once): the view cannot show it, search answers every document twice."""
        seen: set[tuple[str, str]] = set()
        doubled = False
        for child in live.children:
            pair = _pair(child)
            if not pair[0] or child.get("status") in UNUSABLE_FILE_STATUSES:
                continue
            doubled = doubled or pair in seen or not _serves(child, pair, context)
            seen.add(pair)
        if not doubled:
            return None
        operations = self.follow_up(resource, live, live.id, change, context)
        return "a file is attached twice, or as a duplicate upload; the copies go", operations

    def _detach(
        self,
        address: Address,
        target: str | Ref,
        file_id: str,
        label: str,
        step: str,
        after: tuple[str, ...] = (),
    ) -> Operation:
        return Operation(
            f"{step} {address} {file_id}",
            Verb.DETACH,
            address,
            self.collection,
            target=target,
            body={"file_id": file_id},
            after=after,
            summary=label,
        )

    def warnings(self, context: PlanContext) -> list[str]:
        warnings = []
        wanted = {r.name for r in self.desired(context.desired)}
        for name, store in sorted(self.owned(context.live).items()):
            if name not in wanted:
                continue
            for attached in store.children:
                status = attached.get("status")
                if status in UNUSABLE_FILE_STATUSES:
                    attributes = attached.get("attributes") or {}
                    label = attributes.get(PATH_ATTRIBUTE) or attached["id"]
                    detail = (attached.get("last_error") or {}).get("message")
                    warnings.append(
                        f"vector_store.{name}: file {label} is {status} in the account"
                        + (f" ({detail})" if detail else "")
                        + "; apply attaches it again"
                    )
        return warnings

    # --- adopting

    def needs_tags(self, child: Mapping[str, Any]) -> bool:
        attributes = child.get("attributes") or {}
        return not (attributes.get(SHA256_ATTRIBUTE) and attributes.get(PATH_ATTRIBUTE))

    def adoption_tags(
        self,
        resource: DesiredResource,
        owner: str,
        children: Sequence[Mapping[str, Any]],
        filenames: Mapping[str, str],
    ) -> tuple[list[tuple[str, dict[str, Any], str]], list[str]]:
        """Files assistctl uploaded for this owner carry their sha256 in the filename: those
        that match a manifest file of this store are tagged with its path."""
        paths_by_sha: dict[str, list[str]] = {}
        for desired_file in resource.files:
            paths_by_sha.setdefault(desired_file.sha256, []).append(desired_file.path)
        tags: list[tuple[str, dict[str, Any], str]] = []
        unverified: list[str] = []
        for child in children:
            child_id = str(child["id"])
            filename = filenames.get(child_id, child_id)
            parsed = parse_upload_filename(filename)
            paths = paths_by_sha.get(parsed[1], []) if parsed and parsed[0] == owner else []
            if not parsed or not paths:
                unverified.append(filename)
                continue
            path = sorted(paths)[0]
            paths.remove(path)
            attributes = {
                **(child.get("attributes") or {}),
                SHA256_ATTRIBUTE: parsed[1],
                PATH_ATTRIBUTE: path,
            }
            tags.append((child_id, attributes, path))
        return tags, unverified

    # --- exporting

    def export(self, resource: LiveResource, context: ExportContext) -> ExportedDocument | None:
        name = context.names[resource.id]
        usable = [c for c in resource.children if c.get("status") not in UNUSABLE_FILE_STATUSES]
        notes = tuple(
            f"vector_store.{name}: file {child['id']} is {child.get('status')} in the account "
            "and is left out"
            for child in resource.children
            if child.get("status") in UNUSABLE_FILE_STATUSES
        )
        strategies = [c["chunking_strategy"] for c in usable if c.get("chunking_strategy")]
        data = resource.data
        store = VectorStoreSpec.of(
            {
                "name": data.get("name"),
                "expires_after": data.get("expires_after"),
                "chunking_strategy": strategies[0] if strategies else data.get("chunking_strategy"),
                "metadata": data.get("metadata"),
            }
        )
        spec: dict[str, Any] = {}
        if store.name is not None and store.name != name:
            spec["name"] = store.name
        if store.chunking != Chunking():
            spec["chunking_strategy"] = store.chunking.view()
        if store.expires_after is not None:
            spec["expires_after"] = store.expires_after.view()
        if store.metadata:
            spec["metadata"] = dict(store.metadata)
        paths = sorted({context.file_paths[str(c["id"])] for c in usable})
        if paths:
            spec["files"] = [context.manifest_path(path) for path in paths]
        return ExportedDocument(self.manifest_kind or "", name, resource.id, spec, notes=notes)

    def exported_file_ids(self, resource: LiveResource) -> tuple[str, ...]:
        return tuple(
            str(c["id"]) for c in resource.children if c.get("status") not in UNUSABLE_FILE_STATUSES
        )


def _pair(child: Mapping[str, Any]) -> tuple[str, str]:
    """The (manifest path, sha256) an attachment was tagged with ("" when not tagged)."""
    attributes = child.get("attributes") or {}
    return (str(attributes.get(PATH_ATTRIBUTE) or ""), str(attributes.get(SHA256_ATTRIBUTE) or ""))


def _serves(child: Mapping[str, Any], pair: tuple[str, str], context: PlanContext) -> bool:
    """An attachment serves its path when it is usable and is the upload the plan keeps for
    that content (a duplicate upload of it is deleted)."""
    if child.get("status") == "failed":
        return False
    kept = context.uploads.get(pair[1])
    return not isinstance(kept, str) or kept == str(child["id"])


def _not_text(source: Path) -> str | None:
    """Why a file is not text file_search can index (the first bad byte), or None."""
    try:
        raw = source.read_bytes()
    except OSError as exc:
        return f"cannot read it: {exc.strerror}"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"byte {exc.start} is {raw[exc.start]:#04x}"
    return None
