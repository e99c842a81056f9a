"""``tool_resources`` of assistants, threads and runs: the files code interpreter may read and
the vector stores file search uses, including stores a request asks to create on the fly."""

from __future__ import annotations

from dataclasses import dataclass

from assistctl.local.domain.records import ApiObject
from assistctl.local.domain.vector_stores import NewVectorStore, VectorStores


@dataclass(frozen=True)
class ToolResources:
    """Validated ``tool_resources``; ``None`` leaves a tool's resources out, and
    ``new_vector_stores`` are created when the resources are stored."""

    code_interpreter_file_ids: tuple[str, ...] | None = None
    vector_store_ids: tuple[str, ...] | None = None
    new_vector_stores: tuple[NewVectorStore, ...] = ()

    def stored(self, vector_stores: VectorStores) -> ApiObject:
        """The resources as an object keeps them, after creating the stores asked for."""
        resources: ApiObject = {}
        if self.code_interpreter_file_ids is not None:
            resources["code_interpreter"] = {"file_ids": list(self.code_interpreter_file_ids)}
        if self.vector_store_ids is not None:
            created = [vector_stores.create(spec)["id"] for spec in self.new_vector_stores]
            resources["file_search"] = {"vector_store_ids": [*self.vector_store_ids, *created]}
        return resources
