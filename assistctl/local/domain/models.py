"""Models: the names the account's engine answers to, as ``/v1/models`` lists them."""

from __future__ import annotations

from collections.abc import Callable

from assistctl.local.domain.errors import NotFound
from assistctl.local.domain.records import ApiObject
from assistctl.local.engines import Engine

OWNER = "assistctl-local"


class Models:
    """``created`` is when the account started: the local account does not date its models."""

    def __init__(self, engine: Callable[[], Engine], created: int) -> None:
        self._engine = engine
        self._created = created

    def names(self) -> tuple[str, ...]:
        return self._engine().model_names()

    def page(self) -> ApiObject:
        return {"object": "list", "data": [self._model(name) for name in self.names()]}

    def get(self, name: str) -> ApiObject:
        if name not in self.names():
            raise NotFound(
                f"The model '{name}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        return self._model(name)

    def _model(self, name: str) -> ApiObject:
        return {"id": name, "object": "model", "created": self._created, "owned_by": OWNER}
