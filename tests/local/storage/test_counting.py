"""The statements and transactions a replica sends its database, as ``/_admin/stats`` shows
them: a retrieve reads without a transaction, a create writes in one."""

from __future__ import annotations


def counts(admin):
    return admin.stats()["database"]


def test_stats_count_the_database_round_trips_of_each_request(client, admin):
    before = counts(admin)
    assistant = client.beta.assistants.create(model="gpt-4o", name="counted")
    created = counts(admin)
    assert created["transactions"] == before["transactions"] + 1
    assert created["statements"] > before["statements"]
    client.beta.assistants.retrieve(assistant.id)
    retrieved = counts(admin)
    assert retrieved["transactions"] == created["transactions"]
    # one read; the replica's heartbeat may add its own (one read every few seconds)
    assert retrieved["statements"] - created["statements"] in (1, 2)
