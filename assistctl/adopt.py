"""``assistctl import``: adopt a resource that already exists into a stack.

Adopting writes the ownership keys into the resource's metadata (keeping the rest), after
checking that nothing else claims it or the name; from then on it is planned like any other.
Children whose content can be verified (a vector store's files that assistctl uploaded) are
tagged with the attributes the planner reads, so the next plan recognises them.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistctl.backends.base import Backend
from assistctl.errors import ApplyError
from assistctl.kinds import KINDS, Registry
from assistctl.kinds.base import NamedKind
from assistctl.model import (
    MAX_METADATA_KEYS,
    NAME_KEY,
    STACK_KEY,
    Address,
    Desired,
    Live,
    ownership_metadata,
)


@dataclass(frozen=True)
class ImportResult:
    """What ``adopt`` did: the resource now owned, and its children by outcome."""

    address: str
    id: str
    already_owned: bool = False
    tagged_files: tuple[str, ...] = ()
    unverified_files: tuple[str, ...] = ()


def adopt(
    backend: Backend,
    desired: Desired,
    live: Live,
    address: Address,
    resource_id: str,
    *,
    kinds: Registry = KINDS,
) -> ImportResult:
    """Write the ownership keys into an existing resource (keeping its user metadata).

    A vector store's files are tagged with ``assistctl_sha256``/``assistctl_path`` only when
    their content is known: uploads that assistctl made (the sha256 is in the filename) and that
    match a manifest file of this store. The API does not let anyone download an ``assistants``
    upload, so other files cannot be verified; the next apply attaches verified uploads of the
    manifest files and detaches those.
    """
    kind = kinds.get(address.kind)
    if not isinstance(kind, NamedKind):
        importable = ", ".join(k.noun + "s" for k in kinds if isinstance(k, NamedKind))
        raise ApplyError(
            f"only {importable} can be imported",
            hint="uploads are recognised by content: apply uploads what the manifests need",
        )
    owner = desired.owner
    resource = desired.find(address)
    if resource is None:
        declared = ", ".join(sorted(r.name for r in desired.of_kind(kind.name))) or "none"
        raise ApplyError(
            f"{address} is not in the manifests (declared {kind.manifest_kind}s: {declared})",
            hint="declare it in a manifest first, then import it",
        )
    owned = {r.name: r.id for r in live.of_kind(kind.name)}
    if address.name in owned and owned[address.name] != resource_id:
        raise ApplyError(
            f"{address} is already managed by this stack as {owned[address.name]}",
            hint="remove that one first (or import this one under another name)",
        )
    existing = backend.retrieve(kind.collection, resource_id)
    metadata = dict(existing.get("metadata") or {})
    current_owner = metadata.get(STACK_KEY)
    if current_owner and current_owner != owner:
        raise ApplyError(
            f"{resource_id} belongs to stack {current_owner!r} "
            f"(as {metadata.get(NAME_KEY)!r}), not {owner!r}; refusing to take it over",
            hint="remove it from the other stack's manifests (or import it there)",
        )
    if current_owner == owner and metadata.get(NAME_KEY) not in (None, address.name):
        raise ApplyError(
            f"{resource_id} is already managed by this stack as "
            f"{kind.name}.{metadata.get(NAME_KEY)}"
        )
    already = current_owner == owner and metadata.get(NAME_KEY) == address.name
    user_keys = [k for k in metadata if k not in (STACK_KEY, NAME_KEY)]
    excess = len(user_keys) + 2 - MAX_METADATA_KEYS
    if excess > 0:
        raise ApplyError(
            f"{resource_id} has {len(user_keys)} metadata keys: the two ownership keys would "
            f"exceed the API's limit of {MAX_METADATA_KEYS}",
            hint=f"remove at least {excess} metadata key(s) from it (and the manifest), "
            "then import",
        )
    if not already:
        metadata.update(ownership_metadata(owner, address.name))
        backend.update(kind.collection, resource_id, {"metadata": metadata})
    tagged: list[str] = []
    unverified: list[str] = []
    if kind.has_children:
        children = backend.list_children(kind.collection, resource_id)
        untagged = [c for c in children if kind.needs_tags(c)]
        filenames = {
            str(c["id"]): str(backend.retrieve("files", str(c["id"])).get("filename") or c["id"])
            for c in untagged
        }
        tags, unverified = kind.adoption_tags(resource, owner, untagged, filenames)
        for child_id, attributes, label in tags:
            backend.update_child(kind.collection, resource_id, child_id, {"attributes": attributes})
            tagged.append(label)
    return ImportResult(address, resource_id, already, tuple(tagged), tuple(unverified))
