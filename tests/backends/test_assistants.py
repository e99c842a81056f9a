"""The Assistants backend over a real local account: plain JSON out, SDK failures in as
``AccountError``s that carry the status, and the sunset explained."""

from __future__ import annotations

import pytest

from assistctl.backends.assistants import AssistantsBackend
from assistctl.errors import AccountError, Transience
from assistctl.retry import RetryPolicy

FAST = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.01)


def test_sunset_404_names_the_shutdown_and_the_ways_on(client, admin):
    admin.set_faults(rules=[{"methods": ["GET"], "path": "^/v1/assistants$", "status": 404}])
    with pytest.raises(AccountError) as caught:
        list(AssistantsBackend(client, policy=FAST).list("assistants"))
    assert "2026-08-26" in caught.value.message
    assert "--account local" in caught.value.hint
    assert caught.value.status == 404


def test_objects_come_back_as_plain_json_by_api_field_names(client):
    backend = AssistantsBackend(client, policy=FAST)
    created = backend.create(
        "assistants",
        {
            "model": "gpt-4o",
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": {"type": "object"}},
            },
        },
    )
    (listed,) = backend.list("assistants")
    assert listed == created
    assert listed["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_errors_carry_status_code_and_what_they_may_have_done(client, admin):
    backend = AssistantsBackend(client, policy=FAST)
    with pytest.raises(AccountError) as refused:
        backend.create("assistants", {"model": "gpt-4o", "temperature": 9})
    assert refused.value.status == 400 and refused.value.transience is Transience.FATAL
    admin.set_faults(rules=[{"methods": ["POST"], "path": "^/v1/assistants$", "count": 100}])
    with pytest.raises(AccountError) as failed:
        backend.create("assistants", {"model": "gpt-4o"}, what="create assistant.bot")
    assert failed.value.status == 500 and failed.value.transience is Transience.UNKNOWN
    assert failed.value.message.startswith("create assistant.bot: the account answered 500")


def test_deleting_what_is_gone_is_success(client):
    backend = AssistantsBackend(client, policy=FAST)
    created = backend.create("assistants", {"model": "gpt-4o"})
    backend.delete("assistants", created["id"])
    backend.delete("assistants", created["id"])
    assert list(backend.list("assistants")) == []
