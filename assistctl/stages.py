"""Operations grouped into stages: every operation of a stage can run at once, and a stage starts
when the one before it is done. A pure function of the plan's operations, so ``plan`` shows the
order and ``apply`` follows it without deciding anything.

An operation comes after the operations whose ids it uses (its ``Ref``s) and those it names in
``after``. Deletes come after every other write (nothing managed may still point at what is
deleted), and a kind's deletes after the deletes of the kinds that point at it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistctl.errors import PlanError
from assistctl.model import Operation, Verb


def stages(
    operations: Sequence[Operation], kind_position: Callable[[str], int]
) -> list[tuple[Operation, ...]]:
    by_key = {operation.key: operation for operation in operations}
    forward = [op.key for op in operations if op.verb is not Verb.DELETE]
    deletes = [op for op in operations if op.verb is Verb.DELETE]

    def prerequisites(operation: Operation) -> list[str]:
        keys = [*operation.references(), *operation.after]
        if operation.verb is Verb.DELETE:
            position = kind_position(operation.address.kind)
            keys += forward
            keys += [d.key for d in deletes if kind_position(d.address.kind) > position]
        return [key for key in keys if key in by_key]

    depth: dict[str, int] = {}
    visiting: set[str] = set()

    def depth_of(key: str) -> int:
        if key in depth:
            return depth[key]
        if key in visiting:
            raise PlanError(f"the plan's operations wait for each other in a circle at {key!r}")
        visiting.add(key)
        found = 1 + max((depth_of(k) for k in prerequisites(by_key[key])), default=-1)
        visiting.discard(key)
        depth[key] = found
        return found

    grouped: dict[int, list[Operation]] = {}
    for operation in operations:
        grouped.setdefault(depth_of(operation.key), []).append(operation)
    return [tuple(grouped[level]) for level in sorted(grouped)]
