"""The stage builder on plain operations: what it waits for, and that deletes come last."""

from __future__ import annotations

import pytest

from assistctl.errors import PlanError
from assistctl.kinds import KINDS
from assistctl.model import Operation, Ref, Verb
from assistctl.stages import stages


def op(key: str, verb: Verb, address: str, **fields) -> Operation:
    return Operation(key, verb, address, "things", **fields)


def keys(result) -> list[list[str]]:
    return [[operation.key for operation in stage] for stage in result]


def test_an_operation_waits_for_the_ids_it_uses_and_what_it_names():
    operations = [
        op("create bot", Verb.CREATE, "assistant.bot", body={"stores": [Ref("create store")]}),
        op("create store", Verb.CREATE, "vector_store.s"),
        op("attach", Verb.ATTACH, "vector_store.s", target=Ref("create store")),
        op("detach", Verb.DETACH, "vector_store.s", target="vs_1", after=("attach",)),
        op("upload", Verb.UPLOAD, "file.a"),
    ]
    assert keys(stages(operations, KINDS.position)) == [
        ["create store", "upload"],
        ["create bot", "attach"],
        ["detach"],
    ]


def test_deletes_come_after_every_other_write_and_users_before_what_they_use():
    operations = [
        op("delete upload", Verb.DELETE, "file.a", target="file-1"),
        op("delete store", Verb.DELETE, "vector_store.s", target="vs_1"),
        op("update bot", Verb.UPDATE, "assistant.bot", target="asst_1"),
        op("delete old bot", Verb.DELETE, "assistant.old", target="asst_2"),
    ]
    assert keys(stages(operations, KINDS.position)) == [
        ["update bot"],
        ["delete old bot"],
        ["delete store"],
        ["delete upload"],
    ]


def test_operations_that_wait_for_each_other_are_refused():
    operations = [
        op("a", Verb.UPDATE, "assistant.a", after=("b",)),
        op("b", Verb.UPDATE, "assistant.b", after=("a",)),
    ]
    with pytest.raises(PlanError, match="circle"):
        stages(operations, KINDS.position)
