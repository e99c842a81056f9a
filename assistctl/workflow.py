"""Manifests + account → plan, in one call, for every command that needs a fresh plan.

``plan.py`` stays pure; this is the one place that strings the three stages together, so
``plan``, ``apply`` and ``destroy`` build plans the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assistctl import live, manifest
from assistctl.backends.base import Backend
from assistctl.model import Desired, Live, Plan, Verb
from assistctl.plan import plan


def compute_plan(
    paths: Sequence[str | Path],
    env: str | None,
    backend: Backend,
    targets: Sequence[str] = (),
    *,
    concurrency: int = 8,
) -> tuple[Desired, Live, Plan]:
    """Load the manifests (default: the current directory), snapshot the account, plan."""
    desired = load_desired(paths, env)
    snapshot, result = plan_against(desired, backend, targets, concurrency=concurrency)
    return desired, snapshot, result


def destroy_plan_against(
    manifests: Desired, backend: Backend, targets: Sequence[str] = ()
) -> tuple[Desired, Live, Plan]:
    """The plan that deletes everything the manifests' owner holds (or the ``targets`` and
    what uses them): only the owner is taken from the manifests, so the desired state is
    empty and every owned resource is a delete."""
    nothing = Desired(stack=manifests.stack, env=manifests.env, root=manifests.root)
    snapshot = live.snapshot(backend, nothing.owner)
    return nothing, snapshot, plan(nothing, snapshot, targets=targets, destroy=True)


def load_desired(paths: Sequence[str | Path], env: str | None) -> Desired:
    """The manifests under ``paths`` (default: the current directory); no network."""
    return manifest.load(list(paths) or ["."], env)


def plan_against(
    desired: Desired,
    backend: Backend,
    targets: Sequence[str] = (),
    *,
    concurrency: int = 8,
    command: str = "assistctl",
    replace: Sequence[str] = (),
) -> tuple[Live, Plan]:
    """Snapshot what ``desired``'s owner holds in the account and plan against it
    (``command`` names assistctl in the plan's hints; ``replace`` as ``plan`` takes it); a write
    the backend's API family cannot serve is refused here, before anything is written."""
    snapshot = live.snapshot(backend, desired.owner, concurrency=concurrency)
    result = plan(desired, snapshot, targets=targets, command=command, replace=replace)
    check_writes(result, snapshot, backend)
    return snapshot, result


def check_writes(result: Plan, snapshot: Live, backend: Backend) -> None:
    """Every create and update of the plan, shown to the backend first (``Backend.check``)."""
    current = snapshot.by_id()
    for operation in result.operations:
        if operation.verb not in (Verb.CREATE, Verb.UPDATE):
            continue
        target = current.get(operation.target) if isinstance(operation.target, str) else None
        backend.check(
            operation.collection,
            operation.body,
            target.data if target is not None else None,
        )
