"""Live account -> manifests: the way into assistctl for assistants that already exist.

``export`` reads assistants and vector stores (those a stack owns, or any, for adoption) and
writes them in the manifest format, one file per resource, so that ``plan`` on the result shows
no changes once the user has supplied the file contents the API will not hand out.

Three steps, data flowing one way: ``read`` (the only part that talks to the account: list
endpoints, plus a content download for files whose purpose allows it), ``build`` (pure: logical
names, paths, manifest documents, the notes for the user) and ``write`` (the only part that
touches the disk).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from assistctl.errors import AccountError, AssistctlError
from assistctl.model import (
    NAME_PATTERN,
    SHA256_ATTRIBUTE,
    LiveVectorStoreFile,
    code_interpreter_file_ids,
    ownership,
    parse_upload_filename,
    recorded_paths,
    vector_store_ids,
)
from assistctl.plan import (
    DEFAULT_CHUNKING_STRATEGY,
    DEFAULT_RESPONSE_FORMAT,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_P,
    UNUSABLE_FILE_STATUSES,
    normalize_assistant,
    normalize_chunking_strategy,
    normalize_vector_store,
)

if TYPE_CHECKING:
    import openai

API_VERSION = "assistctl/v1"
# Instructions longer than this many lines (or characters) go to prompts/NAME.md.
INLINE_INSTRUCTIONS_MAX_LINES = 3
INLINE_INSTRUCTIONS_MAX_CHARS = 240
UNDOWNLOADABLE_PURPOSE = "assistants"
CONCURRENCY = 8  # vector-store file lists read at once
_MAX_NAME_LENGTH = 63


# --- what is read ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """What to export: a stack's resources, every unowned resource, and/or explicit ids."""

    stack: str | None = None
    everything: bool = False
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountFile:
    """An uploaded file as the files endpoint describes it."""

    id: str
    filename: str
    bytes: int
    purpose: str


@dataclass(frozen=True)
class Resource:
    """An assistant or vector store as read, with its ownership metadata split out."""

    id: str
    data: Mapping[str, Any]
    owner: str | None
    logical_name: str | None
    files: tuple[LiveVectorStoreFile, ...] = ()

    @property
    def display_name(self) -> str | None:
        return self.data.get("name")


@dataclass(frozen=True)
class Source:
    """Everything ``build`` needs, read from the account in one go."""

    assistants: tuple[Resource, ...]
    vector_stores: tuple[Resource, ...]
    files: Mapping[str, AccountFile]
    contents: Mapping[str, bytes]
    notes: tuple[str, ...] = ()


# --- what is written ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the export directory, forward slashes
    content: bytes


@dataclass(frozen=True)
class MissingFile:
    """A file the manifests list but whose content the API would not give us."""

    path: str
    file_id: str
    bytes: int
    used_by: str


@dataclass(frozen=True)
class Adoption:
    """An exported resource no stack owns yet: ``assistctl import ADDRESS ID`` adopts it."""

    address: str  # assistant/NAME or vector_store/NAME
    id: str


@dataclass(frozen=True)
class Export:
    stack: str
    env: str | None
    outputs: tuple[OutputFile, ...]
    missing: tuple[MissingFile, ...] = ()
    adoptions: tuple[Adoption, ...] = ()
    notes: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    unverified: tuple[str, ...] = ()  # paths whose content the account cannot vouch for


# --- read --------------------------------------------------------------------------------------


def read(client: openai.OpenAI, selection: Selection) -> Source:
    """Read the selected resources, the vector stores they use, and their files' descriptions."""
    from assistctl.live import FILES_PAGE_SIZE, PAGE_SIZE, items, vector_store_files

    def listed(first_page: Callable[[], Any], what: str) -> list[dict[str, Any]]:
        # By alias: the SDK calls a JSON schema's ``schema`` field ``schema_`` in Python, the
        # API and the manifests say ``schema``. Nones are fields the account did not set.
        return [
            item.model_dump(mode="json", by_alias=True, exclude_none=True)
            for item in items(first_page, what=what)
        ]

    assistants = [
        _resource(a)
        for a in listed(lambda: client.beta.assistants.list(limit=PAGE_SIZE), "list assistants")
    ]
    stores = [
        _resource(v)
        for v in listed(lambda: client.vector_stores.list(limit=PAGE_SIZE), "list vector stores")
    ]
    chosen_assistants, chosen_stores, notes = select(assistants, stores, selection)

    def with_files(store: Resource) -> Resource:
        files = tuple(vector_store_files(client, store.id))
        return Resource(store.id, store.data, store.owner, store.logical_name, files)

    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="assistctl-export") as pool:
        stores_with_files = list(pool.map(with_files, chosen_stores))

    needed = _referenced_file_ids(chosen_assistants, stores_with_files)
    known: dict[str, AccountFile] = {}
    if needed:
        for item in listed(lambda: client.files.list(limit=FILES_PAGE_SIZE), "list files"):
            if item["id"] in needed:
                known[item["id"]] = AccountFile(
                    item["id"],
                    item.get("filename") or item["id"],
                    item.get("bytes") or 0,
                    item.get("purpose") or "",
                )
    contents: dict[str, bytes] = {}
    for file in known.values():
        if file.purpose != UNDOWNLOADABLE_PURPOSE:
            content = _download(client, file.id)
            if content is not None:
                contents[file.id] = content
    return Source(tuple(chosen_assistants), tuple(stores_with_files), known, contents, tuple(notes))


def _resource(data: Mapping[str, Any]) -> Resource:
    """Owned means both ownership keys, as in ``live.snapshot``."""
    owner, name = ownership(data.get("metadata"))
    if not (owner and name):
        owner = name = None
    return Resource(data["id"], dict(data), owner, name)


def _download(client: openai.OpenAI, file_id: str) -> bytes | None:
    """The file's bytes, or None when the account refuses to hand them out (it does for purpose
    ``assistants``, with a 400); throttling and server errors are retried like any read."""
    import openai

    from assistctl.retry import call

    try:
        return call(
            lambda: client.files.content(file_id).read(), what=f"download the content of {file_id}"
        )
    except AccountError as error:
        refused = error.__cause__
        if isinstance(refused, openai.APIStatusError) and refused.status_code in (400, 403, 404):
            return None
        raise


def _referenced_file_ids(assistants: Iterable[Resource], stores: Iterable[Resource]) -> set[str]:
    ids = {f.file_id for s in stores for f in s.files if f.status not in UNUSABLE_FILE_STATUSES}
    for assistant in assistants:
        ids.update(code_interpreter_file_ids(assistant.data))
    return ids


def stack_and_env(value: str) -> tuple[str, str | None]:
    """``STACK`` or ``STACK/ENV``, each a valid name, as the manifests will need them."""
    stack, _, env = value.partition("/")
    for part, what in ((stack, "stack"), (env, "environment")):
        if (part or what == "stack") and not re.fullmatch(NAME_PATTERN, part):
            raise AssistctlError(
                f"--stack {value!r}: {part!r} is not a valid {what} name",
                hint="names are 1-63 letters, digits, '_', '.' or '-', starting with a letter "
                "or digit; an environment's stack is STACK/ENV",
            )
    return stack, env or None


def select(
    assistants: list[Resource], stores: list[Resource], selection: Selection
) -> tuple[list[Resource], list[Resource], list[str]]:
    """The resources to export, plus the vector stores the chosen assistants use.

    Resources another stack owns are never exported into this one (planning them here would be
    an ownership clash); with ``--all`` they are skipped with a note, with ``--ids`` refused.
    """
    if not (selection.stack or selection.everything or selection.ids):
        raise AssistctlError(
            "choose what to export",
            hint="--stack NAME exports a stack; --all exports every unmanaged resource; "
            "--ids asst_…,vs_… exports those",
        )
    wanted_owner = selection.stack
    notes: list[str] = []
    by_id = {r.id: r for r in [*assistants, *stores]}
    unknown = [i for i in selection.ids if i not in by_id]
    if unknown:
        raise AssistctlError(
            f"not in the account: {', '.join(unknown)}",
            hint="ids are assistant (asst_…) and vector store (vs_…) ids; "
            "assistctl export --all lists everything unmanaged",
        )

    def foreign(resource: Resource) -> bool:
        return resource.owner is not None and resource.owner != wanted_owner

    for resource_id in selection.ids:
        resource = by_id[resource_id]
        if foreign(resource):
            raise AssistctlError(
                f"{resource_id} is managed by stack {resource.owner!r}",
                hint=f"export that stack with --stack {resource.owner}",
            )

    def chosen(resource: Resource) -> bool:
        if wanted_owner is not None and resource.owner == wanted_owner:
            return True
        if resource.id in selection.ids:
            return True
        return selection.everything and resource.owner is None

    chosen_assistants = [a for a in assistants if chosen(a)]
    if selection.everything:
        skipped = [r for r in [*assistants, *stores] if foreign(r)]
        if skipped:
            owners = sorted({r.owner for r in skipped})
            notes.append(
                f"skipped {len(skipped)} resource{'s' if len(skipped) != 1 else ''} managed by "
                f"other stacks ({', '.join(owners)}); export those with --stack"
            )
    store_ids = {s.id for s in stores if chosen(s)}
    for assistant in chosen_assistants:
        for store_id in vector_store_ids(assistant.data):
            store = by_id.get(store_id)
            if store is None:
                notes.append(f"{assistant.id} uses vector store {store_id}, which is gone")
            elif foreign(store):
                notes.append(
                    f"{assistant.id} uses vector store {store_id} of stack {store.owner!r}; "
                    "it is left out, so plan will show the assistant's tool_resources change"
                )
            else:
                store_ids.add(store_id)
    chosen_stores = [s for s in stores if s.id in store_ids]
    if not chosen_assistants and not chosen_stores:
        message = "nothing to export: the account holds no unmanaged assistant or vector store"
        if wanted_owner and not selection.everything:
            message = f"nothing to export: stack {wanted_owner!r} owns no assistant or vector store"
        raise AssistctlError(
            message,
            hint="check --stack (an environment's resources belong to STACK/ENV) and --account",
        )
    return chosen_assistants, chosen_stores, notes


# --- build (pure) ------------------------------------------------------------------------------


def build(source: Source, stack: str, env: str | None = None) -> Export:
    """The manifest files for ``source``, named and laid out for stack ``stack``."""
    owner = f"{stack}/{env}" if env else stack
    store_names = _logical_names(source.vector_stores, owner, "vector-store")
    assistant_names = _logical_names(source.assistants, owner, "assistant")
    paths = _file_paths(source, owner)

    outputs: list[OutputFile] = [_stack_file(stack, env)]
    missing: dict[str, MissingFile] = {}
    downloaded: dict[str, OutputFile] = {}
    unverified: set[str] = set()
    notes = list(source.notes)

    def use_file(file_id: str, used_by: str, recorded_sha: Any = None) -> str:
        path = paths[file_id]
        known = source.files.get(file_id)
        if not recorded_sha and not _assistctl_upload(known, owner, used_by):
            unverified.add(path)
        if file_id in source.contents:
            downloaded.setdefault(path, OutputFile(path, source.contents[file_id]))
        else:
            missing.setdefault(
                path, MissingFile(path, file_id, known.bytes if known else 0, used_by)
            )
        return path

    for store in source.vector_stores:
        name = store_names[store.id]
        usable = [f for f in store.files if f.status not in UNUSABLE_FILE_STATUSES]
        for dropped in (f for f in store.files if f.status in UNUSABLE_FILE_STATUSES):
            notes.append(
                f"vector_store.{name}: file {dropped.file_id} is {dropped.status} in the "
                "account and is left out"
            )
        file_paths = sorted(
            use_file(f.file_id, f"vector_store.{name}", f.attributes.get(SHA256_ATTRIBUTE))
            for f in usable
        )
        spec = _vector_store_spec(store, name, usable, file_paths)
        outputs.append(
            _manifest_file(f"vector_stores/{name}.yaml", "VectorStore", name, spec, store, missing)
        )

    for assistant in source.assistants:
        name = assistant_names[assistant.id]
        file_paths = [
            use_file(i, f"assistant.{name}")
            for i in code_interpreter_file_ids(assistant.data)
            if i in paths
        ]
        spec, prompt = _assistant_spec(assistant, name, store_names, file_paths)
        if not assistant.display_name:
            notes.append(
                f"assistant.{name} has no display name in the account; the manifest's default "
                f"(its logical name, {name!r}) is what the next apply sets"
            )
        notes.extend(
            f"assistant.{name}: function {function} has no parameters in the account; manifests "
            "need a schema, so it gets an empty one, which the next apply writes"
            for function in _functions_without_parameters(assistant)
        )
        if prompt is not None:
            outputs.append(prompt)
        outputs.append(
            _manifest_file(f"assistants/{name}.yaml", "Assistant", name, spec, assistant, missing)
        )

    outputs.extend(downloaded[p] for p in sorted(downloaded))
    adoptions = [
        Adoption(f"vector_store/{store_names[s.id]}", s.id)
        for s in source.vector_stores
        if s.owner != owner
    ] + [
        Adoption(f"assistant/{assistant_names[a.id]}", a.id)
        for a in source.assistants
        if a.owner != owner
    ]
    return Export(
        stack=stack,
        env=env,
        outputs=tuple(outputs),
        missing=tuple(missing[p] for p in sorted(missing)),
        adoptions=tuple(adoptions),
        notes=tuple(notes),
        counts={
            "assistants": len(source.assistants),
            "vector_stores": len(source.vector_stores),
            "files": len(downloaded) + len(missing),
        },
        unverified=tuple(sorted(unverified)),
    )


def _assistctl_upload(file: AccountFile | None, owner: str, used_by: str) -> bool:
    """Whether the plan can know this file's content without downloading it: an upload assistctl
    made carries its sha256 in the filename (``import`` tags such vector-store files; a
    code-interpreter file is recognised when this stack uploaded it)."""
    upload = parse_upload_filename(file.filename) if file else None
    if upload is None:
        return False
    return used_by.startswith("vector_store.") or upload[0] == owner


def slug(text: str | None, fallback: str) -> str:
    """A logical name from a display name: lower case, runs of other characters become '-'."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9_.]+", "-", ascii_text.lower()).strip("-._")
    cleaned = cleaned[:_MAX_NAME_LENGTH].rstrip("-._")
    return cleaned if re.fullmatch(NAME_PATTERN, cleaned or "") else fallback


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    counter = 2
    while True:
        suffix = f"-{counter}"
        candidate = name[: _MAX_NAME_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        counter += 1


def _logical_names(resources: Iterable[Resource], owner: str, fallback: str) -> dict[str, str]:
    """Owned resources keep their ``assistctl_name``; the others get a unique slug."""
    resources = sorted(resources, key=lambda r: (r.data.get("created_at") or 0, r.id))
    names: dict[str, str] = {}
    taken: set[str] = set()
    for resource in resources:
        if resource.owner == owner and resource.logical_name:
            names[resource.id] = resource.logical_name
            taken.add(resource.logical_name)
    for resource in resources:
        if resource.id not in names:
            names[resource.id] = _unique(slug(resource.display_name, fallback), taken)
            taken.add(names[resource.id])
    return names


def _file_paths(source: Source, owner: str) -> dict[str, str]:
    """A path (relative to the export directory) for every file: the manifest path recorded in
    the vector-store file's ``assistctl_path`` when there is one, else ``files/<filename>``."""
    recorded = recorded_paths(f for store in source.vector_stores for f in store.files)
    paths = {file_id: path for file_id, path in recorded.items() if _safe_relative(path)}
    taken = set(paths.values())
    ids = sorted(
        {f.file_id for s in source.vector_stores for f in s.files}
        | {i for a in source.assistants for i in code_interpreter_file_ids(a.data)}
    )
    for file_id in ids:
        if file_id in paths:
            continue
        known = source.files.get(file_id)
        filename = known.filename if known else file_id
        parsed = parse_upload_filename(filename)
        basename = PurePosixPath(parsed[2] if parsed else filename).name or file_id
        path = _unique_path(f"files/{basename}", taken)
        paths[file_id] = path
        taken.add(path)
    return paths


def _safe_relative(path: str) -> bool:
    pure = PurePosixPath(path)
    return not pure.is_absolute() and ".." not in pure.parts and bool(pure.parts)


def _unique_path(path: str, taken: set[str]) -> str:
    if path not in taken:
        return path
    pure = PurePosixPath(path)
    counter = 2
    while True:
        candidate = str(pure.with_name(f"{pure.stem}-{counter}{pure.suffix}"))
        if candidate not in taken:
            return candidate
        counter += 1


def _stack_file(stack: str, env: str | None) -> OutputFile:
    document: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Stack"}
    document["metadata"] = {"name": stack}
    if env:
        document["spec"] = {"environments": {env: {}}}
    header = "# The stack these manifests belong to (assistctl export).\n"
    if env:
        header += f"# Plan and apply them with --env {env}.\n"
    return OutputFile("stack.yaml", (header + _dump(document)).encode())


def _vector_store_spec(
    store: Resource, name: str, attached: list[LiveVectorStoreFile], file_paths: list[str]
) -> dict[str, Any]:
    strategies = [f.chunking_strategy for f in attached if f.chunking_strategy]
    view = normalize_vector_store(
        {
            "name": store.data.get("name"),
            "expires_after": store.data.get("expires_after"),
            "chunking_strategy": strategies[0]
            if strategies
            else store.data.get("chunking_strategy"),
            "metadata": store.data.get("metadata"),
        }
    )
    spec: dict[str, Any] = {}
    if view["name"] is not None and view["name"] != name:
        spec["name"] = view["name"]
    if view["chunking_strategy"] != normalize_chunking_strategy(DEFAULT_CHUNKING_STRATEGY):
        spec["chunking_strategy"] = view["chunking_strategy"]
    if view["expires_after"]:
        spec["expires_after"] = {
            "anchor": view["expires_after"].get("anchor", "last_active_at"),
            "days": view["expires_after"]["days"],
        }
    if view["metadata"]:
        spec["metadata"] = view["metadata"]
    if file_paths:
        spec["files"] = [_from_manifest_dir(p) for p in dict.fromkeys(file_paths)]
    return spec


def _assistant_spec(
    assistant: Resource, name: str, store_names: Mapping[str, str], file_paths: list[str]
) -> tuple[dict[str, Any], OutputFile | None]:
    data = assistant.data
    view = normalize_assistant(
        {
            **{key: data.get(key) for key in _ASSISTANT_FIELDS},
            "tool_resources": {
                "file_search": {
                    "vector_stores": [
                        store_names[i] for i in vector_store_ids(assistant.data) if i in store_names
                    ]
                },
                "code_interpreter": {"files": file_paths},
            },
        }
    )
    spec: dict[str, Any] = {"model": view["model"]}
    if view["name"] is not None and view["name"] != name:
        spec["name"] = view["name"]
    if view["description"]:
        spec["description"] = view["description"]
    prompt = None
    instructions = view["instructions"]
    if instructions is not None and _belongs_in_a_file(instructions):
        prompt = OutputFile(f"prompts/{name}.md", instructions.encode())
        spec["instructions_file"] = f"../prompts/{name}.md"
    else:
        spec["instructions"] = instructions or ""
    if view["tools"]:
        spec["tools"] = [_tool(tool) for tool in view["tools"]]
    resources = view["tool_resources"]
    if resources:
        spec["tool_resources"] = {}
        if "file_search" in resources:
            spec["tool_resources"]["file_search"] = resources["file_search"]
        if "code_interpreter" in resources:
            spec["tool_resources"]["code_interpreter"] = {
                "files": [_from_manifest_dir(p) for p in resources["code_interpreter"]["files"]]
            }
    if view["temperature"] != DEFAULT_TEMPERATURE:
        spec["temperature"] = view["temperature"]
    if view["top_p"] != DEFAULT_TOP_P:
        spec["top_p"] = view["top_p"]
    if view["response_format"] != DEFAULT_RESPONSE_FORMAT:
        spec["response_format"] = view["response_format"]
    if view["metadata"]:
        spec["metadata"] = view["metadata"]
    return spec, prompt


_ASSISTANT_FIELDS = (
    "name",
    "description",
    "model",
    "instructions",
    "tools",
    "temperature",
    "top_p",
    "response_format",
    "metadata",
)


def _belongs_in_a_file(instructions: str) -> bool:
    return (
        instructions.count("\n") >= INLINE_INSTRUCTIONS_MAX_LINES
        or len(instructions) > INLINE_INSTRUCTIONS_MAX_CHARS
    )


def _functions_without_parameters(assistant: Resource) -> list[str]:
    return [
        (tool.get("function") or {}).get("name", "?")
        for tool in assistant.data.get("tools") or ()
        if tool.get("type") == "function" and (tool.get("function") or {}).get("parameters") is None
    ]


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A normalised tool in manifest form: defaults left out, parameters inline."""
    if tool.get("type") != "function":
        return dict(tool)
    function = dict(tool["function"])
    if not function.get("strict"):
        function.pop("strict", None)
    if function.get("parameters") is None:
        function["parameters"] = {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def _from_manifest_dir(path: str) -> str:
    """Manifests live one directory down (assistants/, vector_stores/) and paths in them are
    relative to their own directory, while recorded paths are relative to the stack root."""
    return f"../{path}"


def _manifest_file(
    path: str,
    kind: str,
    name: str,
    spec: Mapping[str, Any],
    resource: Resource,
    missing: Mapping[str, MissingFile],
) -> OutputFile:
    document = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name},
        "spec": dict(spec),
    }
    header = f"# {kind} {resource.id}, exported by assistctl export.\n"
    text = _comment_missing_files(_dump(document), missing)
    return OutputFile(path, (header + text).encode())


class _IndentedDumper(yaml.SafeDumper):
    """Indents list items under their key (``key:\n  - item``), as hand-written manifests do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(document: Mapping[str, Any]) -> str:
    return yaml.dump(
        dict(document),
        Dumper=_IndentedDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def _comment_missing_files(text: str, missing: Mapping[str, MissingFile]) -> str:
    """Put a comment above each list item under a ``files:`` key whose content must be supplied.

    PyYAML cannot write comments, so they are added to its output: an item is recognised by
    the exact scalar PyYAML writes for the path, inside a ``files:`` block.
    """
    rendered = {_dump_scalar_item(_from_manifest_dir(p)): m for p, m in missing.items()}
    lines = text.splitlines(keepends=True)
    result: list[str] = []
    files_indent: int | None = None
    for line in lines:
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if files_indent is not None and not (indent >= files_indent and stripped.startswith("- ")):
            files_indent = None
        if files_indent is not None and stripped.rstrip("\n") in rendered:
            entry = rendered[stripped.rstrip("\n")]
            result.append(" " * indent + f"# {supply_note(entry)}\n")
        result.append(line)
        if stripped.rstrip("\n") == "files:":
            files_indent = indent
    return "".join(result)


def _dump_scalar_item(path: str) -> str:
    """How the dumper writes ``path`` as a list item: ``- path`` (quoted when YAML needs it)."""
    return yaml.dump([path], Dumper=_IndentedDumper, width=10_000, allow_unicode=True).strip()


def supply_note(entry: MissingFile) -> str:
    return (
        f"supply {entry.path} ({entry.file_id}, {human_size(entry.bytes)}): "
        "its content cannot be downloaded from the API"
    )


def headline(export: Export, directory: Path) -> str:
    counts = export.counts
    return (
        f"Exported {_counted(counts['assistants'], 'assistant')}, "
        f"{_counted(counts['vector_stores'], 'vector store')} "
        f"and {_counted(counts['files'], 'file')} as stack {export.stack!r} to {directory}/"
    )


def next_steps(export: Export, directory: Path, *, account_flag: str = "") -> list[str]:
    """What the user does after an export, as commands to run (``account_flag`` is
    `` --account X`` when the export read a non-default account, so the commands read it too)."""
    lines: list[str] = []
    if export.missing:
        lines.append(
            f"Supply {_counted(len(export.missing), 'file')} "
            "(the API does not hand out the content of files uploaded for assistants):"
        )
        lines.extend(
            f"  {directory / entry.path}  "
            f"({entry.file_id}, {human_size(entry.bytes)}, {entry.used_by})"
            for entry in export.missing
        )
    target = f"{directory}" + (f" --env {export.env}" if export.env else "")
    if export.adoptions:
        lines.append("Adopt what no stack manages yet:")
        lines.extend(
            f"  assistctl{account_flag} import {adoption.address} {adoption.id} {target}"
            for adoption in export.adoptions
        )
    lines.append(f"Then check: assistctl{account_flag} plan {target}")
    if export.unverified:
        lines.append(
            f"  expect no changes, except that {_counted(len(export.unverified), 'file')} "
            "uploaded by hand will be uploaded again (the API cannot vouch for their content)"
        )
    else:
        lines.append("  expect no changes")
    return lines


def _counted(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


# --- write -------------------------------------------------------------------------------------


def check_directory(directory: Path, *, force: bool = False) -> None:
    """Refuse a directory export would clobber; called before reading the account, too."""
    if directory.exists() and not directory.is_dir():
        raise AssistctlError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise AssistctlError(
            f"{directory}/ is not empty",
            hint="choose another directory with -o, or pass --force to overwrite the files "
            "export writes (others are left alone)",
        )


def write(export: Export, directory: Path, *, force: bool = False) -> list[Path]:
    """Write every output under ``directory``; refuses a non-empty directory unless ``force``."""
    check_directory(directory, force=force)
    written = []
    for output in export.outputs:
        target = directory / output.path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(output.content)
        except OSError as exc:
            raise AssistctlError(f"cannot write {target}: {exc.strerror or exc}") from exc
        written.append(target)
    for entry in export.missing:  # ready for the files the user supplies
        (directory / entry.path).parent.mkdir(parents=True, exist_ok=True)
    return written
