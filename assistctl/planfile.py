"""Plans as JSON documents: the ``plan --json`` output and the saved plan file (``plan -o``).

One document shape serves both, so a saved plan is readable by anything that reads
``plan --json``. Both list every operation apply will perform, in order, with ``{"$ref": KEY}``
standing for an id the operation KEY produces; a saved plan also carries every change, no-ops
included, so ``apply --plan`` executes exactly what was reviewed. Nothing secret is written:
plans hold views of resources, requests and digests, never the account, its URL or its key.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assistctl import __version__
from assistctl.errors import PlanError
from assistctl.model import Action, Address, Change, Operation, Plan, Ref, Verb

FORMAT_VERSION = "1"
PLAN_FILE_KIND = "assistctl-plan"


def change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "address": change.address,
        "action": change.action.value,
        "id": change.id,
        "before": _plain(change.before),
        "after": _plain(change.after),
        "fields": list(change.fields),
        "reason": change.reason,
    }


def operation_to_dict(operation: Operation) -> dict[str, Any]:
    return {
        "key": operation.key,
        "verb": operation.verb.value,
        "address": operation.address,
        "collection": operation.collection,
        "target": _plain(operation.target),
        "body": _plain(operation.body),
        "after": list(operation.after),
        "summary": operation.summary,
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    """The documented ``plan --json`` schema: pending changes only, no-ops counted."""
    return {
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "stack": plan.stack,
        "env": plan.env,
        "owner": plan.owner,
        "desired_digest": plan.desired_digest,
        "live_digest": plan.live_digest,
        "changes": [change_to_dict(change) for change in plan.pending],
        "operations": [operation_to_dict(operation) for operation in plan.operations],
        "unchanged": len(plan.changes) - len(plan.pending),
        "summary": plan.summary(),
        "warnings": list(plan.warnings),
    }


def write_plan_file(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write atomically, so an interrupted write never leaves half a plan to apply."""
    document = {
        **plan_document(plan),
        "kind": PLAN_FILE_KIND,
        "all_changes": [change_to_dict(change) for change in plan.changes],
    }
    target = Path(path)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except OSError as exc:
        raise PlanError(f"cannot write the plan to {target}: {exc.strerror or exc}") from exc


def read_plan_file(path: str | os.PathLike[str]) -> Plan:
    """Read a saved plan; anything unreadable, foreign or from another version is a PlanError."""
    source = Path(path)
    hint = "make a new one with: assistctl plan -o " + str(source)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(f"plan file {source} does not exist", hint=hint) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read the plan file {source}: {exc}", hint=hint) from exc
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"{source}:{exc.lineno}: not a plan file (invalid JSON: {exc.msg})", hint=hint
        ) from exc
    if not isinstance(document, dict) or document.get("kind") != PLAN_FILE_KIND:
        raise PlanError(f"{source} is not a saved assistctl plan", hint=hint)
    if document.get("format_version") != FORMAT_VERSION:
        raise PlanError(
            f"{source} has plan format {document.get('format_version')!r}; this assistctl "
            f"reads format {FORMAT_VERSION!r}",
            hint=hint,
        )
    if document.get("tool_version") != __version__:
        raise PlanError(
            f"{source} was made by assistctl {document.get('tool_version')}, this is "
            f"{__version__}: plans are only applied by the version that made them",
            hint=hint,
        )
    try:
        return Plan(
            stack=_text(document["stack"]),
            env=None if document["env"] is None else _text(document["env"]),
            changes=tuple(_change_from_dict(item) for item in document["all_changes"]),
            desired_digest=_text(document["desired_digest"]),
            live_digest=_text(document["live_digest"]),
            operations=tuple(_operation_from_dict(item) for item in document["operations"]),
            warnings=tuple(_text(w) for w in document.get("warnings", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise PlanError(f"{source} is a damaged plan file ({detail})", hint=hint) from exc


def check_still_current(
    saved: Plan,
    fresh: Plan,
    path: str | os.PathLike[str],
    *,
    command: str = "assistctl",
    arguments: str = "",
    deployed: str = "the account",
) -> None:
    """Refuse a saved plan made for another owner, or before the manifests or the account
    changed (``fresh`` is the plan made now): applying it would no longer do what was reviewed.
    The hint is runnable: ``command`` names assistctl (with ``--account``), ``arguments`` are
    the paths and ``--env`` of the stack. ``deployed`` names what the live state was read from
    (in responses mode the release files too), so the message points where to look."""
    if saved.owner != fresh.owner:
        raise PlanError(
            f"the plan is for {saved.owner!r} but the manifests are for {fresh.owner!r}",
            hint="pass the same --env as when the plan was made",
        )
    for what, recorded, now in (
        ("the manifests", saved.desired_digest, fresh.desired_digest),
        (deployed, saved.live_digest, fresh.live_digest),
    ):
        if recorded != now:
            raise PlanError(
                f"the plan is stale: {what} changed since it was made; run plan again",
                hint=f"{command} plan {arguments} -o {path}, review it, then: "
                f"{command} apply {arguments} --plan {path}".replace("  ", " "),
            )


def _change_from_dict(item: Mapping[str, Any]) -> Change:
    before, after = item["before"], item["after"]
    for side in (before, after):
        if side is not None and not isinstance(side, dict):
            raise ValueError(f"{item['address']}: before/after must be objects")
    return Change(
        address=Address.parse(_text(item["address"])),
        action=Action(item["action"]),
        before=before,
        after=after,
        fields=tuple(_text(f) for f in item["fields"]),
        reason=_text(item.get("reason", "")),
        id=None if item.get("id") is None else _text(item["id"]),
    )


def _operation_from_dict(item: Mapping[str, Any]) -> Operation:
    target = _with_refs(item["target"])
    if not (target is None or isinstance(target, str | Ref)):
        raise ValueError(f"{item['key']}: target must be an id or a reference")
    body = _with_refs(item["body"])
    if not isinstance(body, dict):
        raise ValueError(f"{item['key']}: body must be an object")
    return Operation(
        key=_text(item["key"]),
        verb=Verb(item["verb"]),
        address=Address.parse(_text(item["address"])),
        collection=_text(item["collection"]),
        target=target,
        body=body,
        after=tuple(_text(key) for key in item["after"]),
        summary=_text(item.get("summary", "")),
    )


def _with_refs(value: Any) -> Any:
    """JSON back to a request: ``{"$ref": KEY}`` becomes ``Ref(KEY)``."""
    if isinstance(value, Mapping):
        if set(value) == {"$ref"}:
            return Ref(_text(value["$ref"]))
        return {str(key): _with_refs(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_refs(item) for item in value]
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _plain(value: Any) -> Any:
    """Views as plain JSON values (mappings may be read-only proxies, tuples become lists,
    references ``{"$ref": KEY}``)."""
    if isinstance(value, Ref):
        return {"$ref": value.key}
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
