"""What apps need from a deployed stack, as Terraform prints outputs: ids and releases.

``assistctl output`` reads one snapshot of what the stack owns and names, for every resource by
its address, the values an app configures itself with: an assistant's id (assistants mode) or
its release file and digest (responses mode), each vector store's id, each file's id by manifest
path. Text is one ``ADDRESS.FIELD = "value"`` line each; ``--json`` is one document; a NAME
prints one value alone, for shell scripts. Only ids and paths: never a key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistctl.errors import AssistctlError
from assistctl.kinds import KINDS, Registry
from assistctl.kinds.file import LiveUpload
from assistctl.model import Address, Desired, Live
from assistctl.release import DIGEST_KEY


@dataclass(frozen=True)
class Outputs:
    """``values``: address -> field -> value, in registry order, fields in a fixed order."""

    stack: str
    env: str | None
    api: str
    values: Mapping[str, Mapping[str, Any]]

    def document(self) -> dict[str, Any]:
        return {"stack": self.stack, "env": self.env, "api": self.api, "outputs": self.values}

    def lines(self) -> list[str]:
        return [
            f"{address}.{field} = {json.dumps(value, ensure_ascii=False)}"
            for address, fields in self.values.items()
            for field, value in fields.items()
        ]

    def value(self, name: str) -> Any:
        """``KIND.NAME`` (its first field: an id, or a release's path) or ``KIND.NAME.FIELD``."""
        if name in self.values:
            return next(iter(self.values[name].values()))
        address, _, field = name.rpartition(".")
        if address in self.values and field in self.values[address]:
            return self.values[address][field]
        known = ", ".join(self.values) or "none: nothing is deployed"
        raise AssistctlError(
            f"no output named {name!r}",
            hint=f"outputs are KIND.NAME or KIND.NAME.FIELD; this stack has {known}",
        )


def split_arguments(arguments: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """``[PATHS…] [NAME]``: the last argument is a NAME when it reads as an address of a known
    kind (``assistant.support-bot``, or ``assistant/support-bot`` as ``show`` and ``--target``
    take it) and is no path on disk."""
    if arguments and not Path(arguments[-1]).exists():
        last = arguments[-1]
        for separator in (".", "/"):
            kind, found, rest = last.partition(separator)
            if found and rest and KINDS.get(kind) is not None:
                return arguments[:-1], f"{kind}.{rest}"
    return arguments, None


def collect(
    desired: Desired, live: Live, api: str, *, cwd: Path, kinds: Registry = KINDS
) -> Outputs:
    """The outputs of what ``live`` holds for ``desired``'s owner. Release paths are shown
    relative to ``cwd``, where scripts run."""
    values: dict[str, dict[str, Any]] = {}
    paths_by_sha = {f.sha256: f.path for f in desired.files}
    recorded: dict[str, str] = {}
    for kind in kinds:
        for resource in live.of_kind(kind.name):
            recorded.update(kind.file_paths(resource))
    for kind in kinds:
        for resource in sorted(live.of_kind(kind.name), key=lambda r: r.name):
            if kind.manifest_kind is None:  # uploads: by the manifest path that uses them
                upload = LiveUpload.of(resource)
                path = recorded.get(upload.id) or paths_by_sha.get(upload.sha256)
                values[Address(kind.name, path or upload.orphan_name)] = {"id": resource.id}
                continue
            digest = (resource.data.get("metadata") or {}).get(DIGEST_KEY)
            if digest is not None:
                release = os.path.relpath(desired.root / resource.id, cwd)
                values[Address(kind.name, resource.name)] = {
                    "release": Path(release).as_posix(),
                    "digest": digest,
                }
            else:
                values[Address(kind.name, resource.name)] = {"id": resource.id}
    ordered = dict(sorted(values.items(), key=lambda item: (_position(item[0], kinds), item[0])))
    return Outputs(desired.stack, desired.env, api, ordered)


def _position(address: str, kinds: Registry) -> int:
    kind = kinds.get(Address.parse(address).kind)
    return -kinds.position(kind.name) if kind is not None else 0
