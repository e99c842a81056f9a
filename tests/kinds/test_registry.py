"""A kind added from outside the package: one test-only module (a spec, a ``NamedKind``, a JSON
Schema) registered through ``Registry.with_kind`` is validated, planned, applied, re-planned and
exported like the built-in kinds, against a fake backend, without touching any other module."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
import yaml

from assistctl import export, manifest
from assistctl.apply import execute
from assistctl.backends.base import ApiObject, Backend, Conversation, Recover
from assistctl.errors import AccountError, ManifestError
from assistctl.kinds import KINDS
from assistctl.kinds.base import (
    BuildContext,
    ExportContext,
    ExportedDocument,
    NamedKind,
    PlanContext,
    user_metadata,
)
from assistctl.live import snapshot
from assistctl.model import DesiredFile, DesiredResource, LiveResource, Spec
from assistctl.plan import plan

TOY_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://assistctl.dev/schemas/toy.json",
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "assistctl/v1"},
        "kind": {"const": "Toy"},
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["colour"],
            "properties": {
                "colour": {"enum": ["red", "green", "blue"]},
                "size": {"type": "integer", "minimum": 1},
                "metadata": {"type": "object"},
            },
        },
    },
}


@dataclass(frozen=True)
class ToySpec:
    colour: str
    size: int = 1
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {"colour": self.colour, "size": self.size, "metadata": dict(self.metadata)}


class ToyKind(NamedKind):
    name: ClassVar[str] = "toy"
    manifest_kind: ClassVar[str | None] = "Toy"
    noun: ClassVar[str] = "toy"
    collection: ClassVar[str] = "toys"

    def schema(self) -> Mapping[str, Any]:
        return TOY_SCHEMA

    def spec_of(self, view: Mapping[str, Any], files: Sequence[DesiredFile] = ()) -> ToySpec:
        return ToySpec(
            str(view["colour"]), int(view.get("size") or 1), user_metadata(view.get("metadata"))
        )

    def build(self, context: BuildContext) -> DesiredResource | None:
        if context.spec.get("size", 1) > 10:
            context.problem(("spec", "size"), "toys come in sizes up to 10")
        return self.resource(context.name, context.spec, (), context.location)

    def live_spec(self, resource: LiveResource, context: PlanContext, wanted: Spec | None) -> Spec:
        return self.spec_of(resource.data)

    def request(self, spec: Spec, context: PlanContext) -> dict[str, Any]:
        assert isinstance(spec, ToySpec)
        return spec.view()

    def export(self, resource: LiveResource, context: ExportContext) -> ExportedDocument | None:
        spec = self.spec_of(resource.data).view()
        return ExportedDocument("Toy", context.names[resource.id], resource.id, spec)


class FakeBackend:
    """An account in memory: every collection a dict of objects, writes counted."""

    family = "fake"

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, ApiObject]] = {}
        self.writes: list[tuple[str, str]] = []
        self.ids = itertools.count(1)

    def observed(self, on_retry: Callable[[str], None]) -> FakeBackend:
        return self

    def list(self, collection: str, query: Mapping[str, str] | None = None) -> Iterator[ApiObject]:
        yield from (dict(o) for o in self.objects.get(collection, {}).values())

    def list_children(
        self, collection: str, parent_id: str, *, status: str | None = None, what: str = ""
    ) -> Sequence[ApiObject]:
        return ()

    def retrieve(self, collection: str, object_id: str) -> ApiObject:
        try:
            return dict(self.objects[collection][object_id])
        except KeyError:
            raise AccountError(f"{object_id} not found", status=404) from None

    def create(
        self,
        collection: str,
        body: Mapping[str, Any],
        *,
        recover: Recover | None = None,
        what: str = "",
    ) -> ApiObject:
        object_id = f"{collection}_{next(self.ids)}"
        created = {"id": object_id, "created_at": 1, **body}
        self.objects.setdefault(collection, {})[object_id] = created
        self.writes.append(("create", collection))
        return dict(created)

    def update(
        self, collection: str, object_id: str, body: Mapping[str, Any], *, what: str = ""
    ) -> ApiObject:
        self.objects[collection][object_id].update(body)
        self.writes.append(("update", collection))
        return dict(self.objects[collection][object_id])

    def delete(self, collection: str, object_id: str, *, what: str = "") -> None:
        self.objects.get(collection, {}).pop(object_id, None)
        self.writes.append(("delete", collection))

    def upload(
        self,
        filename: str,
        content: bytes,
        *,
        purpose: str,
        recover: Recover | None = None,
        what: str = "",
    ) -> ApiObject:
        raise AssertionError("the toy stack uploads nothing")

    def download(self, file_id: str) -> bytes | None:
        return None

    def attach(
        self,
        collection: str,
        parent_id: str,
        entries: Sequence[Mapping[str, Any]],
        *,
        recover: Callable[[], Sequence[Mapping[str, Any]]],
        what: str = "",
    ) -> None:
        raise AssertionError("toys have no children")

    def update_child(
        self,
        collection: str,
        parent_id: str,
        child_id: str,
        body: Mapping[str, Any],
        *,
        what: str = "",
    ) -> None:
        raise AssertionError("toys have no children")

    def detach(self, collection: str, parent_id: str, child_id: str, *, what: str = "") -> None:
        raise AssertionError("toys have no children")

    def conversation(
        self, target_id: str, labels: Mapping[str, str], what: str, stop: threading.Event
    ) -> Conversation:
        raise AssertionError("toys do not talk")


KINDS_WITH_TOYS = KINDS.with_kind(ToyKind())


def write_stack(directory, toys: dict[str, dict[str, Any]]) -> None:
    directory.mkdir(exist_ok=True)
    documents = [{"apiVersion": "assistctl/v1", "kind": "Stack", "metadata": {"name": "toybox"}}]
    documents += [
        {"apiVersion": "assistctl/v1", "kind": "Toy", "metadata": {"name": name}, "spec": spec}
        for name, spec in toys.items()
    ]
    (directory / "stack.yaml").write_text(yaml.safe_dump_all(documents))


def converge(directory, backend: Backend):
    desired = manifest.load([directory], kinds=KINDS_WITH_TOYS)
    live = snapshot(backend, desired.owner, kinds=KINDS_WITH_TOYS)
    the_plan = plan(desired, live, kinds=KINDS_WITH_TOYS)
    execute(the_plan, desired, live, backend, kinds=KINDS_WITH_TOYS)
    return the_plan


def test_a_kind_from_a_test_module_is_planned_applied_and_exported(tmp_path):
    backend = FakeBackend()
    write_stack(tmp_path / "stack", {"car": {"colour": "red"}, "ball": {"colour": "blue"}})
    first = converge(tmp_path / "stack", backend)
    assert [(c.address, c.action.value) for c in first.changes] == [
        ("toy.ball", "create"),
        ("toy.car", "create"),
    ]
    assert backend.writes == [("create", "toys"), ("create", "toys")]
    stored = {o["assistctl_name"]: o for o in map(_tags, backend.objects["toys"].values())}
    assert stored["car"]["colour"] == "red" and stored["car"]["assistctl_stack"] == "toybox"

    write_stack(tmp_path / "stack", {"car": {"colour": "green", "size": 3}})
    second = converge(tmp_path / "stack", backend)
    assert [(c.address, c.action.value, c.fields) for c in second.pending] == [
        ("toy.car", "update", ("colour", "size")),
        ("toy.ball", "delete", ()),
    ]
    assert not converge(tmp_path / "stack", backend).has_changes

    source = export.read(backend, export.Selection(stack="toybox"), KINDS_WITH_TOYS)
    result = export.build(source, "toybox", kinds=KINDS_WITH_TOYS)
    export.write(result, tmp_path / "exported")
    exported = manifest.load([tmp_path / "exported"], kinds=KINDS_WITH_TOYS)
    live = snapshot(backend, "toybox", kinds=KINDS_WITH_TOYS)
    assert not plan(exported, live, kinds=KINDS_WITH_TOYS).has_changes
    assert (tmp_path / "exported" / "toys" / "car.yaml").is_file()


def test_the_kind_validates_its_own_documents(tmp_path):
    write_stack(
        tmp_path / "stack", {"car": {"colour": "pink"}, "truck": {"colour": "red", "size": 99}}
    )
    with pytest.raises(ManifestError) as caught:
        manifest.load([tmp_path / "stack"], kinds=KINDS_WITH_TOYS)
    messages = [str(p) for p in caught.value.problems]
    assert any("spec.colour" in m and "'pink' is not one of" in m for m in messages)
    assert any("spec.size" in m and "toys come in sizes up to 10" in m for m in messages)
    with pytest.raises(ManifestError, match="unknown kind 'Toy'"):
        manifest.load([tmp_path / "stack"])


def _tags(data: Mapping[str, Any]) -> dict[str, Any]:
    return {**data, **data["metadata"]}
