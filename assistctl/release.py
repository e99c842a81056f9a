"""Releases, as an app loads them: the standard library only, so any app can import this.

In ``responses`` mode ``assistctl apply`` compiles each Assistant of a stack into a *release*: a
JSON file holding the keyword arguments of ``client.responses.create`` (model, instructions,
tools with the live vector store ids, sampling, text format, metadata), content-addressed by the
sha256 of that request. An app loads the file and adds what belongs to each call::

    from assistctl.release import load_release

    release = load_release("releases/support/support-bot.json")
    response = client.responses.create(**release.request(input=question, conversation=conv.id))

This module owns the file format (``document``, ``request_digest``); assistctl's compiler
writes it, the app and the smoke tests read it, and neither needs the other's dependencies.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistctl.errors import ReleaseError
from assistctl.model import NAME_KEY, STACK_KEY

FORMAT = "assistctl.release/v1"
DIGEST_KEY = "assistctl_release"
# Per call, never in the template: what the conversation is, and what the user said.
CALL_KEYS = frozenset({"input", "conversation", "previous_response_id"})


def request_digest(request: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the request as canonical JSON, its own digest key left out: the
    release's identity, which changes exactly when what the model is sent changes."""
    metadata = {k: v for k, v in (request.get("metadata") or {}).items() if k != DIGEST_KEY}
    canonical = json.dumps(
        {**request, "metadata": metadata},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def document(
    request: Mapping[str, Any], *, display_name: str | None, description: str | None
) -> dict[str, Any]:
    """The release file's content for ``request`` (whose metadata carries the owner and the
    logical name): the digest is computed here and recorded in the metadata and on top."""
    digest = request_digest(request)
    metadata = dict(request.get("metadata") or {})
    metadata[DIGEST_KEY] = digest
    return {
        "format": FORMAT,
        "stack": metadata.get(STACK_KEY),
        "name": metadata.get(NAME_KEY),
        "digest": digest,
        "assistant": {"name": display_name, "description": description},
        "request": {**request, "metadata": dict(sorted(metadata.items()))},
    }


def dumps(content: Mapping[str, Any]) -> str:
    """A release file's text: indented for review, byte-identical for identical content."""
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Release:
    """One loaded release. ``template`` is the request without the per-call keys."""

    path: str
    stack: str
    name: str
    digest: str
    template: Mapping[str, Any]
    display_name: str | None = None
    description: str | None = None

    @classmethod
    def from_document(
        cls, content: Any, path: str = "<release>", *, verify: bool = True
    ) -> Release:
        """A release from a parsed file; ``verify`` refuses one whose request does not match
        its digest (edited since assistctl wrote it: not what was reviewed and tested)."""
        if not isinstance(content, Mapping) or content.get("format") != FORMAT:
            raise ReleaseError(f"{path}: not an assistctl release (format {FORMAT!r} expected)")
        request = content.get("request")
        if not isinstance(request, Mapping) or not isinstance(request.get("model"), str):
            raise ReleaseError(f"{path}: the release has no request with a model")
        metadata = request.get("metadata")
        if not isinstance(metadata, Mapping):
            raise ReleaseError(f"{path}: the release request has no metadata")
        digest = str(metadata.get(DIGEST_KEY) or "")
        if verify and (digest != request_digest(request) or content.get("digest") != digest):
            raise ReleaseError(
                f"{path}: the release does not match its digest: it was edited after "
                "assistctl wrote it",
                hint="run `assistctl plan` to see the difference and `assistctl apply` to "
                "write the release the manifests describe",
            )
        assistant = content.get("assistant") or {}
        return cls(
            path=path,
            stack=str(metadata.get(STACK_KEY) or ""),
            name=str(metadata.get(NAME_KEY) or ""),
            digest=digest,
            template={k: v for k, v in request.items() if k not in CALL_KEYS},
            display_name=assistant.get("name"),
            description=assistant.get("description"),
        )

    @property
    def model(self) -> str:
        return str(self.template["model"])

    @property
    def vector_store_ids(self) -> tuple[str, ...]:
        return tuple(
            store
            for tool in self.template.get("tools") or ()
            if tool.get("type") == "file_search"
            for store in tool.get("vector_store_ids") or ()
        )

    def request(
        self,
        *,
        input: Any,  # noqa: A002 - the Responses API's own parameter name
        conversation: str | Mapping[str, Any] | None = None,
        previous_response_id: str | None = None,
        additional_instructions: str | None = None,
        metadata: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The keyword arguments of ``client.responses.create`` for one call: the release's
        template plus ``input`` and where the conversation lives (``conversation`` or
        ``previous_response_id``, not both). ``additional_instructions`` is appended to the
        instructions for this call, as Assistants runs did; ``metadata`` adds keys (the
        release's own keys win); ``extra`` adds call options (``stream``, ``store``,
        ``max_output_tokens``…) but may not change what the release fixes."""
        if conversation is not None and previous_response_id is not None:
            raise ReleaseError("give either conversation or previous_response_id, not both")
        fixed = sorted(set(extra) & (set(self.template) | CALL_KEYS))
        if fixed:
            raise ReleaseError(
                f"{self.path}: {', '.join(fixed)} is fixed by the release",
                hint="change it in the manifest and apply, so the change is reviewed and tested",
            )
        request = copy.deepcopy(dict(self.template))
        if additional_instructions:
            base = request.get("instructions")
            request["instructions"] = (
                f"{base}\n\n{additional_instructions}" if base else additional_instructions
            )
        if metadata:
            request["metadata"] = {**dict(metadata), **request.get("metadata", {})}
        request["input"] = input
        if conversation is not None:
            request["conversation"] = conversation
        if previous_response_id is not None:
            request["previous_response_id"] = previous_response_id
        request.update(extra)
        return request


def load_release(path: str | Path, *, verify: bool = True) -> Release:
    """Read a release file that ``assistctl apply`` wrote (see ``Release.from_document``)."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReleaseError(f"{shown}: cannot read the release: {exc.strerror}") from exc
    try:
        content = json.loads(text)
    except ValueError as exc:
        raise ReleaseError(f"{shown}: not valid JSON: {exc}") from exc
    return Release.from_document(content, shown, verify=verify)
