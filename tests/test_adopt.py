"""``assistctl import`` against a real local account: what it adopts, what it refuses, and that
the next plan shows only real differences."""

from __future__ import annotations

from collections import Counter

import pytest

from assistctl.adopt import adopt
from assistctl.errors import ApplyError
from assistctl.live import snapshot
from assistctl.manifest import load
from assistctl.model import NAME_KEY, STACK_KEY, Action, Address
from tests.test_apply import (
    assert_converged,
    backend_of,
    census,
    converge,
    copy_quickstart,
    current_plan,
)


@pytest.fixture
def stack_dir(tmp_path):
    return copy_quickstart(tmp_path / "stack")


def test_import_adopts_an_assistant_and_plan_shows_only_real_differences(stack_dir, client):
    converge(stack_dir, client)
    ours = client.beta.assistants.list(limit=100).data[0]
    client.beta.assistants.delete(ours.id)
    made_by_hand = client.beta.assistants.create(
        model="gpt-4o-mini",
        name="Support Bot",
        instructions=ours.instructions,
        metadata={"owner": "alice"},
    )
    desired = load([stack_dir])
    backend = backend_of(client)
    result = adopt(
        backend,
        desired,
        snapshot(backend, desired.owner),
        Address("assistant", "support-bot"),
        made_by_hand.id,
    )
    assert result.id == made_by_hand.id and not result.already_owned
    metadata = client.beta.assistants.retrieve(made_by_hand.id).metadata
    assert metadata == {"owner": "alice", STACK_KEY: "support", NAME_KEY: "support-bot"}
    pending = current_plan(stack_dir, client).pending
    assert [(c.address, c.action) for c in pending] == [("assistant.support-bot", Action.UPDATE)]
    converge(stack_dir, client)
    assert census(client, "support")["assistants"] == Counter({"support-bot": 1})


def test_import_refuses_what_it_must_not_take(stack_dir, tmp_path, client):
    desired = load([stack_dir])
    taken = client.beta.assistants.create(
        model="m", metadata={STACK_KEY: "billing", NAME_KEY: "support-bot"}
    )
    full = client.beta.assistants.create(model="m", metadata={f"k{i}": "v" for i in range(15)})
    backend = backend_of(client)
    live = snapshot(backend, desired.owner)
    bot, nobody = Address("assistant", "support-bot"), Address("assistant", "nobody")
    with pytest.raises(ApplyError, match="belongs to stack 'billing'"):
        adopt(backend, desired, live, bot, taken.id)
    with pytest.raises(ApplyError, match="limit of 16"):
        adopt(backend, desired, live, bot, full.id)
    with pytest.raises(ApplyError, match="not in the manifests"):
        adopt(backend, desired, live, nobody, full.id)
    converge(stack_dir, client)
    plain = client.beta.assistants.create(model="m")
    with pytest.raises(ApplyError, match="already managed by this stack"):
        adopt(backend, desired, snapshot(backend, "support"), bot, plain.id)
    assert client.beta.assistants.retrieve(plain.id).metadata in ({}, None)


def test_import_of_a_vector_store_tags_files_it_can_verify(stack_dir, client):
    converge(stack_dir, client)
    store = client.vector_stores.list(limit=100).data[0]
    client.vector_stores.update(store.id, metadata={"team": "support"})
    for attached in client.vector_stores.files.list(store.id, limit=100):
        client.vector_stores.files.update(attached.id, vector_store_id=store.id, attributes={})
    hand_made = client.files.create(file=("notes.md", b"# Notes\n"), purpose="assistants")
    client.vector_stores.files.create(store.id, file_id=hand_made.id)
    desired = load([stack_dir])
    backend = backend_of(client)
    handbook = Address("vector_store", "handbook")
    result = adopt(backend, desired, snapshot(backend, desired.owner), handbook, store.id)
    assert sorted(result.tagged_files) == sorted(f.path for f in desired.files)
    assert result.unverified_files == ("notes.md",)
    pending = current_plan(stack_dir, client).pending
    assert [(c.address, c.action) for c in pending] == [("vector_store.handbook", Action.UPDATE)]
    converge(stack_dir, client)
    assert_converged(stack_dir, client)
    assert client.files.retrieve(hand_made.id).id == hand_made.id  # not ours: detached, kept
