"""The Assistants v2 family: assistants and threads, beside the files and vector stores every
family shares (``SdkCollections``).

Any Assistants-compatible account (the embedded local account, a self-hosted server) is served
by this backend. An account that answers 404 to the assistants (or threads) list no longer
serves the Assistants API, as OpenAI and Azure since its sunset: that is said in one line that
names the ways on, the Responses era first.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from assistctl.backends.base import ApiObject, Conversation
from assistctl.backends.release_compiler import RUN_SETTINGS
from assistctl.backends.sdk_collections import SdkCollections
from assistctl.backends.threads import ThreadConversation
from assistctl.errors import AccountError, PlanError
from assistctl.model import ownership

FAMILY = "assistants"
SUNSET_MESSAGE = (
    "the account answered 404 to {path}: OpenAI and Azure shut the Assistants API down on "
    "2026-08-26 (files and vector stores still work there)"
)
SUNSET_HINT = (
    "deploy this stack to the Responses API instead with --api responses (or spec.api: "
    "responses in the Stack); or keep assistants on the embedded local account (--account "
    "local, or `assistctl local serve`, optionally backed by a real model with --engine chat) "
    "or on another Assistants-compatible server (--account http(s)://HOST/v1)"
)
_SUNSET_COLLECTIONS = frozenset({"assistants", "threads"})


@dataclasses.dataclass(frozen=True)
class AssistantsBackend(SdkCollections):
    family: str = FAMILY
    collections: ClassVar[Mapping[str, tuple[str, ...]]] = {
        **SdkCollections.collections,
        "assistants": ("beta", "assistants"),
        "threads": ("beta", "threads"),
    }
    api_name: ClassVar[str] = "the Assistants API"

    def list(self, collection: str, query: Mapping[str, str] | None = None) -> Iterator[ApiObject]:
        try:
            yield from super().list(collection, query)
        except AccountError as error:
            if error.not_found and collection in _SUNSET_COLLECTIONS:
                raise AccountError(
                    SUNSET_MESSAGE.format(path=f"/{collection}"),
                    hint=SUNSET_HINT,
                    status=error.status,
                    code=error.code,
                ) from error
            raise

    def check(
        self, collection: str, body: Mapping[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        """An assistant holds no run settings: the Assistants API takes them per run."""
        if collection != "assistants":
            return
        named = [k for k, default in RUN_SETTINGS.items() if body.get(k) not in (None, default)]
        if named:
            _, name = ownership(body.get("metadata") or (current or {}).get("metadata"))
            raise PlanError(
                f"assistant.{name}: {', '.join(named)} cannot be kept in an assistant: the "
                "Assistants API sets it on each run",
                hint="deploy the stack in responses mode (--api responses), where the release "
                "holds it, or remove it from the manifest",
            )

    def conversation(
        self, target_id: str, labels: Mapping[str, str], what: str, stop: threading.Event
    ) -> Conversation:
        return ThreadConversation(
            self.client,
            target_id,
            labels,
            what=what,
            stop=stop,
            call=self.call,
            items=self.items,
        )
