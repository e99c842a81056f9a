"""The Responses-era family: files and vector stores in the account, assistants as releases.

OpenAI today (and any Responses-compatible platform, the local account's ``/v1/responses``
included) keeps files and vector stores but no assistants: an app sends model, instructions and
tools with every ``responses.create``. This backend serves files and vector stores exactly as
the Assistants family does (both inherit ``SdkCollections``), and the ``assistants`` collection
from a release directory (``ReleaseStore``): the planner, applier, exporter and smoke-test
runner use it unchanged. Smoke tests run as conversations and responses
(``ResponseConversation``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from assistctl.backends.base import ApiObject, Conversation, Recover
from assistctl.backends.release_compiler import compile_request
from assistctl.backends.release_store import ReleaseStore, modified
from assistctl.backends.responses_conversation import Capabilities, ResponseConversation
from assistctl.backends.sdk_collections import SdkCollections
from assistctl.errors import PlanError
from assistctl.model import ownership

FAMILY = "responses"
RELEASES = "assistants"  # the collection the release store serves


@dataclasses.dataclass(frozen=True)
class ResponsesBackend(SdkCollections):
    releases: ReleaseStore = dataclasses.field(kw_only=True)
    # What the account turned out to serve, learnt by the first conversation and shared by
    # every copy of this backend (``observed`` keeps it).
    capabilities: Capabilities = dataclasses.field(
        default_factory=Capabilities, kw_only=True, compare=False
    )
    family: str = FAMILY
    api_name: ClassVar[str] = "the Responses API"

    def list(self, collection: str, query: Mapping[str, str] | None = None) -> Iterator[ApiObject]:
        if collection == RELEASES:
            return self.releases.list()
        return super().list(collection, query)

    def retrieve(self, collection: str, object_id: str) -> ApiObject:
        if collection == RELEASES:
            return self.releases.retrieve(object_id)
        return super().retrieve(collection, object_id)

    def create(
        self,
        collection: str,
        body: Mapping[str, Any],
        *,
        recover: Recover | None = None,
        what: str = "",
    ) -> ApiObject:
        if collection == RELEASES:
            return self.releases.create(body)
        return super().create(collection, body, recover=recover, what=what)

    def update(
        self, collection: str, object_id: str, body: Mapping[str, Any], *, what: str = ""
    ) -> ApiObject:
        if collection == RELEASES:
            return self.releases.update(object_id, body)
        return super().update(collection, object_id, body, what=what)

    def delete(self, collection: str, object_id: str, *, what: str = "") -> None:
        if collection == RELEASES:
            self.releases.delete(object_id)
            return
        super().delete(collection, object_id, what=what)

    def check(
        self, collection: str, body: Mapping[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        """A release that the Responses API cannot express is refused before any write, and so
        is a second release of one name (``--replace``: a release file is rewritten in place,
        never replaced by another)."""
        if collection != RELEASES:
            return
        if current is None and self.releases.holds(*ownership(body.get("metadata"))):
            _, name = ownership(body.get("metadata"))
            raise PlanError(
                f"assistant.{name}: a release is rewritten in place, never replaced by a new one",
                hint="apply without --replace: the release file is written again when it differs",
            )
        compile_request(modified(current, body) if current is not None else body)

    def conversation(
        self, target_id: str, labels: Mapping[str, str], what: str, stop: threading.Event
    ) -> Conversation:
        return ResponseConversation(
            self.client,
            self.releases.load(target_id),
            labels,
            what=what,
            stop=stop,
            call=self.call,
            capabilities=self.capabilities,
        )
