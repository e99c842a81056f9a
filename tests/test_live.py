"""The account snapshot against the local server over real HTTP: what it reads, and how few
requests it needs (counted by the server's /_admin/stats)."""

from __future__ import annotations

import hashlib
import json
import math
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from assistctl.backends.assistants import AssistantsBackend
from assistctl.errors import AccountError
from assistctl.kinds.file import LiveUpload
from assistctl.live import snapshot as snapshot_of
from assistctl.model import (
    NAME_KEY,
    PATH_ATTRIBUTE,
    SHA256_ATTRIBUTE,
    STACK_KEY,
    Action,
    Desired,
    upload_filename,
)
from assistctl.plan import plan

OWNER = "support/staging"
ASSISTANTS = 300
VECTOR_STORES = 50
FILE_STORES = 5  # owned stores that get one file each


def _stats(root_url: str, reset: bool = False) -> dict[str, int]:
    path = "/_admin/stats/reset" if reset else "/_admin/stats"
    request = urllib.request.Request(root_url + path, method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def snapshot(client: openai.OpenAI, owner: str):
    return snapshot_of(AssistantsBackend(client), owner)


def uploads_of(live):
    return [LiveUpload.of(r) for r in live.of_kind("file")]


def _tags(owner: str, name: str) -> dict[str, str]:
    return {STACK_KEY: owner, NAME_KEY: name}


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    """One populated account shared by the read-only tests of this module: 300 owned
    assistants, 50 owned vector stores, and resources of other owners and of no one."""
    from assistctl.local import LocalConfig, start_in_process

    server = start_in_process(
        tmp_path_factory.mktemp("live") / "account", config=LocalConfig(admin=True)
    )
    client = openai.OpenAI(api_key="test-key", base_url=server.base_url, max_retries=0)

    def assistant(index: int) -> None:
        client.beta.assistants.create(
            model="gpt-4o", name=f"Bot {index}", metadata=_tags(OWNER, f"bot-{index}")
        )

    def store(index: int) -> None:
        created = client.vector_stores.create(
            name=f"Store {index}", metadata=_tags(OWNER, f"store-{index}")
        )
        if index < FILE_STORES:
            content = f"document {index}".encode()
            upload = client.files.create(
                file=(upload_filename(OWNER, _sha(content), f"doc{index}.md"), content),
                purpose="assistants",
            )
            client.vector_stores.files.create(
                created.id,
                file_id=upload.id,
                attributes={PATH_ATTRIBUTE: f"docs/doc{index}.md", SHA256_ATTRIBUTE: _sha(content)},
            )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(assistant, range(ASSISTANTS)))
        list(pool.map(store, range(VECTOR_STORES)))
    client.beta.assistants.create(model="gpt-4o", name="Hand made")
    client.beta.assistants.create(
        model="gpt-4o", name="Bot 1", metadata=_tags("support/prod", "bot-1")
    )
    client.vector_stores.create(name="Billing", metadata=_tags("billing", "docs"))
    client.files.create(
        file=(upload_filename("support/prod", _sha(b"x"), "x.md"), b"x"), purpose="assistants"
    )
    client.files.create(file=("notes.md", b"plain upload"), purpose="assistants")
    yield server, client
    server.stop()


def test_snapshot_holds_what_the_owner_owns_and_reads_foreign_only_for_clashes(account):
    server, client = account
    live = snapshot(client, OWNER)
    assert live.owner == OWNER
    assert len(live.of_kind("assistant")) == ASSISTANTS
    assert {a.name for a in live.of_kind("assistant")} == {f"bot-{i}" for i in range(ASSISTANTS)}
    assert all(
        a.owner == OWNER and a.data["metadata"][STACK_KEY] == OWNER
        for a in live.of_kind("assistant")
    )
    assert len(live.of_kind("vector_store")) == VECTOR_STORES
    with_files = sorted(
        (v for v in live.of_kind("vector_store") if v.children), key=lambda v: v.name
    )
    assert [v.name for v in with_files] == [f"store-{i}" for i in range(FILE_STORES)]
    attached = with_files[0].children[0]
    assert attached["status"] == "completed"
    assert attached["attributes"][PATH_ATTRIBUTE] == "docs/doc0.md"
    assert attached["chunking_strategy"]["type"] == "static"
    assert sorted(u.basename for u in uploads_of(live)) == [
        f"doc{i}.md" for i in range(FILE_STORES)
    ]
    assert {u.sha256 for u in uploads_of(live)} == {
        _sha(f"document {i}".encode()) for i in range(FILE_STORES)
    }
    foreign = {(f.kind, f.display_name, f.owner, f.logical_name) for f in live.foreign}
    assert foreign == {
        ("assistant", "Hand made", None, None),
        ("assistant", "Bot 1", "support/prod", "bot-1"),
        ("vector_store", "Billing", "billing", "docs"),
    }
    assert snapshot(client, OWNER).digest() == live.digest()


def test_snapshot_keeps_the_api_field_names(client):
    made = client.beta.assistants.create(
        model="gpt-4o",
        name="Schema bot",
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "reply", "schema": {"type": "object"}},
        },
        metadata=_tags("schema-stack", "schema-bot"),
    )
    (owned,) = snapshot(client, "schema-stack").of_kind("assistant")
    assert owned.id == made.id
    assert owned.data["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_snapshot_needs_only_list_pages(account):
    server, client = account
    _stats(server.root_url, reset=True)
    snapshot(client, OWNER)
    requests = _stats(server.root_url)["requests"]

    def bound(count: int, page: int = 100) -> int:
        return math.ceil(1.1 * math.ceil(count / page))

    assert set(requests) == {
        "GET /v1/assistants",
        "GET /v1/vector_stores",
        "GET /v1/files",
        "GET /v1/vector_stores/{vector_store_id}/files",
    }
    assert requests["GET /v1/assistants"] <= bound(ASSISTANTS + 2)
    assert requests["GET /v1/vector_stores"] <= bound(VECTOR_STORES + 1)
    assert requests["GET /v1/files"] <= bound(FILE_STORES + 2)
    # In fact exactly one request per page: no page is fetched twice.
    assert requests["GET /v1/assistants"] == math.ceil((ASSISTANTS + 2) / 100)
    assert requests["GET /v1/vector_stores"] == 1
    assert requests["GET /v1/files"] == 1
    assert requests["GET /v1/vector_stores/{vector_store_id}/files"] == VECTOR_STORES


def test_foreign_resources_never_become_deletes(account):
    server, client = account
    live = snapshot(client, OWNER)
    result = plan(Desired(stack="support", env="staging", root=Path(".")), live)
    deletes = [c for c in result.changes if c.action is Action.DELETE]
    assert len(deletes) == ASSISTANTS + VECTOR_STORES + FILE_STORES
    owned_ids = {a.id for a in live.of_kind("assistant")} | {
        v.id for v in live.of_kind("vector_store")
    }
    owned_ids |= {u.id for u in uploads_of(live)}
    assert {c.id for c in deletes} == owned_ids
    assert not {f.id for f in live.foreign} & {c.id for c in deletes}


def test_throttled_and_failing_pages_are_retried(client, admin):
    for index in range(3):
        client.beta.assistants.create(
            model="gpt-4o", name=f"B{index}", metadata=_tags(OWNER, f"b{index}")
        )
    admin.set_faults(
        rules=[
            {"methods": ["GET"], "path": "^/v1/assistants$", "status": 429, "retry_after": 0.01},
            {"methods": ["GET"], "path": "^/v1/files$", "status": 503, "retry_after": 0.01},
        ]
    )
    admin.reset_stats()
    live = snapshot(client, OWNER)
    assert sorted(a.name for a in live.of_kind("assistant")) == ["b0", "b1", "b2"]
    requests = admin.stats()["requests"]
    assert requests["GET /v1/assistants"] == 2
    assert requests["GET /v1/files"] == 2


def test_an_account_without_assistants_explains_the_sunset(client, admin):
    admin.set_faults(rules=[{"methods": ["GET"], "path": "^/v1/assistants$", "status": 404}])
    with pytest.raises(AccountError) as error:
        snapshot(client, OWNER)
    assert "2026-08-26" in error.value.message
    assert "local" in error.value.hint
