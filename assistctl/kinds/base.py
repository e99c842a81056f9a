"""What a resource kind is: the contract between one kind's module and the stages that iterate
over every kind (planner, applier, snapshot, exporter, manifest loader) without naming any.

A kind owns its typed spec and every translation of it: manifest -> spec (``build``), API
object -> spec (``live_spec``, the normalisation that hides server defaults), spec -> API
request (``request``), spec -> manifest (``export``); its dependencies (``references``); and how
its resources are planned into changes and operations (``plan``). Kinds that identify resources
by a logical name in their metadata share ``NamedKind``, which does the matching, the name-clash
checks and the prune; the file kind identifies uploads by content instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol

from assistctl.errors import PlanError
from assistctl.model import (
    ALTERED_KEY,
    RESERVED_PREFIX,
    Action,
    Address,
    Change,
    Desired,
    DesiredFile,
    DesiredResource,
    ForeignResource,
    Live,
    LiveResource,
    Location,
    Operation,
    Ref,
    Spec,
    Verb,
    ownership,
    ownership_metadata,
)
from assistctl.schemas import packaged_schema

FieldPath = tuple[str | int, ...]


# --- building from manifests ------------------------------------------------------------------


class BuildContext(Protocol):
    """One manifest document as the loader hands it to its kind: the interpolated ``spec``,
    where it is, and the loader's services. Problems are collected, not raised, so one run
    reports all of them."""

    name: str
    spec: Mapping[str, Any]
    location: Location
    directory: Path

    def problem(self, path: FieldPath, message: str, hint: str | None = None) -> None: ...

    def problem_in(
        self, given: str, line: int | None, field: str, message: str, hint: str | None = None
    ) -> None:
        """A problem inside a file the manifest refers to (``given``, relative to it)."""

    def expand_files(
        self, path: FieldPath, patterns: Sequence[str]
    ) -> list[tuple[int, DesiredFile]]:
        """Each pattern's files (globs expanded, hashed), paired with the pattern's index."""

    def read_text(self, path: FieldPath, given: str) -> str | None:
        """A UTF-8 file next to the manifest, or None (with a problem reported)."""

    def declared(self, manifest_kind: str) -> set[str]:
        """The logical names the manifests declare for a kind, for reference checks."""

    def suggestion(self, name: str, candidates: set[str], what: str) -> str: ...


# --- planning -------------------------------------------------------------------------------


@dataclass
class PlanContext:
    """One planning run, shared by the kinds in dependency order.

    ``ids`` records, for every resource planned so far, the id it will have once the plan is
    applied: a live id, or a ``Ref`` to the operation that creates it. ``uploads`` does the same
    per content (sha256). Later kinds read them to point at what earlier kinds create.
    """

    desired: Desired
    live: Live
    kinds: Sequence[ResourceKind]
    files_per_batch: int
    command: str = "assistctl"  # how hints name assistctl (with --account when one was given)
    destroy: bool = False  # a destroy plan: every owned resource goes
    replace: frozenset[str] = frozenset()  # addresses to replace by new objects (--replace)
    ids: dict[str, str | Ref] = field(default_factory=dict)
    uploads: dict[str, str | Ref] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def owner(self) -> str:
        return self.desired.owner

    def id_after_apply(self, address: str) -> str | Ref | None:
        return self.ids.get(address)


@dataclass(frozen=True)
class ResourcePlan:
    """One resource's change and the operations that carry it out (none for a no-op)."""

    change: Change
    operations: tuple[Operation, ...] = ()


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Top-level keys whose values differ, in view order."""
    if before == after:
        return ()  # the common case, decided without building a diff
    # Start-up: deepdiff costs ~390 ms to import (pydantic, asyncio); validate never diffs.
    from deepdiff import DeepDiff

    difference = DeepDiff(
        dict(before), dict(after), ignore_numeric_type_changes=True, verbose_level=0
    )
    affected = set(difference.affected_root_keys)
    order = list(after) + [key for key in before if key not in after]
    return tuple(key for key in order if key in affected)


def user_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Metadata without the reserved ownership keys, sorted by key."""
    return {
        key: value
        for key, value in sorted((metadata or {}).items(), key=lambda item: str(item[0]))
        if not str(key).startswith(RESERVED_PREFIX)
    }


# --- exporting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedDocument:
    """A manifest document export writes: ``spec`` in manifest form, ``files`` the extra
    files it needs beside it (a long prompt), keyed by path relative to the export root."""

    kind: str
    name: str
    resource_id: str
    spec: Mapping[str, Any]
    files: Mapping[str, bytes] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportContext:
    """What export knows while it writes one resource: the logical names chosen for every
    exported resource (by id) and the path each exported file will have (by file id), relative
    to the stack root. Manifests are written one directory down (``assistants/``), and paths in
    a manifest are relative to its own directory: ``manifest_path`` turns one into the other."""

    names: Mapping[str, str]
    file_paths: Mapping[str, str]

    @staticmethod
    def manifest_path(path: str) -> str:
        return f"../{path}"


# --- the kinds ------------------------------------------------------------------------------


class ResourceKind(ABC):
    """One kind of resource. ``name`` is its address form (``vector_store``), ``manifest_kind``
    its YAML ``kind`` (None when no manifest declares it directly), ``collection`` its API
    collection, ``depends_on`` the kinds its resources point at (they are planned first)."""

    name: ClassVar[str]
    manifest_kind: ClassVar[str | None]
    noun: ClassVar[str]
    collection: ClassVar[str]
    depends_on: ClassVar[tuple[str, ...]] = ()
    has_children: ClassVar[bool] = False
    list_query: ClassVar[Mapping[str, str]] = {}
    target_placeholder: ClassVar[str] = "NAME"
    hidden_when_created: ClassVar[frozenset[str]] = frozenset()

    def address(self, name: str) -> Address:
        return Address(self.name, name)

    def schema(self) -> Mapping[str, Any]:
        """The JSON Schema of this kind's manifest documents (shipped in ``assistctl/schemas``
        as ``<name>.json``; a kind that lives elsewhere returns its own)."""
        return packaged_schema(f"{self.name}.json")

    # --- manifests

    def build(self, context: BuildContext) -> DesiredResource | None:
        """The desired resource a manifest document declares; problems go to ``context``."""
        raise NotImplementedError(f"{self.name} resources are not declared in manifests")

    def desired(self, desired: Desired) -> tuple[DesiredResource, ...]:
        return desired.of_kind(self.name)

    def references(self, resource: DesiredResource) -> tuple[Address, ...]:
        """The resources this one uses (``--target`` brings them along)."""
        return ()

    # --- the account

    @abstractmethod
    def identify(self, data: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """``(owner, logical name)`` of an API object; None for what no stack owns."""

    def uses(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        """Ids of other resources an API object points at (export brings them along)."""
        return ()

    def display_name(self, data: Mapping[str, Any]) -> str | None:
        name = data.get("name")
        return str(name) if name is not None else None

    def digest_view(self, resource: LiveResource) -> Any:
        """What of a live resource makes a saved plan stale when it changes."""
        return {"id": resource.id, **resource.data}

    def live(
        self, data: Mapping[str, Any], children: Sequence[Mapping[str, Any]] = ()
    ) -> LiveResource:
        """An owned API object (and its children) as the snapshot holds it."""
        owner, name = self.identify(data)
        resource = LiveResource(
            self.name, str(data["id"]), name or "", owner or "", data, tuple(children)
        )
        return replace(resource, fingerprint=self.digest_view(resource))

    # --- planning

    @abstractmethod
    def plan(self, context: PlanContext) -> list[ResourcePlan]:
        """Changes and operations for every desired and every owned resource of this kind."""

    def warnings(self, context: PlanContext) -> list[str]:
        return []

    # --- exporting

    def export(self, resource: LiveResource, context: ExportContext) -> ExportedDocument | None:
        """The manifest document for a live resource; None for kinds manifests do not list."""
        return None

    def file_ids(self, resource: LiveResource) -> tuple[str, ...]:
        """The uploads a live resource uses: they are not deleted while it does."""
        return ()

    def exported_file_ids(self, resource: LiveResource) -> tuple[str, ...]:
        """The uploads its exported manifest lists (their content comes along)."""
        return self.file_ids(resource)

    def file_paths(self, resource: LiveResource) -> Mapping[str, str]:
        """Upload id -> the manifest path the resource recorded for it, where it records one."""
        return {}


class NamedKind(ResourceKind):
    """A kind whose resources carry ``assistctl_stack``/``assistctl_name`` metadata: matched by
    logical name, created with their ownership keys from the first request, pruned when no
    manifest names them any more."""

    @abstractmethod
    def spec_of(self, view: Mapping[str, Any], files: Sequence[DesiredFile] = ()) -> Spec:
        """A normalised spec from a view-shaped mapping (manifest or API field names) and the
        files it uses."""

    def resource(
        self,
        name: str,
        view: Mapping[str, Any],
        files: Sequence[DesiredFile] = (),
        location: Location | None = None,
    ) -> DesiredResource:
        """A desired resource built from plain data, as a program (not a manifest) states it."""
        return DesiredResource(
            self.address(name), self.spec_of(view, files), location, tuple(files)
        )

    @abstractmethod
    def live_spec(self, resource: LiveResource, context: PlanContext, wanted: Spec | None) -> Spec:
        """The live resource as a spec, in manifest terms (logical names, paths). ``wanted`` is
        the desired spec, for normalisations that accept what the server chose."""

    @abstractmethod
    def request(self, spec: Spec, context: PlanContext) -> dict[str, Any]:
        """The create request, ids resolved (``Ref``s for what this plan creates)."""

    def update_request(
        self, spec: Spec, live: LiveResource, context: PlanContext, fields: Sequence[str]
    ) -> dict[str, Any] | None:
        """The update request, or None when the change needs none (only children change)."""
        return self.request(spec, context)

    def follow_up(
        self,
        resource: DesiredResource,
        live: LiveResource | None,
        target: str | Ref,
        change: Change,
        context: PlanContext,
    ) -> list[Operation]:
        """Operations after the create or update (attachments and the wait for them)."""
        return []

    def realign(
        self, resource: DesiredResource, live: LiveResource, change: Change, context: PlanContext
    ) -> tuple[str, list[Operation]] | None:
        """Drift the view cannot show, and the operations that remove it: something the
        resource points at gets a new id, or a child is there twice (two applies at once).
        Views name what resources use logically, so both look like no change. Returns the
        reason and the operations, or None when the resource is as it should be."""
        return None

    def identify(self, data: Mapping[str, Any]) -> tuple[str | None, str | None]:
        owner, name = ownership(data.get("metadata"))
        return (owner, name) if owner and name else (None, None)

    def needs_tags(self, child: Mapping[str, Any]) -> bool:
        """Whether an adopted resource's child lacks what the planner reads from it."""
        return False

    def adoption_tags(
        self,
        resource: DesiredResource,
        owner: str,
        children: Sequence[Mapping[str, Any]],
        filenames: Mapping[str, str],
    ) -> tuple[list[tuple[str, dict[str, Any], str]], list[str]]:
        """For children of an adopted resource: ``(child id, attributes, label)`` to write where
        the content is verified, and the labels of those that cannot be verified."""
        return [], []

    def owned(self, live: Live) -> dict[str, LiveResource]:
        """Owned resources by logical name: the oldest of each name (see ``duplicates``)."""
        by_name: dict[str, LiveResource] = {}
        for resource in sorted(live.of_kind(self.name), key=_age):
            by_name.setdefault(resource.name, resource)
        return by_name

    def duplicates(self, live: Live) -> list[LiveResource]:
        """Owned resources that share a logical name with an older one (two applies at once,
        or a copy made by hand): drift, deleted by the plan, the oldest kept."""
        oldest = self.owned(live)
        return [r for r in sorted(live.of_kind(self.name), key=_age) if oldest[r.name] is not r]

    def metadata(self, spec_metadata: Mapping[str, Any], name: str, owner: str) -> dict[str, Any]:
        return {**spec_metadata, **ownership_metadata(owner, name)}

    def plan(self, context: PlanContext) -> list[ResourcePlan]:
        owned = self.owned(context.live)
        moved_from: dict[str, Address] = {}  # a new logical name -> the name it had (``moved``)
        for old, new in context.desired.moves:
            if old.kind == self.name and new.name not in owned and old.name in owned:
                owned[new.name] = owned.pop(old.name)
                moved_from[new.name] = old
        plans: list[ResourcePlan] = []
        for resource in sorted(self.desired(context.desired), key=lambda r: r.address):
            live = owned.get(resource.name)
            if live is not None and resource.address in context.replace:
                plans.append(self._replace(resource, live, context))
            else:
                plans.append(self._plan_one(resource, live, context, moved_from.get(resource.name)))
        wanted = {r.name for r in self.desired(context.desired)}
        reason = (
            f"owned by {context.owner!r}: destroy deletes everything the stack owns"
            if context.destroy
            else f"owned by {context.owner!r} but no longer in the manifests"
        )
        for name, live in owned.items():
            if name not in wanted:
                plans.append(self._delete(self.address(name), live, reason, context))
        for duplicate in self.duplicates(context.live):
            kept = self.owned(context.live)[duplicate.name]
            plans.append(
                self._delete(
                    self.address(f"{duplicate.name}#{duplicate.id}"),
                    duplicate,
                    f"a second {self.noun} named {duplicate.name!r} for {context.owner!r} "
                    f"(the older one, {kept.id}, is kept)",
                    context,
                )
            )
        return plans

    def _delete(
        self, address: Address, live: LiveResource, reason: str, context: PlanContext
    ) -> ResourcePlan:
        before = self.live_spec(live, context, None).view()
        change = Change(address, Action.DELETE, before, None, reason=reason, id=live.id)
        delete = Operation(
            f"delete {address}", Verb.DELETE, address, self.collection, target=live.id
        )
        return ResourcePlan(change, (delete,))

    def _create(
        self, resource: DesiredResource, change: Change, context: PlanContext
    ) -> list[Operation]:
        key = f"create {resource.address}"
        body = self.request(resource.spec, context)
        body["metadata"] = self.metadata(body.get("metadata") or {}, resource.name, context.owner)
        create = Operation(key, Verb.CREATE, resource.address, self.collection, body=body)
        context.ids[resource.address] = Ref(key)
        return [create, *self.follow_up(resource, None, Ref(key), change, context)]

    def _replace(
        self, resource: DesiredResource, live: LiveResource, context: PlanContext
    ) -> ResourcePlan:
        """``apply --replace``: a new object takes the logical name, then the old one goes
        (deletes run last, once what used it points at the new one)."""
        before = self.live_spec(live, context, resource.spec).view()
        after = resource.spec.view()
        change = Change(
            resource.address,
            Action.REPLACE,
            before,
            after,
            changed_fields(before, after),
            "replaced on request (--replace): a new object with a new id takes its place",
            live.id,
        )
        delete = Operation(
            f"delete {resource.address}",
            Verb.DELETE,
            resource.address,
            self.collection,
            target=live.id,
        )
        return ResourcePlan(change, (*self._create(resource, change, context), delete))

    def _plan_one(
        self,
        resource: DesiredResource,
        live: LiveResource | None,
        context: PlanContext,
        moved_from: Address | None = None,
    ) -> ResourcePlan:
        address = resource.address
        after = resource.spec.view()
        if live is None:
            self._check_name_clash(address, after, context)
            change = Change(address, Action.CREATE, None, after, reason="not in the account")
            return ResourcePlan(change, tuple(self._create(resource, change, context)))
        context.ids[address] = live.id
        before = self.live_spec(live, context, resource.spec).view()
        fields = changed_fields(before, after)
        altered = live.data.get(ALTERED_KEY)
        if not fields and moved_from is None and not altered:
            change = Change(address, Action.NO_OP, before, after, id=live.id)
            realigned = self.realign(resource, live, change, context)
            if realigned is None:
                return ResourcePlan(change)
            reason, realigning = realigned
            change = Change(address, Action.UPDATE, before, after, reason=reason, id=live.id)
            return ResourcePlan(change, tuple(realigning))
        if before.get("name") != after.get("name"):
            self._check_name_clash(address, after, context)
        reason = str(altered) if altered else self.update_reason(fields)
        if moved_from is not None:
            reason = f"moved from {moved_from}: re-tagged in place, the id stays"
        change = Change(address, Action.UPDATE, before, after, fields, reason, live.id)
        operations: list[Operation] = []
        update = self.update_request(resource.spec, live, context, fields)
        if update is None and moved_from is not None:
            update = {"metadata": dict(after.get("metadata") or {})}
        if update is not None:
            update["metadata"] = self.metadata(
                update.get("metadata") or {}, resource.name, context.owner
            )
            operations.append(
                Operation(
                    f"update {address}",
                    Verb.UPDATE,
                    address,
                    self.collection,
                    target=live.id,
                    body=update,
                )
            )
        operations.extend(self.follow_up(resource, live, live.id, change, context))
        return ResourcePlan(change, tuple(operations))

    def update_reason(self, fields: Sequence[str]) -> str:
        return "the account differs from the manifests"

    def _check_name_clash(
        self, address: Address, after: Mapping[str, Any], context: PlanContext
    ) -> None:
        """Unmanaged namesakes are a warning (they may be meant for import); another stack's are
        an error; another environment of this stack is a different owner by design."""
        display_name = after.get("name")
        foreign: Iterable[ForeignResource] = sorted(context.live.foreign, key=lambda r: r.id)
        for resource in foreign:
            if resource.kind != self.name or resource.display_name != display_name:
                continue
            if resource.owner is None:
                context.warnings.append(
                    f"{address}: the account already has an unmanaged {self.manifest_kind} "
                    f"named {display_name!r} ({resource.id}); to manage it instead of creating "
                    f"another, run: {context.command} import {address.target} {resource.id} "
                    f"{context.desired.arguments()}".rstrip()
                )
            elif resource.owner.split("/", 1)[0] != context.desired.stack:
                raise PlanError(
                    f"{address}: the {self.manifest_kind} name {display_name!r} is already "
                    f"used by {resource.id}, owned by stack {resource.owner!r}",
                    hint="give this resource another display name (spec.name), or remove it "
                    "from the other stack first",
                )


def _age(resource: LiveResource) -> tuple[int, str]:
    """Oldest first: what was made first is what apps already point at."""
    return (resource.created_at, resource.id)
