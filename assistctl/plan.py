"""The planner: compare what the manifests want with what the account holds, and say what to do.

``plan(desired, live)`` is a pure function: no I/O, and the same inputs always give the same
plan. Each kind of the registry plans its own resources (``ResourceKind.plan``), in dependency
order, recording the id each resource will have so that later kinds can point at it; the
planner only strings them together: it orders the changes, makes every operation wait for the
resources it uses, applies ``--target`` and orders the operations into stages.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from assistctl.errors import PlanError
from assistctl.kinds import KINDS, Registry
from assistctl.kinds.base import NamedKind, PlanContext, ResourcePlan
from assistctl.kinds.vector_store import FILES_PER_BATCH
from assistctl.model import Action, Address, Change, Desired, Live, Operation, Plan, Verb
from assistctl.stages import stages


def plan(
    desired: Desired,
    live: Live,
    *,
    targets: Sequence[str] = (),
    kinds: Registry = KINDS,
    files_per_batch: int = FILES_PER_BATCH,
    command: str = "assistctl",
    destroy: bool = False,
    replace: Sequence[str] = (),
) -> Plan:
    """Everything that must change for the account to match the manifests, in apply order.
    ``command`` is how hints in warnings name assistctl (``assistctl --account URL``);
    ``destroy`` plans the deletion of everything the owner holds (``desired`` names only it);
    ``replace`` (``KIND/NAME``) makes new objects take those resources' places."""
    if files_per_batch < 1:
        raise PlanError(f"files_per_batch must be at least 1, not {files_per_batch}")
    if live.owner != desired.owner:
        raise PlanError(
            f"the account snapshot is for {live.owner!r} but the manifests are for "
            f"{desired.owner!r}"
        )
    if destroy and desired.resources:
        raise PlanError("a destroy plan deletes everything: it takes no resources to keep")
    replaced = frozenset(_replaceable(text, desired, live, kinds) for text in replace)
    context = PlanContext(desired, live, tuple(kinds), files_per_batch, command, destroy, replaced)
    resource_plans: list[ResourcePlan] = []
    for kind in kinds:
        resource_plans.extend(kind.plan(context))
    warnings = list(context.warnings)
    for kind in kinds:
        warnings.extend(kind.warnings(context))
    warnings.extend(_same_content_warnings(desired, kinds))
    resource_plans = _wait_for_what_they_use(resource_plans, desired, kinds)

    if not desired.complete:
        declared: set[str] = {r.address for kind in kinds for r in kind.desired(desired)}
        left_alone = [p for p in resource_plans if _is_prune(p.change, declared)]
        resource_plans = [p for p in resource_plans if not _is_prune(p.change, declared)]
        resource_plans = _without_deletes_in_use(resource_plans, live, kinds, declared)
        if left_alone:
            warnings.append(
                f"{len(left_alone)} owned resource(s) the given files do not declare were left "
                f"alone: other files of the stack may declare them; plan the whole stack "
                f"({desired.root}) to delete what no manifest declares any more"
            )

    if targets:
        selected = _select_targets(desired, resource_plans, targets, kinds)
        if destroy:
            selected |= _users_of(selected, resource_plans, live, kinds)
        resource_plans = [p for p in resource_plans if p.change.address in selected]
        warnings.extend(_kept_in_use(resource_plans, live, kinds, selected))
        resource_plans = _without_deletes_in_use(resource_plans, live, kinds, selected)
        warnings.append(
            "targeting is in effect: only "
            + ", ".join(sorted(selected))
            + " were planned; the rest of the stack may still differ"
        )
    operations = [op for p in resource_plans for op in p.operations]
    _check_references(operations)
    return Plan(
        stack=desired.stack,
        env=desired.env,
        changes=tuple(_ordered((p.change for p in resource_plans), kinds)),
        desired_digest=desired.digest(),
        live_digest=live.digest(),
        operations=tuple(op for stage in stages(operations, kinds.position) for op in stage),
        warnings=tuple(warnings),
        destroy=destroy,
    )


def _wait_for_what_they_use(
    resource_plans: list[ResourcePlan], desired: Desired, kinds: Registry
) -> list[ResourcePlan]:
    """A resource's writes come after every write of the resources it uses: an assistant is
    written once its vector store has indexed its files, so it never points at half a store."""
    writes = {
        p.change.address: tuple(op.key for op in p.operations if op.verb is not Verb.DELETE)
        for p in resource_plans
    }
    linked: list[ResourcePlan] = []
    for resource_plan in resource_plans:
        resource = desired.find(resource_plan.change.address)
        kind = kinds.get(resource_plan.change.kind)
        if resource is None or kind is None or not resource_plan.operations:
            linked.append(resource_plan)
            continue
        used = tuple(
            key for address in kind.references(resource) for key in writes.get(address, ())
        )
        operations = tuple(
            op
            if op.verb is Verb.DELETE
            else Operation(
                op.key,
                op.verb,
                op.address,
                op.collection,
                op.target,
                op.body,
                tuple(dict.fromkeys((*op.after, *used))),
                op.summary,
            )
            for op in resource_plan.operations
        )
        linked.append(ResourcePlan(resource_plan.change, operations))
    return linked


def _replaceable(text: str, desired: Desired, live: Live, kinds: Registry) -> Address:
    """The address ``--replace KIND/NAME`` names, refused unless it can be replaced."""
    target = parse_target(text, kinds)
    kind = kinds.get(target.kind)
    if not isinstance(kind, NamedKind):
        raise PlanError(
            f"--replace {text}: a {target.kind} cannot be replaced on request",
            hint="uploads are replaced when their content changes",
        )
    exists = any(r.name == target.name for r in live.of_kind(target.kind))
    if desired.find(target) is None or not exists:
        raise PlanError(
            f"--replace {text}: {target} must be in the manifests and in the account",
            hint="--replace makes a new object take the place of one that exists",
        )
    return target


def _is_prune(change: Change, declared: set[str]) -> bool:
    """A delete of what the manifests do not declare (a duplicate of a declared resource,
    ``assistant.bot#asst_…``, is drift of a declared one, not a prune)."""
    base = Address(change.kind, change.name.split("#", 1)[0])
    return change.action is Action.DELETE and base not in declared


def _same_content_warnings(desired: Desired, kinds: Registry) -> list[str]:
    """Why a path the manifest lists is not attached: another path holds the same bytes."""
    return [
        f"{resource.address}: {path} has the same content as {kept}; it is attached once, as {kept}"
        for kind in kinds
        for resource in desired.of_kind(kind.name)
        for path, kept in resource.same_content
    ]


def _check_references(operations: Sequence[Operation]) -> None:
    keys = {op.key for op in operations}
    for operation in operations:
        for key in operation.references():
            if key not in keys:
                raise PlanError(
                    f"{operation.address}: the plan uses the result of {key!r}, which it does "
                    "not contain",
                    hint="plan without --target, or target what it depends on too",
                )


# --- targets ----------------------------------------------------------------------------------


def parse_target(text: str, kinds: Registry = KINDS) -> Address:
    """``assistant/support-bot``, ``VectorStore/handbook``, ``file/docs/a.md`` (or KIND.NAME)."""
    match = re.fullmatch(r"\s*([A-Za-z_-]+)[/.](.+?)\s*", text)
    alias = _squash(match.group(1)) if match else ""
    for kind in kinds:
        if alias in (_squash(kind.name), _squash(kind.name) + "s") and match is not None:
            return Address(kind.name, match.group(2))
    shapes = [f"{kind.name}/{kind.target_placeholder}" for kind in kinds]
    raise PlanError(
        f"--target {text!r} is not KIND/NAME",
        hint="use " + ", ".join(shapes[:-1]) + " or " + shapes[-1],
    )


def _squash(text: str) -> str:
    return text.replace("_", "").replace("-", "").lower()


def _select_targets(
    desired: Desired,
    resource_plans: Sequence[ResourcePlan],
    targets: Sequence[str],
    kinds: Registry,
) -> set[str]:
    """The targeted addresses plus everything they use, transitively."""
    addresses = {p.change.address for p in resource_plans}
    selected: set[str] = set()

    def add(address: Address) -> None:
        if address in selected:
            return
        selected.add(address)
        resource = desired.find(address)
        kind = kinds.get(address.kind)
        if resource is not None and kind is not None:
            for used in kind.references(resource):
                add(used)

    for target in targets:
        address = parse_target(target, kinds)
        if desired.find(address) is not None or address in addresses:
            add(address)
            continue
        known = sorted(Address.parse(a).target for a in addresses)
        close = difflib.get_close_matches(address.target, known, n=1, cutoff=0.8)
        suggestion = f"did you mean --target {close[0]}? " if close else ""
        raise PlanError(
            f"--target {target}: no {address.kind} named {address.name!r} in the manifests or "
            "owned in the account",
            hint=suggestion + "known targets: " + (", ".join(known) if known else "none"),
        )
    return selected


def _users_of(
    selected: set[str], resource_plans: Sequence[ResourcePlan], live: Live, kinds: Registry
) -> set[str]:
    """For ``destroy --target``: what still uses a targeted resource goes with it (an assistant
    whose vector store is destroyed), transitively, as Terraform destroys dependents."""
    address_of: dict[str, str] = {
        p.change.id: p.change.address for p in resource_plans if p.change.id
    }
    users: dict[str, set[str]] = {}
    for kind in kinds:
        for resource in live.of_kind(kind.name):
            user = address_of.get(resource.id)
            for used in (*kind.uses(resource.data), *kind.file_ids(resource)):
                if user is not None and used in address_of:
                    users.setdefault(address_of[used], set()).add(user)
    found: set[str] = set()
    frontier = set(selected)
    while frontier:
        reached = frontier.pop()
        for user in users.get(reached, set()) - found - selected:
            found.add(user)
            frontier.add(user)
    return found


def _users(live: Live, kinds: Registry, selected: set[str]) -> dict[str, list[str]]:
    """Upload id -> the live resources left alone by a targeted plan that still use it."""
    users: dict[str, list[str]] = {}
    for kind in kinds:
        for resource in live.of_kind(kind.name):
            address = Address(kind.name, resource.name)
            if address in selected:
                continue
            for file_id in kind.file_ids(resource):
                users.setdefault(file_id, []).append(address)
    return users


def _kept_in_use(
    resource_plans: Sequence[ResourcePlan], live: Live, kinds: Registry, selected: set[str]
) -> list[str]:
    users = _users(live, kinds, selected)
    return [
        f"{op.address}: {op.target} is kept, still used by {', '.join(users[op.target])}"
        for p in resource_plans
        for op in p.operations
        if op.verb is Verb.DELETE and isinstance(op.target, str) and op.target in users
    ]


def _without_deletes_in_use(
    resource_plans: Sequence[ResourcePlan], live: Live, kinds: Registry, selected: set[str]
) -> list[ResourcePlan]:
    """With ``--target``, what the plan leaves alone may still use an upload the targeted
    change replaces: that upload stays until a plan rewrites its users."""
    users = _users(live, kinds, selected)
    return [
        ResourcePlan(
            p.change,
            tuple(
                op
                for op in p.operations
                if not (
                    op.verb is Verb.DELETE and isinstance(op.target, str) and op.target in users
                )
            ),
        )
        for p in resource_plans
    ]


def _ordered(changes: Iterable[Change], kinds: Registry) -> list[Change]:
    """Creates, updates, replaces and no-ops in dependency order; then deletes, reversed."""
    changes = list(changes)
    forward = sorted(
        (c for c in changes if c.action is not Action.DELETE),
        key=lambda c: (kinds.position(c.kind), c.address),
    )
    deletes = sorted(
        (c for c in changes if c.action is Action.DELETE),
        key=lambda c: (-kinds.position(c.kind), c.address),
    )
    return forward + deletes
