"""``assistctl show``: the live state of what a stack owns, in manifest terms.

Pure: a snapshot (and the manifests, for file paths) in, entries out; the CLI prints them as
text or JSON. Each kind says how its live resources read (``live_spec``), so a store shows its
logical name and the manifest paths of its files, not only ids.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistctl.errors import AssistctlError
from assistctl.kinds import KINDS, Registry
from assistctl.kinds.base import NamedKind, PlanContext
from assistctl.kinds.file import LiveUpload, upload_path
from assistctl.kinds.vector_store import FILES_PER_BATCH
from assistctl.model import PATH_ATTRIBUTE, Address, Desired, Live


@dataclass(frozen=True)
class Entry:
    """One owned resource: its address, id, fields and attached children."""

    address: str
    id: str
    fields: Mapping[str, Any]
    children: tuple[Mapping[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "id": self.id,
            "fields": dict(self.fields),
            "children": [dict(child) for child in self.children],
        }


def entries(desired: Desired, live: Live, kinds: Registry = KINDS) -> list[Entry]:
    """Every resource ``live`` holds, kinds in dependency order, by address."""
    context = PlanContext(desired, live, tuple(kinds), FILES_PER_BATCH)
    found: list[Entry] = []
    for kind in kinds:
        of_kind: list[Entry] = []
        seen: set[str] = set()
        for resource in sorted(live.of_kind(kind.name), key=lambda r: (r.created_at, r.id)):
            if isinstance(kind, NamedKind):
                # A second one of a name (drift the next plan removes) shows with its id.
                name = (
                    resource.name if resource.name not in seen else f"{resource.name}#{resource.id}"
                )
                seen.add(resource.name)
                view = kind.live_spec(resource, context, None).view()
                children = tuple(
                    {
                        "path": (child.get("attributes") or {}).get(PATH_ATTRIBUTE),
                        "file_id": child["id"],
                        "status": child.get("status"),
                    }
                    for child in resource.children
                )
                of_kind.append(Entry(str(kind.address(name)), resource.id, view, children))
            else:
                upload = LiveUpload.of(resource)
                path = upload_path(upload, upload.id, desired, ())
                fields = {
                    "filename": upload.filename,
                    "bytes": upload.bytes,
                    "sha256": upload.sha256,
                }
                of_kind.append(Entry(str(kind.address(path)), resource.id, fields))
        found.extend(sorted(of_kind, key=lambda e: e.address))
    return found


def select(found: Sequence[Entry], address: str | None, kinds: Registry = KINDS) -> list[Entry]:
    """All entries, or the one ``address`` (``KIND/NAME`` or ``KIND.NAME``) names."""
    if address is None:
        return list(found)
    kind, _, name = address.replace("/", ".", 1).partition(".")
    wanted = str(Address(kind, name))
    chosen = [e for e in found if e.address == wanted]
    if not chosen:
        known = [e.address.replace(".", "/", 1) for e in found]
        close = difflib.get_close_matches(address.replace(".", "/", 1), known, n=1, cutoff=0.8)
        raise AssistctlError(
            f"the stack owns no {address} in the account",
            hint=(f"did you mean {close[0]}? " if close else "")
            + ("it owns: " + ", ".join(known) if known else "it owns nothing"),
        )
    return chosen


def render_text(found: Sequence[Entry]) -> str:
    if not found:
        return "The stack owns nothing in the account.\n"
    lines: list[str] = []
    for entry in found:
        lines.append(f"{entry.address}  {entry.id}")
        for key, value in entry.fields.items():
            if value in (None, {}, [], ""):
                continue
            text = value if isinstance(value, str) and "\n" not in value else _compact(value)
            lines.append(f"    {key}: {text}")
        if entry.children:
            lines.append("    attached:")
            lines.extend(
                f"      {child['path'] or '(not tagged)'}  {child['file_id']}  {child['status']}"
                for child in entry.children
            )
        lines.append("")
    return "\n".join(lines)


def render_json(found: Sequence[Entry]) -> str:
    return json.dumps([e.to_json() for e in found], indent=2, ensure_ascii=False) + "\n"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
