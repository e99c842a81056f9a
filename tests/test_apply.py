"""The executor against a real local account over HTTP: what it writes, in what order, and that
every interruption (5xx before or after commit, dropped connections, 429 storms) converges with
no duplicate resources and no orphaned uploads."""

from __future__ import annotations

import math
import shutil
from collections import Counter
from pathlib import Path

import pytest

from assistctl.apply import ApplyResult, Reporter, execute
from assistctl.backends.assistants import AssistantsBackend
from assistctl.errors import ApplyError
from assistctl.kinds.vector_store import FILES_PER_BATCH
from assistctl.live import snapshot
from assistctl.manifest import load
from assistctl.model import NAME_KEY, STACK_KEY, Action, Desired, parse_upload_filename
from assistctl.plan import plan
from assistctl.retry import RetryPolicy
from tests.builders import add_code_interpreter_file

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart"


def fast_policy() -> RetryPolicy:
    """Real retries, tiny waits: fault tests stay fast without changing what is retried."""
    return RetryPolicy(attempts=15, deadline_s=30.0, base_delay_s=0.001, max_delay_s=0.01)


def copy_quickstart(directory: Path, stack: str = "support") -> Path:
    shutil.copytree(QUICKSTART, directory)
    stack_file = directory / "stack.yaml"
    stack_file.write_text(stack_file.read_text().replace("name: support", f"name: {stack}"))
    if stack != "support":  # display names are unique across stacks too
        for manifest, display in (
            ("handbook.yaml", "Support handbook"),
            ("support-bot.yaml", "Support Bot"),
        ):
            text = (directory / manifest).read_text()
            (directory / manifest).write_text(text.replace(display, f"{display} ({stack})"))
    return directory


@pytest.fixture
def stack_dir(tmp_path) -> Path:
    return copy_quickstart(tmp_path / "stack")


def backend_of(client, policy: RetryPolicy | None = None) -> AssistantsBackend:
    return AssistantsBackend(client, policy=policy or fast_policy())


def converge(directory: Path, client, **options) -> ApplyResult:
    """Plan and apply; ``policy`` goes to the backend, ``files_per_batch`` to the planner, the
    rest to ``execute``."""
    backend = backend_of(client, options.pop("policy", None))
    desired = load([directory])
    live = snapshot(backend, desired.owner)
    batch = options.pop("files_per_batch", FILES_PER_BATCH)
    return execute(plan(desired, live, files_per_batch=batch), desired, live, backend, **options)


def current_plan(directory: Path, client):
    desired = load([directory])
    return plan(desired, snapshot(backend_of(client), desired.owner))


def holdings(client) -> dict[str, dict]:
    """Everything each owner holds, counted through the SDK's own list endpoints in one pass."""
    held: dict[str, dict] = {}

    def of(owner: str) -> dict:
        return held.setdefault(
            owner,
            {"assistants": Counter(), "vector_stores": Counter(), "uploads": {}, "orphans": set()},
        )

    referenced: set[str] = set()
    for assistant in client.beta.assistants.list(limit=100):
        metadata = assistant.metadata or {}
        if STACK_KEY in metadata:
            of(metadata[STACK_KEY])["assistants"][metadata.get(NAME_KEY)] += 1
            interpreter = assistant.tool_resources and assistant.tool_resources.code_interpreter
            referenced.update(interpreter.file_ids if interpreter else [])
    for store in client.vector_stores.list(limit=100):
        metadata = store.metadata or {}
        if STACK_KEY in metadata:
            of(metadata[STACK_KEY])["vector_stores"][metadata.get(NAME_KEY)] += 1
            referenced.update(f.id for f in client.vector_stores.files.list(store.id, limit=100))
    for upload in client.files.list(limit=100):
        parsed = parse_upload_filename(upload.filename)
        if parsed:
            of(parsed[0])["uploads"][upload.id] = parsed[1]
            if upload.id not in referenced:
                of(parsed[0])["orphans"].add(upload.id)
    return held


def census(client, owner: str) -> dict:
    return holdings(client).get(
        owner,
        {"assistants": Counter(), "vector_stores": Counter(), "uploads": {}, "orphans": set()},
    )


def assert_converged(directory: Path, client, held: dict | None = None) -> None:
    """Plan is empty; each resource exists once; each content is uploaded once and used."""
    desired = load([directory])
    assert not current_plan(directory, client).has_changes
    held = held if held is not None else census(client, desired.owner)
    assert held["assistants"] == Counter(a.name for a in desired.of_kind("assistant"))
    assert held["vector_stores"] == Counter(v.name for v in desired.of_kind("vector_store"))
    assert sorted(held["uploads"].values()) == sorted({f.sha256 for f in desired.files})
    assert held["orphans"] == set()


def writes(admin) -> int:
    return sum(
        count
        for route, count in admin.stats()["requests"].items()
        if route.split(" ", 1)[0] in ("POST", "DELETE")
        and not route.split(" ", 1)[1].startswith("/_")
    )


# --- the happy paths ----------------------------------------------------------------------------


def test_quickstart_applies_then_plans_empty(stack_dir, client):
    result = converge(stack_dir, client)
    counts = result.counts()
    desired = load([stack_dir])
    assert counts["created"] == len(desired.files) + 2
    assert counts["updated"] == counts["replaced"] == counts["deleted"] == 0
    assert {o.address for o in result.outcomes} >= {
        "assistant.support-bot",
        "vector_store.handbook",
    }
    assert_converged(stack_dir, client)
    assistant = next(iter(client.beta.assistants.list(limit=100)))
    assert assistant.metadata["team"] == "support"
    store_id = assistant.tool_resources.file_search.vector_store_ids[0]
    attached = list(client.vector_stores.files.list(store_id, limit=100))
    assert {f.attributes["assistctl_path"] for f in attached} == {f.path for f in desired.files}
    assert {f.status for f in attached} == {"completed"}
    assert converge(stack_dir, client).outcomes == ()


def test_changed_instructions_update_the_assistant_in_place(stack_dir, client):
    converge(stack_dir, client)
    before = next(iter(client.beta.assistants.list(limit=100)))
    (stack_dir / "prompts" / "support.md").write_text("Answer in one sentence.\n")
    pending = current_plan(stack_dir, client).pending
    assert [(c.address, c.action) for c in pending] == [("assistant.support-bot", Action.UPDATE)]
    result = converge(stack_dir, client)
    assert result.counts() == {"created": 0, "updated": 1, "replaced": 0, "deleted": 0}
    after = client.beta.assistants.retrieve(before.id)
    assert after.instructions == "Answer in one sentence.\n"
    assert after.metadata[STACK_KEY] == "support"
    assert_converged(stack_dir, client)


def test_changed_file_content_replaces_the_upload_and_deletes_the_old_one(stack_dir, client):
    converge(stack_dir, client)
    old = {parse_upload_filename(f.filename)[1]: f.id for f in client.files.list(limit=100)}
    (stack_dir / "docs" / "returns.md").write_text("# Returns\n\nReturns are free for 60 days.\n")
    pending = current_plan(stack_dir, client).pending
    assert {(c.address, c.action) for c in pending} == {
        ("file.docs/returns.md", Action.REPLACE),
        ("vector_store.handbook", Action.UPDATE),
    }
    result = converge(stack_dir, client)
    assert result.counts()["replaced"] == 1
    now = {f.id for f in client.files.list(limit=100)}
    assert len(now - set(old.values())) == 1 and len(set(old.values()) - now) == 1
    assert_converged(stack_dir, client)


def test_changed_tool_updates_only_the_assistant(stack_dir, client):
    converge(stack_dir, client)
    manifest = stack_dir / "support-bot.yaml"
    manifest.write_text(manifest.read_text().replace("max_num_results: 5", "max_num_results: 7"))
    pending = current_plan(stack_dir, client).pending
    assert [(c.address, c.action, c.fields) for c in pending] == [
        ("assistant.support-bot", Action.UPDATE, ("tools",))
    ]
    converge(stack_dir, client)
    assistant = next(iter(client.beta.assistants.list(limit=100)))
    search = next(t for t in assistant.tools if t.type == "file_search")
    assert search.file_search.max_num_results == 7
    assert_converged(stack_dir, client)


def test_removed_resources_are_deleted_with_their_uploads(stack_dir, client):
    converge(stack_dir, client)
    (stack_dir / "support-bot.yaml").unlink()
    result = converge(stack_dir, client)
    assert result.counts() == {"created": 0, "updated": 0, "replaced": 0, "deleted": 1}
    assert list(client.beta.assistants.list(limit=100)) == []
    assert_converged(stack_dir, client)
    (stack_dir / "handbook.yaml").unlink()
    # Only the Stack document remains: everything the stack owned goes.
    desired = Desired(stack="support", env=None, root=stack_dir)
    backend = backend_of(client)
    live = snapshot(backend, desired.owner)
    execute(plan(desired, live), desired, live, backend)
    assert census(client, "support")["uploads"] == {}
    assert list(client.vector_stores.list(limit=100)) == []


def test_foreign_resources_are_never_touched(stack_dir, tmp_path, client):
    foreign = client.beta.assistants.create(model="gpt-4o-mini", name="Support Bot")
    other = copy_quickstart(tmp_path / "other", stack="billing")
    converge(other, client)
    other_before = census(client, "billing")
    converge(stack_dir, client)
    desired = Desired(stack="support", env=None, root=stack_dir)
    backend = backend_of(client)
    live = snapshot(backend, desired.owner)
    execute(plan(desired, live), desired, live, backend)
    assert client.beta.assistants.retrieve(foreign.id).metadata in ({}, None)
    assert census(client, "billing") == other_before
    assert census(client, "support")["uploads"] == {}
    assert_converged(other, client)


def test_a_change_to_a_resource_the_plan_does_not_own_is_refused(stack_dir, client):
    converge(stack_dir, client)
    (stack_dir / "prompts" / "support.md").write_text("Changed.\n")
    the_plan = current_plan(stack_dir, client)
    desired = load([stack_dir])
    backend = backend_of(client)
    live = snapshot(backend, desired.owner)
    assistant = client.beta.assistants.list(limit=100).data[0]
    client.beta.assistants.update(assistant.id, metadata={"team": "support"} | {STACK_KEY: "x"})
    stolen = snapshot(backend, desired.owner)
    with pytest.raises(ApplyError, match="not owned by 'support'"):
        execute(the_plan, desired, stolen, backend)
    assert client.beta.assistants.retrieve(assistant.id).instructions != "Changed.\n"
    assert live.of_kind("assistant")  # the plan was made while it was still owned


# --- interruptions ------------------------------------------------------------------------------


@pytest.fixture
def quickstart_writes(tmp_path, client, admin) -> int:
    """How many write requests a clean quickstart apply makes (measured, not assumed)."""
    directory = copy_quickstart(tmp_path / "measure", stack="measure")
    admin.reset_stats()
    converge(directory, client)
    return writes(admin)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "when": "before"},
        {"status": 500, "when": "after"},
        {"drop": True, "when": "after"},
        {"status": 429, "count": 6, "retry_after": 0.001},
    ],
    ids=["500-before-commit", "500-after-commit", "dropped-after-commit", "429-storm"],
)
def test_a_fault_at_every_write_converges_without_duplicates(
    fault, tmp_path, client, admin, quickstart_writes
):
    assert quickstart_writes == 6  # 3 uploads, 1 store, 1 file batch, 1 assistant
    directories = []
    for index in range(1, quickstart_writes + 1):
        directory = copy_quickstart(tmp_path / f"k{index}", stack=f"k{index}")
        rule = {"methods": ["POST", "DELETE"], "path": "^/v1/", "nth": index, **fault}
        admin.set_faults(rules=[rule])
        converge(directory, client)
        assert admin.faults()["rules"][0]["seen"] >= index, "the fault never fired"
        admin.clear_faults()
        directories.append(directory)
    held = holdings(client)
    for index, directory in enumerate(directories, start=1):
        assert_converged(directory, client, held[f"k{index}"])


def test_a_fault_that_outlasts_the_retries_reports_what_was_done(stack_dir, client, admin):
    admin.set_faults(rules=[{"methods": ["POST"], "path": "^/v1/assistants$", "count": 1000}])
    with pytest.raises(ApplyError) as failure:
        converge(stack_dir, client, policy=RetryPolicy(attempts=3, base_delay_s=0.001))
    assert "assistant.support-bot" in failure.value.message
    assert "gave up after 3 attempts" in failure.value.message
    assert any("vector_store.handbook" in line for line in failure.value.done)
    admin.clear_faults()
    converge(stack_dir, client)
    assert_converged(stack_dir, client)


def test_a_store_that_fails_to_be_created_still_reports_the_stores_that_were(
    stack_dir, client, admin
):
    (stack_dir / "faq.yaml").write_text(
        "apiVersion: assistctl/v1\nkind: VectorStore\nmetadata: {name: faq}\n"
        "spec:\n  files: [docs/returns.md]\n"
    )
    admin.set_faults(rules=[{"methods": ["POST"], "path": "^/v1/vector_stores$", "nth": 2}])
    with pytest.raises(ApplyError) as failure:
        converge(stack_dir, client, policy=RetryPolicy(attempts=1))
    admin.clear_faults()
    (created,) = client.vector_stores.list(limit=100).data
    name = created.metadata[NAME_KEY]
    assert f"+ vector_store.{name} … created {created.id}, files not yet complete" in (
        failure.value.done
    )


def test_a_429_storm_is_ridden_out(stack_dir, client, admin):
    admin.set_faults(
        rate_limit_per_s=40.0,
        rules=[
            {"methods": ["POST"], "path": "^/v1/", "count": 6, "status": 429, "retry_after": 0.01}
        ],
    )
    converge(stack_dir, client, concurrency=16)
    admin.clear_faults()
    assert_converged(stack_dir, client)


def test_slow_indexing_is_waited_for(stack_dir, client, admin):
    admin.set_faults(indexing_delay_s=0.3)
    seen = []

    class Progress:
        def begin(self, total):
            pass

        def finished(self, outcome):
            pass

        def note(self, text):
            pass

        def indexing(self, address, completed, total):
            seen.append((address, completed, total))

        def end(self):
            pass

    converge(stack_dir, client, reporter=Progress())
    assert seen[-1] == ("vector_store.handbook", 3, 3)
    assert any(completed < total for _, completed, total in seen)
    admin.clear_faults()
    assert_converged(stack_dir, client)


# --- file batches ------------------------------------------------------------------------------

BATCH_CREATE = "POST /v1/vector_stores/{vector_store_id}/file_batches"
FILE_CREATE = "POST /v1/vector_stores/{vector_store_id}/files"
MANY_FILES = 40


def add_notes(directory: Path) -> None:
    """Notes the handbook's ``docs/*.md`` picks up: MANY_FILES files in all."""
    for index in range(MANY_FILES - 3):
        (directory / "docs" / f"note-{index:02d}.md").write_text(
            f"# Note {index}\n\nFact {index}.\n"
        )


@pytest.mark.parametrize("files_per_batch", [FILES_PER_BATCH, 16])
def test_many_files_are_attached_with_one_request_per_batch(
    files_per_batch, stack_dir, client, admin
):
    add_notes(stack_dir)
    admin.reset_stats()
    converge(stack_dir, client, files_per_batch=files_per_batch)
    requests = admin.stats()["requests"]
    assert requests.get(BATCH_CREATE) == math.ceil(MANY_FILES / files_per_batch)
    assert requests.get(FILE_CREATE, 0) == 0
    assert_converged(stack_dir, client)
    store = client.vector_stores.list(limit=100).data[0]
    assert store.file_counts.completed == MANY_FILES


def test_a_moved_file_is_re_tagged_in_place_not_attached_again(stack_dir, client, admin):
    converge(stack_dir, client)
    uploads = {f.id for f in client.files.list(limit=100)}
    (stack_dir / "docs" / "returns.md").rename(stack_dir / "docs" / "refunds.md")
    admin.reset_stats()
    converge(stack_dir, client)
    requests = admin.stats()["requests"]
    assert requests["POST /v1/vector_stores/{vector_store_id}/files/{file_id}"] == 1
    assert requests.get(BATCH_CREATE, 0) == requests.get(FILE_CREATE, 0) == 0
    assert requests.get("DELETE /v1/vector_stores/{vector_store_id}/files/{file_id}", 0) == 0
    assert {f.id for f in client.files.list(limit=100)} == uploads
    assert_converged(stack_dir, client)


@pytest.mark.parametrize(
    "fault, batch_creates",
    [
        ({"status": 500, "when": "after"}, 3),  # committed: found by listing, not sent again
        ({"drop": True, "when": "after"}, 3),
        ({"status": 500, "when": "before"}, 4),  # nothing attached: sent again
        ({"status": 429, "count": 2, "retry_after": 0.001}, 5),
    ],
    ids=["500-after-commit", "dropped-after-commit", "500-before-commit", "429"],
)
def test_a_failed_batch_create_is_sent_again_only_if_it_attached_nothing(
    fault, batch_creates, stack_dir, client, admin
):
    add_notes(stack_dir)
    rule = {"methods": ["POST"], "path": "/file_batches$", "nth": 2, **fault}
    admin.set_faults(rules=[rule])
    admin.reset_stats()
    converge(stack_dir, client, files_per_batch=16)
    assert admin.faults()["rules"][0]["seen"] == batch_creates
    admin.clear_faults()
    assert admin.stats()["requests"][BATCH_CREATE] == batch_creates
    assert_converged(stack_dir, client)


def test_a_batch_that_attached_part_of_its_files_is_completed(stack_dir, client, admin):
    """Between the failure and the retry, one file of the committed batch is detached and
    another loses its attributes (as if the batch had half-happened): the retry sends those."""
    add_notes(stack_dir)
    admin.set_faults(rules=[{"methods": ["POST"], "path": "/file_batches$", "when": "after"}])
    sabotaged = []

    class HalfDone(Reporter):
        def note(self, text: str) -> None:
            if text.startswith("attach") and not sabotaged:
                store = client.vector_stores.list(limit=100).data[0]
                first, second = client.vector_stores.files.list(store.id, limit=2).data
                client.vector_stores.files.delete(first.id, vector_store_id=store.id)
                client.vector_stores.files.update(
                    second.id, vector_store_id=store.id, attributes={}
                )
                sabotaged.append(text)

    converge(stack_dir, client, reporter=HalfDone())
    admin.clear_faults()
    assert sabotaged
    assert_converged(stack_dir, client)
    store = client.vector_stores.list(limit=100).data[0]
    assert store.file_counts.completed == MANY_FILES


def test_concurrency_must_be_positive(stack_dir, client):
    with pytest.raises(ApplyError, match="at least 1"):
        converge(stack_dir, client, concurrency=0)
    assert list(client.files.list(limit=100)) == []


def test_a_file_that_fails_indexing_fails_the_apply_with_its_path_and_error(stack_dir, client):
    # NUL bytes: valid UTF-8 (validate lets it through: Latin-1 it refuses), binary to the index
    (stack_dir / "docs" / "legacy.md").write_bytes(b"Caf\x00 opening hours\n")
    with pytest.raises(ApplyError) as failure:
        converge(stack_dir, client)
    message = failure.value.message
    assert "vector_store.handbook: indexing failed for docs/legacy.md (unsupported_file:" in message
    assert any("file.docs/returns.md" in line for line in failure.value.done)
    # Detached, so the plan keeps showing it rather than hiding a broken store; the assistant
    # waits for its store.
    pending = current_plan(stack_dir, client).pending
    assert [(c.address, c.action) for c in pending] == [
        ("vector_store.handbook", Action.UPDATE),
        ("assistant.support-bot", Action.CREATE),
    ]
    (stack_dir / "docs" / "legacy.md").write_text("Café opening hours\n")
    converge(stack_dir, client)
    assert_converged(stack_dir, client)


def test_code_interpreter_files_follow_their_content(stack_dir, client):
    add_code_interpreter_file(stack_dir, "data/prices.csv", "sku,price\nA,1\n")
    converge(stack_dir, client)
    assert_converged(stack_dir, client)
    assistant = client.beta.assistants.list(limit=100).data[0]
    (first,) = assistant.tool_resources.code_interpreter.file_ids
    assert parse_upload_filename(client.files.retrieve(first).filename)[2] == "prices.csv"

    (stack_dir / "data" / "prices.csv").write_text("sku,price\nA,2\n")
    pending = {(c.address, c.action) for c in current_plan(stack_dir, client).pending}
    assert pending == {
        ("file.data/prices.csv", Action.REPLACE),
        ("assistant.support-bot", Action.UPDATE),
    }
    converge(stack_dir, client)
    assert_converged(stack_dir, client)
    (second,) = client.beta.assistants.retrieve(
        assistant.id
    ).tool_resources.code_interpreter.file_ids
    assert second != first
    assert first not in {f.id for f in client.files.list(limit=100)}


def test_chunking_and_expiry_are_applied_and_a_new_chunking_reattaches(stack_dir, client):
    manifest = stack_dir / "handbook.yaml"
    manifest.write_text(
        manifest.read_text()
        + "  expires_after: {anchor: last_active_at, days: 30}\n"
        + "  chunking_strategy:\n    type: static\n"
        + "    static: {max_chunk_size_tokens: 400, chunk_overlap_tokens: 100}\n"
    )
    converge(stack_dir, client)
    assert_converged(stack_dir, client)
    store = client.vector_stores.list(limit=100).data[0]
    assert store.expires_after.days == 30
    attached = list(client.vector_stores.files.list(store.id, limit=100))
    assert {f.chunking_strategy.static.max_chunk_size_tokens for f in attached} == {400}

    manifest.write_text(manifest.read_text().replace("400, chunk", "600, chunk"))
    pending = current_plan(stack_dir, client).pending
    assert [(c.address, c.fields) for c in pending] == [
        ("vector_store.handbook", ("chunking_strategy",))
    ]
    converge(stack_dir, client)
    attached = list(client.vector_stores.files.list(store.id, limit=100))
    assert {f.chunking_strategy.static.max_chunk_size_tokens for f in attached} == {600}
    assert_converged(stack_dir, client)
