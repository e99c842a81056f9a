"""Live account -> manifests: the way into assistctl for resources that already exist.

``export`` reads the account's resources (those a stack owns, or any, for adoption) and writes
them in the manifest format, one file per resource, so that ``plan`` on the result shows no
changes once the user has supplied the file contents the API will not hand out.

Three steps, data flowing one way: ``read`` (through ``live``, the only reader: list endpoints,
plus a content download for files whose purpose allows it), ``build`` (pure: each kind writes
its own manifest document from its live resource; logical names, paths and notes are decided
here) and ``write`` (the only part that touches the disk).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from assistctl.backends.base import Backend
from assistctl.errors import AssistctlError
from assistctl.kinds import KINDS, Registry
from assistctl.kinds.base import ExportContext, ExportedDocument, ResourceKind
from assistctl.live import AccountObject, read_account
from assistctl.model import API_VERSION, NAME_PATTERN, owner_of, parse_upload_filename

UNDOWNLOADABLE_PURPOSE = "assistants"
CONCURRENCY = 8  # children lists read at once
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
class Source:
    """Everything ``build`` needs, read from the account in one go: the chosen resources of
    every kind (with their children), the files they use and the content that could be
    downloaded."""

    resources: tuple[AccountObject, ...]
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

    address: str  # KIND/NAME
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


def read(backend: Backend, selection: Selection, kinds: Registry = KINDS) -> Source:
    """Read the selected resources, the resources they use, their children and their files."""
    declared = Registry(kinds.manifest_kinds)
    objects = read_account(backend, declared, with_children=lambda _: False)
    chosen, notes = select(objects, selection, kinds)

    def with_children(obj: AccountObject) -> AccountObject:
        kind = kinds.named(obj.kind)
        if not kind.has_children:
            return obj
        children: tuple[Mapping[str, Any], ...] = tuple(
            backend.list_children(kind.collection, obj.id)
        )
        return AccountObject(obj.kind, obj.id, obj.owner, obj.name, obj.data, children)

    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="assistctl-export") as pool:
        resources = list(pool.map(with_children, chosen))

    needed = {
        file_id
        for obj in resources
        for file_id in kinds.named(obj.kind).exported_file_ids(obj.as_live(kinds.named(obj.kind)))
    }
    known: dict[str, AccountFile] = {}
    if needed:
        for item in backend.list("files"):
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
            content = backend.download(file.id)
            if content is not None:
                contents[file.id] = content
    return Source(tuple(resources), known, contents, tuple(notes))


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
    objects: Iterable[AccountObject], selection: Selection, kinds: Registry = KINDS
) -> tuple[list[AccountObject], list[str]]:
    """The resources to export, plus the resources the chosen ones use (an assistant's vector
    stores).

    Resources another stack owns are never exported into this one (planning them here would be
    an ownership clash); with ``--all`` they are skipped with a note, with ``--ids`` refused.
    """
    if not (selection.stack or selection.everything or selection.ids):
        raise AssistctlError(
            "choose what to export",
            hint="--stack NAME exports a stack; --all exports every unmanaged resource; "
            "--ids asst_…,vs_… exports those",
        )
    objects = list(objects)
    wanted_owner = selection.stack
    notes: list[str] = []
    by_id = {obj.id: obj for obj in objects}
    unknown = [i for i in selection.ids if i not in by_id]
    if unknown:
        raise AssistctlError(
            f"not in the account: {', '.join(unknown)}",
            hint="ids are assistant (asst_…) and vector store (vs_…) ids; "
            "assistctl export --all lists everything unmanaged",
        )

    def foreign(obj: AccountObject) -> bool:
        return obj.owner is not None and obj.owner != wanted_owner

    for resource_id in selection.ids:
        if foreign(by_id[resource_id]):
            raise AssistctlError(
                f"{resource_id} is managed by stack {by_id[resource_id].owner!r}",
                hint=f"export that stack with --stack {by_id[resource_id].owner}",
            )

    def chosen(obj: AccountObject) -> bool:
        if wanted_owner is not None and obj.owner == wanted_owner:
            return True
        if obj.id in selection.ids:
            return True
        return selection.everything and obj.owner is None

    picked = {obj.id for obj in objects if chosen(obj)}
    if selection.everything:
        skipped = [obj for obj in objects if foreign(obj)]
        if skipped:
            owners = sorted({str(obj.owner) for obj in skipped})
            notes.append(
                f"skipped {len(skipped)} resource{'s' if len(skipped) != 1 else ''} managed by "
                f"other stacks ({', '.join(owners)}); export those with --stack"
            )
    for obj in objects:
        if obj.id not in picked:
            continue
        for used_id in kinds.named(obj.kind).uses(obj.data):
            used = by_id.get(used_id)
            if used is None:
                notes.append(f"{obj.id} uses {used_id}, which is gone")
            elif foreign(used):
                notes.append(
                    f"{obj.id} uses {used_id} of stack {used.owner!r}; it is left out, so plan "
                    f"will show the {kinds.named(obj.kind).noun}'s references change"
                )
            else:
                picked.add(used_id)
    result = [obj for obj in objects if obj.id in picked]
    if not result:
        nouns = " or ".join(k.noun for k in reversed(tuple(kinds.manifest_kinds)))
        message = f"nothing to export: the account holds no unmanaged {nouns}"
        if wanted_owner and not selection.everything:
            message = f"nothing to export: stack {wanted_owner!r} owns no {nouns}"
        raise AssistctlError(
            message,
            hint="check --stack (an environment's resources belong to STACK/ENV) and --account",
        )
    return result, notes


# --- build (pure) ------------------------------------------------------------------------------


def build(
    source: Source,
    stack: str,
    env: str | None = None,
    kinds: Registry = KINDS,
    *,
    releases: str | None = None,
) -> Export:
    """The manifest files for ``source``, named and laid out for stack ``stack``. ``releases``
    is, in responses mode, the directory the assistants were read from (relative to the export
    directory): the Stack document points there, so the manifests plan against those releases."""
    owner = owner_of(stack, env)
    by_kind = {kind.name: [r for r in source.resources if r.kind == kind.name] for kind in kinds}
    names: dict[str, str] = {}
    for kind in kinds:
        names.update(_logical_names(by_kind[kind.name], owner, kind.name.replace("_", "-")))
    paths = _file_paths(source, kinds)
    context = ExportContext(names, paths)

    outputs: list[OutputFile] = [_stack_file(stack, env, releases)]
    missing: dict[str, MissingFile] = {}
    downloaded: dict[str, OutputFile] = {}
    unverified: set[str] = set()
    notes = list(source.notes)
    for kind in kinds:
        for obj in by_kind[kind.name]:
            live_resource = obj.as_live(kind)
            exported = kind.export(live_resource, context)
            if exported is None:
                continue
            used_by = f"{kind.name}.{exported.name}"
            recorded = kind.file_paths(live_resource)
            for file_id in kind.exported_file_ids(live_resource):
                path = paths[file_id]
                known = source.files.get(file_id)
                if file_id not in recorded and not _owned_upload(known, owner):
                    unverified.add(path)
                if file_id in source.contents:
                    downloaded.setdefault(path, OutputFile(path, source.contents[file_id]))
                else:
                    missing.setdefault(
                        path, MissingFile(path, file_id, known.bytes if known else 0, used_by)
                    )
            notes.extend(exported.notes)
            outputs.extend(OutputFile(path, content) for path, content in exported.files.items())
            outputs.append(_manifest_file(f"{kind.name}s/{exported.name}.yaml", exported, missing))

    outputs.extend(downloaded[p] for p in sorted(downloaded))
    adoptions = [
        Adoption(f"{kind.name}/{names[obj.id]}", obj.id)
        for kind in kinds
        for obj in by_kind[kind.name]
        if obj.owner != owner
    ]
    counts = {kind.noun: len(by_kind[kind.name]) for kind in reversed(tuple(kinds.manifest_kinds))}
    counts["file"] = len(downloaded) + len(missing)
    return Export(
        stack=stack,
        env=env,
        outputs=tuple(outputs),
        missing=tuple(missing[p] for p in sorted(missing)),
        adoptions=tuple(adoptions),
        notes=tuple(notes),
        counts=counts,
        unverified=tuple(sorted(unverified)),
    )


def _owned_upload(file: AccountFile | None, owner: str) -> bool:
    """Whether the plan can know this file's content without downloading it: an upload this
    stack made carries its sha256 in the filename."""
    upload = parse_upload_filename(file.filename) if file else None
    return upload is not None and upload[0] == owner


def _logical_names(resources: Iterable[AccountObject], owner: str, fallback: str) -> dict[str, str]:
    """Owned resources keep their ``assistctl_name``; the others get a unique slug."""
    resources = sorted(resources, key=lambda r: (r.data.get("created_at") or 0, r.id))
    names: dict[str, str] = {}
    taken: set[str] = set()
    for resource in resources:
        # A name from the account becomes a file name: only a valid logical name is kept as is.
        if resource.owner == owner and resource.name and re.fullmatch(NAME_PATTERN, resource.name):
            names[resource.id] = resource.name
            taken.add(resource.name)
    for resource in resources:
        if resource.id not in names:
            display = resource.data.get("name")
            names[resource.id] = _unique(slug(display, fallback), taken)
            taken.add(names[resource.id])
    return names


def _file_paths(source: Source, kinds: Registry) -> dict[str, str]:
    """A path (relative to the export directory) for every file: the manifest path a resource
    recorded for it when there is one, else ``files/<filename>``."""
    recorded: dict[str, str] = {}
    ids: set[str] = set()
    for obj in source.resources:
        kind: ResourceKind = kinds.named(obj.kind)
        live_resource = obj.as_live(kind)
        for file_id, path in kind.file_paths(live_resource).items():
            recorded.setdefault(file_id, path)
        ids.update(kind.file_ids(live_resource))
    paths = {file_id: path for file_id, path in recorded.items() if _safe_relative(path)}
    taken = set(paths.values())
    for file_id in sorted(ids):
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


def _stack_file(stack: str, env: str | None, releases: str | None) -> OutputFile:
    document: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Stack"}
    document["metadata"] = {"name": stack}
    spec: dict[str, Any] = {}
    if releases is not None:
        spec["api"] = "responses"
        if not env:
            spec["release_dir"] = releases
    if env:
        spec["environments"] = {env: {"release_dir": releases} if releases is not None else {}}
    if spec:
        document["spec"] = spec
    header = "# The stack these manifests belong to (assistctl export).\n"
    if env:
        header += f"# Plan and apply them with --env {env}.\n"
    return OutputFile("stack.yaml", (header + _dump(document)).encode())


def _manifest_file(
    path: str, exported: ExportedDocument, missing: Mapping[str, MissingFile]
) -> OutputFile:
    document = {
        "apiVersion": API_VERSION,
        "kind": exported.kind,
        "metadata": {"name": exported.name},
        "spec": dict(exported.spec),
    }
    header = f"# {exported.kind} {exported.resource_id}, exported by assistctl export.\n"
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
    rendered = {_dump_scalar_item(ExportContext.manifest_path(p)): m for p, m in missing.items()}
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
    counted = [_counted(number, noun) for noun, number in export.counts.items()]
    listed = ", ".join(counted[:-1]) + " and " + counted[-1] if len(counted) > 1 else counted[0]
    return f"Exported {listed} as stack {export.stack!r} to {directory}/"


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
    """Write every output under ``directory``; refuses a non-empty directory unless ``force``,
    and any output whose path would leave the directory."""
    check_directory(directory, force=force)
    root = directory.resolve()
    for output in export.outputs:
        if not (root / output.path).resolve().is_relative_to(root):
            raise AssistctlError(
                f"refusing to write {output.path}: the path leaves {directory}/",
                hint="report this: export names every file inside its output directory",
            )
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
