"""The planner: compare what the manifests want with what the account holds, and say what to do.

``plan(desired, live)`` is a pure function: no I/O, and the same inputs always give the same
changes in the same order. Both sides are first brought into one canonical *view* per resource
(see ``assistctl.model``) by ``normalize_assistant`` / ``normalize_vector_store``, so that server
defaults (``temperature: 1.0``, ``response_format: "auto"``, file-search ranking options, the
``auto`` chunking strategy) and ordering noise never show up as changes. Field differences come
from deepdiff on those views.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from deepdiff import DeepDiff

from assistctl.errors import PlanError
from assistctl.model import (
    KIND_ORDER,
    PATH_ATTRIBUTE,
    RESERVED_PREFIX,
    SHA256_ATTRIBUTE,
    Action,
    Change,
    Desired,
    DesiredFile,
    DesiredVectorStore,
    ForeignResource,
    Kind,
    Live,
    LiveAssistant,
    LiveUpload,
    LiveVectorStore,
    Plan,
    code_interpreter_file_ids,
    recorded_paths,
    upload_filename,
    vector_store_ids,
)

DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 1.0
DEFAULT_RESPONSE_FORMAT = "auto"
DEFAULT_RANKING_OPTIONS = {"ranker": "auto", "score_threshold": 0.0}
# The API answers the ranker ``auto`` resolved to, which today is always this one.
AUTO_RANKERS = frozenset({"auto", "default_2024_08_21"})
DEFAULT_CHUNKING_STRATEGY = {
    "type": "static",
    "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
}
# Vector-store files the account gave up on are not attached as far as the plan is concerned:
# the next apply attaches them again.
UNUSABLE_FILE_STATUSES = frozenset({"failed", "cancelled"})

_ASSISTANT_KEYS = (
    "name",
    "description",
    "model",
    "instructions",
    "tools",
    "tool_resources",
    "temperature",
    "top_p",
    "response_format",
    "metadata",
)
_VECTOR_STORE_KEYS = ("name", "expires_after", "chunking_strategy", "metadata", "files")
_TOOL_ORDER = {"file_search": 0, "code_interpreter": 1, "function": 2}
_FLOAT_DIGITS = 6


# --- normalisation ---------------------------------------------------------------------------


def default_max_num_results(model: str | None) -> int:
    """The file_search result count the API uses when none is given (per its documentation)."""
    return 5 if (model or "").startswith("gpt-3.5") else 20


def normalize_assistant(view: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical assistant view: every key present, defaults filled, ordering noise removed.

    Idempotent: ``normalize_assistant(normalize_assistant(v)) == normalize_assistant(v)``.
    """
    model = view.get("model")
    return {
        "name": view.get("name"),
        "description": view.get("description") or None,
        "model": model,
        "instructions": view.get("instructions") or None,
        "tools": _normalize_tools(view.get("tools") or (), model),
        "tool_resources": _normalize_tool_resources(view.get("tool_resources") or {}),
        "temperature": _number(view.get("temperature"), DEFAULT_TEMPERATURE),
        "top_p": _number(view.get("top_p"), DEFAULT_TOP_P),
        "response_format": _normalize_response_format(view.get("response_format")),
        "metadata": user_metadata(view.get("metadata")),
    }


def normalize_vector_store(view: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical vector-store view (idempotent, like ``normalize_assistant``)."""
    expires_after = view.get("expires_after")
    return {
        "name": view.get("name"),
        "expires_after": dict(expires_after) if expires_after else None,
        "chunking_strategy": normalize_chunking_strategy(view.get("chunking_strategy")),
        "metadata": user_metadata(view.get("metadata")),
        "files": {str(path): sha for path, sha in sorted((view.get("files") or {}).items())},
    }


def normalize_chunking_strategy(strategy: Mapping[str, Any] | None) -> dict[str, Any]:
    """``auto`` (or nothing) is the static 800/400 strategy the API applies for it."""
    if not strategy or strategy.get("type") == "auto":
        return _deep_copy(DEFAULT_CHUNKING_STRATEGY)
    if strategy.get("type") == "static":
        static = strategy.get("static") or {}
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": static.get(
                    "max_chunk_size_tokens",
                    DEFAULT_CHUNKING_STRATEGY["static"]["max_chunk_size_tokens"],
                ),
                "chunk_overlap_tokens": static.get(
                    "chunk_overlap_tokens",
                    DEFAULT_CHUNKING_STRATEGY["static"]["chunk_overlap_tokens"],
                ),
            },
        }
    return _deep_copy(dict(strategy))


def user_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Metadata without the reserved ownership keys, sorted by key."""
    return {
        key: value
        for key, value in sorted((metadata or {}).items())
        if not key.startswith(RESERVED_PREFIX)
    }


def _number(value: Any, default: float) -> float:
    return round(float(default if value is None else value), _FLOAT_DIGITS)


def _normalize_response_format(value: Any) -> Any:
    if value is None or value == DEFAULT_RESPONSE_FORMAT or value == {"type": "auto"}:
        return DEFAULT_RESPONSE_FORMAT
    if not isinstance(value, Mapping):
        return value
    normalized = {key: _deep_copy(item) for key, item in value.items() if item is not None}
    schema = normalized.get("json_schema")
    if isinstance(schema, dict):
        # The API answers every optional field (description: null, strict: null ≡ false).
        normalized["json_schema"] = {
            key: item
            for key, item in schema.items()
            if item is not None and not (key == "strict" and item is False)
        }
    return normalized


def _normalize_tools(tools: Iterable[Mapping[str, Any]], model: str | None) -> list[dict]:
    normalized = [_normalize_tool(tool, model) for tool in tools]
    return sorted(normalized, key=_tool_sort_key)


def _tool_sort_key(tool: Mapping[str, Any]) -> tuple[int, str]:
    kind = tool.get("type", "")
    name = (tool.get("function") or {}).get("name", "") if kind == "function" else ""
    return (_TOOL_ORDER.get(kind, len(_TOOL_ORDER)), f"{kind}:{name}")


def _normalize_tool(tool: Mapping[str, Any], model: str | None) -> dict[str, Any]:
    kind = tool.get("type")
    if kind == "file_search":
        options = dict(tool.get("file_search") or {})
        if options.get("max_num_results") in (None, default_max_num_results(model)):
            options.pop("max_num_results", None)
        ranking = options.get("ranking_options")
        if ranking is None or _ranking_is_default(ranking):
            options.pop("ranking_options", None)
        else:
            options["ranking_options"] = {
                key: _number(value, 0.0) if key == "score_threshold" else value
                for key, value in sorted(ranking.items())
            }
        return {"type": "file_search", "file_search": options} if options else {"type": kind}
    if kind == "function":
        function = tool.get("function") or {}
        normalized: dict[str, Any] = {"name": function.get("name")}
        if function.get("description"):
            normalized["description"] = function["description"]
        if function.get("parameters") is not None:
            normalized["parameters"] = _deep_copy(function["parameters"])
        normalized["strict"] = bool(function.get("strict") or False)
        return {"type": "function", "function": normalized}
    return {key: _deep_copy(value) for key, value in sorted(tool.items())}


def _ranking_is_default(ranking: Mapping[str, Any]) -> bool:
    ranker = ranking.get("ranker", DEFAULT_RANKING_OPTIONS["ranker"])
    threshold = ranking.get("score_threshold", DEFAULT_RANKING_OPTIONS["score_threshold"])
    return ranker in AUTO_RANKERS and float(threshold or 0.0) == 0.0


def _normalize_tool_resources(resources: Mapping[str, Any]) -> dict[str, Any]:
    normalized: dict[str, Any] = {}
    stores = sorted((resources.get("file_search") or {}).get("vector_stores") or ())
    if stores:
        normalized["file_search"] = {"vector_stores": stores}
    files = sorted((resources.get("code_interpreter") or {}).get("files") or ())
    if files:
        normalized["code_interpreter"] = {"files": files}
    return normalized


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _deep_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_deep_copy(item) for item in value]
    return value


# --- views of desired resources ---------------------------------------------------------------


def file_view(file: DesiredFile, owner: str) -> dict[str, Any]:
    return {
        "path": file.path,
        "sha256": file.sha256,
        "bytes": file.bytes,
        "filename": upload_filename(owner, file.sha256, file.basename),
    }


def upload_view(upload: LiveUpload, path: str | None = None) -> dict[str, Any]:
    """An uploaded file as the plan shows it; ``path`` is the manifest path it is attached as."""
    return {
        "path": path or upload.basename,
        "sha256": upload.sha256,
        "bytes": upload.bytes,
        "filename": upload.filename,
        "id": upload.id,
    }


def desired_vector_store_view(store: DesiredVectorStore) -> dict[str, Any]:
    """The files come from the resolved ``DesiredFile``s: they carry the content hashes."""
    return normalize_vector_store(
        {**store.view, "files": {file.path: file.sha256 for file in store.files}}
    )


# --- views of live resources ------------------------------------------------------------------


class _LiveIndex:
    """Lookups over one snapshot that the live views need: ids to logical names and paths."""

    def __init__(self, live: Live, desired: Desired | None) -> None:
        self.owner = live.owner
        self.store_names = {v.id: v.name for v in live.vector_stores if v.owner == live.owner}
        self.uploads = {u.id: u for u in live.uploads if u.owner == live.owner}
        self.paths_by_sha: dict[str, list[str]] = {}
        for file in desired.files if desired is not None else ():
            self.paths_by_sha.setdefault(file.sha256, []).append(file.path)

    def code_interpreter_path(self, file_id: str, preferred: Sequence[str]) -> str:
        """The manifest path of an attached file: matched by content, else ``basename@sha12``."""
        upload = self.uploads.get(file_id)
        if upload is None:
            return file_id
        paths = self.paths_by_sha.get(upload.sha256, [])
        if paths:
            ranked = sorted(
                paths,
                key=lambda p: (p not in preferred, p.rsplit("/", 1)[-1] != upload.basename, p),
            )
            return ranked[0]
        return f"{upload.basename}@{upload.sha256[:12]}"


def assistant_view(
    assistant: LiveAssistant, live: Live, desired: Desired | None = None
) -> dict[str, Any]:
    """The normalised view of a live assistant, in manifest terms (logical names, paths)."""
    index = _LiveIndex(live, desired)
    return _assistant_view(assistant, index, None)


def _assistant_view(
    assistant: LiveAssistant, index: _LiveIndex, desired_view: Mapping[str, Any] | None
) -> dict[str, Any]:
    data = assistant.data
    store_ids, file_ids = vector_store_ids(data), code_interpreter_file_ids(data)
    preferred = ((desired_view or {}).get("tool_resources") or {}).get("code_interpreter") or {}
    view = normalize_assistant(
        {
            **{key: data.get(key) for key in _ASSISTANT_KEYS if key != "tool_resources"},
            "tool_resources": {
                "file_search": {"vector_stores": [index.store_names.get(i, i) for i in store_ids]},
                "code_interpreter": {
                    "files": [
                        index.code_interpreter_path(i, preferred.get("files") or ())
                        for i in file_ids
                    ]
                },
            },
        }
    )
    if desired_view is not None:
        _accept_server_file_search_options(view, desired_view)
    return view


def _accept_server_file_search_options(
    live_view: dict[str, Any], desired_view: Mapping[str, Any]
) -> None:
    """A manifest that leaves ``max_num_results`` out accepts whatever the server chose."""
    wanted = next((t for t in desired_view["tools"] if t.get("type") == "file_search"), None)
    if wanted is None or "max_num_results" in (wanted.get("file_search") or {}):
        return
    for position, tool in enumerate(live_view["tools"]):
        if tool.get("type") == "file_search" and "file_search" in tool:
            options = {k: v for k, v in tool["file_search"].items() if k != "max_num_results"}
            live_view["tools"][position] = (
                {"type": "file_search", "file_search": options}
                if options
                else {"type": "file_search"}
            )


def vector_store_view(
    store: LiveVectorStore, live: Live, desired: Desired | None = None
) -> dict[str, Any]:
    """The normalised view of a live vector store: files keyed by their manifest path."""
    return _vector_store_view(store, _LiveIndex(live, desired), None)


def _vector_store_view(
    store: LiveVectorStore, index: _LiveIndex, desired_view: Mapping[str, Any] | None
) -> dict[str, Any]:
    files: dict[str, Any] = {}
    for attached in store.files:
        if attached.status in UNUSABLE_FILE_STATUSES:
            continue
        attributes = attached.attributes or {}
        path, sha = attributes.get(PATH_ATTRIBUTE), attributes.get(SHA256_ATTRIBUTE)
        if path and sha:
            files[str(path)] = sha
        else:
            upload = index.uploads.get(attached.file_id)
            files[attached.file_id] = upload.sha256 if upload else None
    strategies = [f.chunking_strategy for f in store.files if f.chunking_strategy]
    # Chunking is per file: files attached together agree, otherwise the first one speaks. With
    # no file there is nothing that could differ, so the manifest's strategy stands.
    chunking = strategies[0] if strategies else (desired_view or {}).get("chunking_strategy")
    return normalize_vector_store(
        {
            "name": store.data.get("name"),
            "expires_after": store.data.get("expires_after"),
            "chunking_strategy": chunking,
            "metadata": store.data.get("metadata"),
            "files": files,
        }
    )


# --- diffing ----------------------------------------------------------------------------------


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Top-level keys whose values differ, in view order."""
    if before == after:
        return ()  # the common case, decided without building a diff
    difference = DeepDiff(
        dict(before), dict(after), ignore_numeric_type_changes=True, verbose_level=0
    )
    affected = set(difference.affected_root_keys)
    order = list(after) + [key for key in before if key not in after]
    return tuple(key for key in order if key in affected)


# --- targets ----------------------------------------------------------------------------------

_KIND_ALIASES = {
    "assistant": Kind.ASSISTANT,
    "assistants": Kind.ASSISTANT,
    "vectorstore": Kind.VECTOR_STORE,
    "vectorstores": Kind.VECTOR_STORE,
    "file": Kind.FILE,
    "files": Kind.FILE,
}


def parse_target(text: str) -> tuple[Kind, str]:
    """``assistant/support-bot``, ``VectorStore/handbook``, ``file/docs/a.md`` (or KIND.NAME)."""
    match = re.fullmatch(r"\s*([A-Za-z_-]+)[/.](.+?)\s*", text)
    alias = match.group(1).replace("_", "").replace("-", "").lower() if match else ""
    kind = _KIND_ALIASES.get(alias)
    if match is None or kind is None:
        raise PlanError(
            f"--target {text!r} is not KIND/NAME",
            hint="use assistant/NAME, vector_store/NAME or file/PATH",
        )
    return kind, match.group(2)


# --- the planner ------------------------------------------------------------------------------


def plan(desired: Desired, live: Live, *, targets: Sequence[str] = ()) -> Plan:
    """Everything that must change for the account to match the manifests, in apply order."""
    owner = desired.owner
    if live.owner != owner:
        raise PlanError(
            f"the account snapshot is for {live.owner!r} but the manifests are for {owner!r}"
        )
    live_assistants = _owned_by_name(live.assistants, owner, Kind.ASSISTANT)
    live_stores = _owned_by_name(live.vector_stores, owner, Kind.VECTOR_STORE)
    index = _LiveIndex(live, desired)
    warnings: list[str] = []

    changes = _file_changes(desired, live, live_assistants, live_stores)
    for store in desired.vector_stores:
        after = desired_vector_store_view(store)
        changes.append(
            _resource_change(
                Kind.VECTOR_STORE,
                store.name,
                after,
                live_stores.get(store.name),
                lambda existing, view=after: _vector_store_view(existing, index, view),
                desired,
                live.foreign,
                warnings,
            )
        )
    for assistant in desired.assistants:
        after = normalize_assistant(assistant.view)
        changes.append(
            _resource_change(
                Kind.ASSISTANT,
                assistant.name,
                after,
                live_assistants.get(assistant.name),
                lambda existing, view=after: _assistant_view(existing, index, view),
                desired,
                live.foreign,
                warnings,
            )
        )
    changes.extend(_resource_deletes(desired, live_assistants, live_stores, index))
    warnings.extend(_indexing_warnings(desired, live_stores))
    warnings.extend(_same_content_warnings(desired))

    if targets:
        selected = _select_targets(desired, changes, targets)
        changes = [c for c in changes if c.address in selected]
        warnings.append(
            "targeting is in effect: only "
            + ", ".join(sorted(selected))
            + " were planned; the rest of the stack may still differ"
        )
    return Plan(
        stack=desired.stack,
        env=desired.env,
        changes=tuple(_ordered(changes)),
        desired_digest=desired.digest(),
        live_digest=live.digest(),
        warnings=tuple(warnings),
    )


def _owned_by_name(
    resources: Iterable[LiveAssistant | LiveVectorStore], owner: str, kind: Kind
) -> dict[str, Any]:
    """Owned resources by logical name; two with one name is an ownership clash, not a plan."""
    by_name: dict[str, Any] = {}
    for resource in sorted(resources, key=lambda r: r.id):
        if resource.owner != owner:
            continue
        if resource.name in by_name:
            first = by_name[resource.name]
            raise PlanError(
                f"{kind.value}.{resource.name}: two {kind.manifest_kind} resources in the "
                f"account claim this name for {owner!r}: {first.id} and {resource.id}",
                hint=f"delete the one you do not want (e.g. {resource.id}) in the dashboard or "
                "through the API, then plan again",
            )
        by_name[resource.name] = resource
    return by_name


def _resource_change(
    kind: Kind,
    name: str,
    after: dict[str, Any],
    existing: LiveAssistant | LiveVectorStore | None,
    live_view: Callable[[Any], dict[str, Any]],
    desired: Desired,
    foreign: Sequence[ForeignResource],
    warnings: list[str],
) -> Change:
    address = f"{kind.value}.{name}"
    if existing is None:
        _check_name_clash(kind, name, after, desired, foreign, warnings)
        return Change(address, Action.CREATE, None, after, reason="not in the account")
    before = live_view(existing)
    fields = changed_fields(before, after)
    if not fields:
        return Change(address, Action.NO_OP, before, after, id=existing.id)
    if before.get("name") != after.get("name"):
        _check_name_clash(kind, name, after, desired, foreign, warnings)
    reason = "the account differs from the manifests"
    if kind is Kind.VECTOR_STORE and "chunking_strategy" in fields:
        reason += "; a new chunking strategy re-attaches every file"
    return Change(address, Action.UPDATE, before, after, fields, reason, existing.id)


def _check_name_clash(
    kind: Kind,
    name: str,
    after: Mapping[str, Any],
    desired: Desired,
    foreign: Sequence[ForeignResource],
    warnings: list[str],
) -> None:
    """Unmanaged namesakes are a warning (they may be meant for import); another stack's are an
    error; another environment of this stack is a different owner by design."""
    display_name = after.get("name")
    for resource in sorted(foreign, key=lambda r: r.id):
        if resource.kind is not kind or resource.display_name != display_name:
            continue
        if resource.owner is None:
            warnings.append(
                f"{kind.value}.{name}: the account already has an unmanaged "
                f"{kind.manifest_kind} named {display_name!r} ({resource.id}); to manage it "
                f"instead of creating another, run: assistctl import {kind.value}/{name} "
                f"{resource.id}"
            )
        elif resource.owner.split("/", 1)[0] != desired.stack:
            raise PlanError(
                f"{kind.value}.{name}: the {kind.manifest_kind} name {display_name!r} is already "
                f"used by {resource.id}, owned by stack {resource.owner!r}",
                hint="give this resource another display name (spec.name), or remove it from "
                "the other stack first",
            )


def _file_changes(
    desired: Desired,
    live: Live,
    live_assistants: Mapping[str, LiveAssistant],
    live_stores: Mapping[str, LiveVectorStore],
) -> list[Change]:
    """Files are identified by content: unchanged content is a no-op, new content an upload, and
    new content under a path the account already has attached replaces the old upload."""
    owner = desired.owner
    uploads = sorted((u for u in live.uploads if u.owner == owner), key=lambda u: u.id)
    store_files = [attached for store in live_stores.values() for attached in store.files]
    attached_path = recorded_paths(store_files)  # upload id -> manifest path it is attached as
    attached_ids = {attached.file_id for attached in store_files}
    code_interpreter_ids = {
        file_id
        for assistant in live_assistants.values()
        for file_id in code_interpreter_file_ids(assistant.data)
    }
    attached_ids |= code_interpreter_ids

    wanted_shas = {f.sha256 for f in desired.files}
    by_sha: dict[str, list[LiveUpload]] = {}
    for upload in uploads:
        by_sha.setdefault(upload.sha256, []).append(upload)

    changes: list[Change] = []
    consumed: set[str] = set()
    created_by_sha: dict[str, str] = {}
    for file in desired.files:
        address = f"file.{file.path}"
        after = file_view(file, owner)
        holders = by_sha.get(file.sha256)
        if holders:
            keep = min(holders, key=lambda u: (u.id not in attached_ids, u.id))
            before = upload_view(keep, attached_path.get(keep.id, file.path))
            changes.append(Change(address, Action.NO_OP, before, after, id=keep.id))
            consumed.add(keep.id)
            continue
        if file.sha256 in created_by_sha:
            changes.append(
                Change(
                    address,
                    Action.NO_OP,
                    None,
                    after,
                    reason=f"same content as file.{created_by_sha[file.sha256]} (uploaded once)",
                )
            )
            continue
        replaced = _replaced_upload(
            file, uploads, attached_path, code_interpreter_ids, wanted_shas, consumed
        )
        if replaced is None:
            created_by_sha[file.sha256] = file.path
            changes.append(Change(address, Action.CREATE, None, after, reason="new content"))
            continue
        consumed.add(replaced.id)
        before = upload_view(replaced, file.path)
        changes.append(
            Change(
                address,
                Action.REPLACE,
                before,
                after,
                changed_fields(before, {**after, "id": replaced.id}),
                f"content changed (sha256 {replaced.sha256[:12]} → {file.sha256[:12]}); "
                "the API cannot change an upload's content",
                replaced.id,
            )
        )

    taken: set[str] = set()
    for upload in uploads:
        if upload.id in consumed:
            continue
        if upload.sha256 in wanted_shas:
            if upload.id in attached_ids:
                continue  # a duplicate still in use: the resource change re-points it first
            reason = "a duplicate upload of content another upload already holds"
        else:
            reason = "no manifest uses this content any more"
        address = f"file.{upload.basename}@{upload.sha256[:12]}"
        if address in taken:
            address = f"{address}#{upload.id}"
        taken.add(address)
        before = upload_view(upload, attached_path.get(upload.id))
        changes.append(Change(address, Action.DELETE, before, None, reason=reason, id=upload.id))
    return changes


def _replaced_upload(
    file: DesiredFile,
    uploads: Sequence[LiveUpload],
    attached_path: Mapping[str, str],
    code_interpreter_ids: set[str],
    wanted_shas: set[str],
    consumed: set[str],
) -> LiveUpload | None:
    """The owned upload this file's new content replaces: attached under the same path (vector
    stores record it) or, for code-interpreter files, under the same basename."""
    for upload in uploads:
        if upload.id in consumed or upload.sha256 in wanted_shas:
            continue
        if attached_path.get(upload.id) == file.path:
            return upload
    for upload in uploads:
        if upload.id in consumed or upload.sha256 in wanted_shas:
            continue
        if upload.id in code_interpreter_ids and upload.basename == file.basename:
            return upload
    return None


def _resource_deletes(
    desired: Desired,
    live_assistants: Mapping[str, LiveAssistant],
    live_stores: Mapping[str, LiveVectorStore],
    index: _LiveIndex,
) -> list[Change]:
    """The prune: resources this owner holds that no manifest names any more."""
    reason = f"owned by {desired.owner!r} but no longer in the manifests"
    wanted_assistants = {a.name for a in desired.assistants}
    wanted_stores = {v.name for v in desired.vector_stores}
    changes = [
        Change(
            f"assistant.{name}",
            Action.DELETE,
            _assistant_view(assistant, index, None),
            None,
            reason=reason,
            id=assistant.id,
        )
        for name, assistant in live_assistants.items()
        if name not in wanted_assistants
    ]
    changes.extend(
        Change(
            f"vector_store.{name}",
            Action.DELETE,
            _vector_store_view(store, index, None),
            None,
            reason=reason,
            id=store.id,
        )
        for name, store in live_stores.items()
        if name not in wanted_stores
    )
    return changes


def _same_content_warnings(desired: Desired) -> list[str]:
    """Why a path the manifest lists is not attached: another path holds the same bytes."""
    holders = [(f"vector_store.{v.name}", v.same_content) for v in desired.vector_stores]
    holders += [(f"assistant.{a.name}", a.same_content) for a in desired.assistants]
    return [
        f"{address}: {path} has the same content as {kept}; it is attached once, as {kept}"
        for address, pairs in holders
        for path, kept in pairs
    ]


def _indexing_warnings(desired: Desired, live_stores: Mapping[str, LiveVectorStore]) -> list[str]:
    warnings = []
    wanted = {v.name for v in desired.vector_stores}
    for name in sorted(wanted & set(live_stores)):
        for attached in live_stores[name].files:
            if attached.status in UNUSABLE_FILE_STATUSES:
                label = (attached.attributes or {}).get(PATH_ATTRIBUTE) or attached.file_id
                detail = (attached.last_error or {}).get("message")
                warnings.append(
                    f"vector_store.{name}: file {label} is {attached.status} in the account"
                    + (f" ({detail})" if detail else "")
                    + "; apply attaches it again"
                )
    return warnings


def _select_targets(
    desired: Desired, changes: Sequence[Change], targets: Sequence[str]
) -> set[str]:
    """The targeted addresses plus everything they depend on."""
    assistants = {a.name: a for a in desired.assistants}
    stores = {v.name: v for v in desired.vector_stores}
    addresses = {c.address for c in changes}
    selected: set[str] = set()

    def add_store(name: str) -> None:
        selected.add(f"vector_store.{name}")
        for file in stores[name].files if name in stores else ():
            selected.add(f"file.{file.path}")

    for target in targets:
        kind, name = parse_target(target)
        address = f"{kind.value}.{name}"
        if kind is Kind.ASSISTANT and name in assistants:
            selected.add(address)
            resources = assistants[name].view.get("tool_resources") or {}
            for store in (resources.get("file_search") or {}).get("vector_stores") or ():
                add_store(store)
            for file in assistants[name].code_interpreter_files:
                selected.add(f"file.{file.path}")
        elif kind is Kind.VECTOR_STORE and name in stores:
            add_store(name)
        elif address in addresses:
            selected.add(address)
        else:
            known = sorted(a.replace(".", "/", 1) for a in addresses)
            raise PlanError(
                f"--target {target}: no {kind.value} named {name!r} in the manifests or owned "
                "in the account",
                hint="known targets: " + (", ".join(known) if known else "none"),
            )
    return selected


def _ordered(changes: Iterable[Change]) -> list[Change]:
    """Creates, updates, replaces and no-ops in dependency order; then deletes, reversed."""
    changes = list(changes)
    forward = sorted(
        (c for c in changes if c.action is not Action.DELETE),
        key=lambda c: (KIND_ORDER[c.kind], c.address),
    )
    deletes = sorted(
        (c for c in changes if c.action is Action.DELETE),
        key=lambda c: (-KIND_ORDER[c.kind], c.address),
    )
    return forward + deletes
