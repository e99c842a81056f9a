"""The planner on plain data: every action, every normalisation case, order, targets, clashes."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from assistctl.errors import PlanError
from assistctl.kinds import KINDS
from assistctl.kinds.assistant import AssistantKind, AssistantSpec
from assistctl.kinds.base import PlanContext
from assistctl.kinds.vector_store import VectorStoreKind, VectorStoreSpec
from assistctl.model import (
    ALTERED_KEY,
    NAME_KEY,
    STACK_KEY,
    Action,
    Address,
    Desired,
    DesiredFile,
    DesiredResource,
    ForeignResource,
    LiveResource,
    Ref,
    upload_filename,
)
from assistctl.plan import parse_target, plan
from tests import builders
from tests.builders import DEFAULT_STATIC, attached_file

STACK = "support"
OWNER = STACK


def sha(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def dfile(path: str, content: str = "") -> DesiredFile:
    content = content or f"content of {path}"
    return DesiredFile(path, Path("/nowhere") / path, sha(content), len(content))


def upload(
    file_id: str, content_sha: str, basename: str, owner: str = OWNER, created_at: int = 0
) -> LiveResource:
    return builders.live_upload(file_id, owner, content_sha, basename, created_at=created_at)


def desired(assistants=(), stores=(), env=None):
    return builders.desired(STACK, assistants, stores, env)


def d_assistant(logical="support-bot", files=(), **view) -> DesiredResource:
    view = {"name": "Support Bot", "model": "gpt-4o", "instructions": "Be kind.", **view}
    if files:
        view.setdefault("tool_resources", {})["code_interpreter"] = {
            "files": [f.path for f in files]
        }
    return builders.desired_assistant(logical, view, files)


def d_store(logical="handbook", files=(), **view) -> DesiredResource:
    return builders.desired_store(logical, {"name": "Handbook", **view}, files)


def api_assistant(assistant_id="asst_1", name="support-bot", owner=OWNER, **data) -> LiveResource:
    """An assistant the way the API answers: every default spelled out."""
    body = {
        "id": assistant_id,
        "object": "assistant",
        "created_at": 1,
        "name": "Support Bot",
        "description": None,
        "model": "gpt-4o",
        "instructions": "Be kind.",
        "tools": [],
        "tool_resources": {},
        "metadata": {STACK_KEY: owner, NAME_KEY: name},
        "temperature": 1.0,
        "top_p": 1.0,
        "response_format": "auto",
        **data,
    }
    return builders.live_assistant(body)


def api_store(store_id="vs_1", name="handbook", owner=OWNER, files=(), **data) -> LiveResource:
    body = {
        "id": store_id,
        "object": "vector_store",
        "name": "Handbook",
        "metadata": {STACK_KEY: owner, NAME_KEY: name},
        "expires_after": None,
        "status": "completed",
        "usage_bytes": 5,
        **data,
    }
    return builders.live_store(body, files)


def attached(file_id: str, path: str | None, content_sha: str | None, **extra):
    extra.setdefault("chunking_strategy", {"type": "static", "static": DEFAULT_STATIC})
    return attached_file(file_id, path, content_sha, **extra)


def Live(owner, assistants=(), vector_stores=(), uploads=(), foreign=()):  # noqa: N802
    return builders.live(owner, assistants, vector_stores, uploads, foreign)


def normalize_assistant(view):
    return AssistantSpec.of(view).view()


def normalize_vector_store(view):
    return VectorStoreSpec.of(view).view()


def _context(live, desired_state):
    return PlanContext(desired_state, live, tuple(KINDS), 2000)


def assistant_view(assistant, live, desired_state=None):
    state = desired_state or desired()
    return AssistantKind().live_spec(assistant, _context(live, state), None).view()


def vector_store_view(store, live, desired_state=None):
    state = desired_state or desired()
    return VectorStoreKind().live_spec(store, _context(live, state), None).view()


def actions(result) -> list[tuple[str, str]]:
    return [(c.address, c.action.value) for c in result.changes]


# --- creates and the empty plan ----------------------------------------------------------------


def test_nothing_desired_nothing_live_is_an_empty_plan():
    result = plan(desired(), Live(OWNER))
    assert result.changes == ()
    assert not result.has_changes
    assert result.summary() == {"create": 0, "update": 0, "replace": 0, "delete": 0}


def test_fresh_account_creates_everything_in_dependency_order():
    doc, prices = dfile("docs/a.md"), dfile("data/prices.csv")
    store = d_store(files=[doc])
    bot = d_assistant(
        files=[prices],
        tools=[{"type": "file_search"}, {"type": "code_interpreter"}],
        tool_resources={"file_search": {"vector_stores": ["handbook"]}},
    )
    result = plan(desired([bot], [store]), Live(OWNER))
    assert actions(result) == [
        ("file.data/prices.csv", "create"),
        ("file.docs/a.md", "create"),
        ("vector_store.handbook", "create"),
        ("assistant.support-bot", "create"),
    ]
    created_file = result.changes[1]
    assert created_file.before is None
    assert created_file.after == {
        "path": "docs/a.md",
        "sha256": doc.sha256,
        "bytes": doc.bytes,
        "filename": upload_filename(OWNER, doc.sha256, "a.md"),
    }
    assistant = result.changes[-1]
    assert assistant.after["tool_resources"] == {
        "file_search": {"vector_stores": ["handbook"]},
        "code_interpreter": {"files": ["data/prices.csv"]},
    }
    assert assistant.after["temperature"] == 1.0
    assert result.desired_digest == desired([bot], [store]).digest()
    assert result.live_digest == Live(OWNER).digest()


def test_two_paths_with_the_same_content_upload_once():
    first, second = dfile("a/x.md", "same"), dfile("b/x.md", "same")
    result = plan(desired(stores=[d_store(files=[first, second])]), Live(OWNER))
    files = [c for c in result.changes if c.kind == "file"]
    assert [(c.address, c.action) for c in files] == [
        ("file.a/x.md", Action.CREATE),
        ("file.b/x.md", Action.NO_OP),
    ]
    assert "same content as file.a/x.md" in files[1].reason


# --- normalisation: server defaults never show -------------------------------------------------

NORMALISATION_CASES = {
    "temperature default": ({}, {"temperature": 1.0}),
    "temperature float noise": ({"temperature": 0.2}, {"temperature": 0.20000000298023224}),
    "top_p default": ({"top_p": None}, {"top_p": 1.0}),
    "response_format default": ({}, {"response_format": "auto"}),
    "response_format none": ({"response_format": "auto"}, {"response_format": None}),
    "description empty": ({"description": ""}, {"description": None}),
    "json_schema response format as the API answers it": (
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": {"type": "object"}},
            }
        },
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "reply",
                    "description": None,
                    "schema": {"type": "object"},
                    "strict": None,
                },
            }
        },
    ),
    "tool order": (
        {
            "tools": [
                {"type": "function", "function": {"name": "b", "parameters": {}}},
                {"type": "code_interpreter"},
                {"type": "function", "function": {"name": "a", "parameters": {}}},
                {"type": "file_search"},
            ]
        },
        {
            "tools": [
                {"type": "file_search", "file_search": {"max_num_results": 20}},
                {"type": "code_interpreter"},
                {"type": "function", "function": {"name": "a", "parameters": {}, "strict": False}},
                {"type": "function", "function": {"name": "b", "parameters": {}, "strict": False}},
            ]
        },
    ),
    "ranking options default": (
        {"tools": [{"type": "file_search", "file_search": {"max_num_results": 8}}]},
        {
            "tools": [
                {
                    "type": "file_search",
                    "file_search": {
                        "max_num_results": 8,
                        "ranking_options": {"ranker": "auto", "score_threshold": 0.0},
                    },
                }
            ]
        },
    ),
    "ranking options as the API answers for auto": (
        {"tools": [{"type": "file_search"}]},
        {
            "tools": [
                {
                    "type": "file_search",
                    "file_search": {
                        "max_num_results": 20,
                        "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0},
                    },
                }
            ]
        },
    ),
    "max_num_results gpt-4 default": (
        {"tools": [{"type": "file_search", "file_search": {"max_num_results": 20}}]},
        {"tools": [{"type": "file_search"}]},
    ),
    "max_num_results gpt-3.5 default": (
        {"model": "gpt-3.5-turbo", "tools": [{"type": "file_search"}]},
        {
            "model": "gpt-3.5-turbo",
            "tools": [{"type": "file_search", "file_search": {"max_num_results": 5}}],
        },
    ),
    "max_num_results absent accepts the server's answer": (
        {"model": "local-echo", "tools": [{"type": "file_search"}]},
        {
            "model": "local-echo",
            "tools": [{"type": "file_search", "file_search": {"max_num_results": 7}}],
        },
    ),
    "function strict default and empty description": (
        {"tools": [{"type": "function", "function": {"name": "f", "description": ""}}]},
        {
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "f", "description": None, "strict": False},
                }
            ]
        },
    ),
    "reserved metadata": ({"metadata": {"team": "a"}}, {"metadata": {"team": "a"}}),
    "empty tool_resources sections": (
        {"tool_resources": {"file_search": {"vector_stores": []}}},
        {"tool_resources": {"code_interpreter": {"file_ids": []}, "file_search": None}},
    ),
}


@pytest.mark.parametrize("case", sorted(NORMALISATION_CASES))
def test_server_defaults_and_ordering_are_not_changes(case):
    manifest_view, server_fields = NORMALISATION_CASES[case]
    live_assistant = api_assistant(**server_fields)
    if "metadata" in server_fields:
        live_assistant = api_assistant(
            **{
                **server_fields,
                "metadata": {
                    **server_fields["metadata"],
                    STACK_KEY: OWNER,
                    NAME_KEY: "support-bot",
                },
            }
        )
    result = plan(desired([d_assistant(**manifest_view)]), Live(OWNER, (live_assistant,)))
    assert actions(result) == [("assistant.support-bot", "no-op")], result.changes[0].fields


@pytest.mark.parametrize(
    "manifest, server",
    [
        (None, {"type": "auto"}),
        ({"type": "auto"}, {"type": "static", "static": DEFAULT_STATIC}),
        ({"type": "static", "static": {"max_chunk_size_tokens": 800}}, {"type": "auto"}),
    ],
)
def test_auto_chunking_is_static_800_400(manifest, server):
    doc = dfile("docs/a.md")
    extra = {"chunking_strategy": manifest} if manifest else {}
    live = Live(
        OWNER,
        vector_stores=(
            api_store(files=[attached("file-1", doc.path, doc.sha256, chunking_strategy=server)]),
        ),
        uploads=(upload("file-1", doc.sha256, "a.md"),),
    )
    result = plan(desired(stores=[d_store(files=[doc], **extra)]), live)
    assert actions(result) == [("file.docs/a.md", "no-op"), ("vector_store.handbook", "no-op")]
    once = normalize_vector_store({"chunking_strategy": manifest})
    assert normalize_vector_store(once) == once


def test_store_without_files_takes_no_chunking_position():
    wanted = {
        "type": "static",
        "static": {"max_chunk_size_tokens": 1000, "chunk_overlap_tokens": 0},
    }
    result = plan(
        desired(stores=[d_store(chunking_strategy=wanted)]),
        Live(OWNER, vector_stores=(api_store(),)),
    )
    assert actions(result) == [("vector_store.handbook", "no-op")]


# --- updates (drift) ---------------------------------------------------------------------------


def test_dashboard_edits_show_as_updates_back_to_the_manifest():
    live_assistant = api_assistant(
        instructions="Be rude.",
        temperature=0.9,
        metadata={STACK_KEY: OWNER, NAME_KEY: "support-bot", "team": "sales"},
    )
    manifest = d_assistant(temperature=0.2, metadata={"team": "support"})
    result = plan(desired([manifest]), Live(OWNER, (live_assistant,)))
    (change,) = result.changes
    assert change.action is Action.UPDATE
    assert change.id == "asst_1"
    assert change.fields == ("instructions", "temperature", "metadata")
    assert change.before["instructions"] == "Be rude."
    assert change.after["instructions"] == "Be kind."
    assert change.before["metadata"] == {"team": "sales"}
    assert result.summary() == {"create": 0, "update": 1, "replace": 0, "delete": 0}


def test_explicit_max_num_results_is_enforced():
    live_assistant = api_assistant(
        tools=[{"type": "file_search", "file_search": {"max_num_results": 20}}]
    )
    manifest = d_assistant(tools=[{"type": "file_search", "file_search": {"max_num_results": 8}}])
    (change,) = plan(desired([manifest]), Live(OWNER, (live_assistant,))).changes
    assert change.action is Action.UPDATE
    assert change.fields == ("tools",)
    assert change.before["tools"] == [{"type": "file_search"}]


def test_non_default_ranking_options_are_compared():
    ranked = {"ranker": "default_2024_08_21", "score_threshold": 0.5}
    live_assistant = api_assistant(
        tools=[{"type": "file_search", "file_search": {"ranking_options": ranked}}]
    )
    (change,) = plan(
        desired([d_assistant(tools=[{"type": "file_search"}])]), Live(OWNER, (live_assistant,))
    ).changes
    assert change.action is Action.UPDATE and change.fields == ("tools",)


def test_changed_function_parameters_are_an_update_of_tools():
    def tool(parameters):
        return [{"type": "function", "function": {"name": "get_order", "parameters": parameters}}]

    live_assistant = api_assistant(tools=tool({"type": "object", "properties": {}}))
    manifest = d_assistant(tools=tool({"type": "object", "properties": {"id": {"type": "string"}}}))
    (change,) = plan(desired([manifest]), Live(OWNER, (live_assistant,))).changes
    assert (change.action, change.fields) == (Action.UPDATE, ("tools",))


def test_failed_vector_store_file_is_reattached_with_a_warning():
    doc = dfile("docs/a.md")
    store = api_store(
        files=[
            attached(
                "file-1",
                doc.path,
                doc.sha256,
                status="failed",
                last_error={"code": "server_error", "message": "boom"},
            )
        ]
    )
    live = Live(OWNER, vector_stores=(store,), uploads=(upload("file-1", doc.sha256, "a.md"),))
    result = plan(desired(stores=[d_store(files=[doc])]), live)
    assert actions(result) == [("file.docs/a.md", "no-op"), ("vector_store.handbook", "update")]
    assert result.changes[1].fields == ("files",)
    assert any("docs/a.md is failed" in w and "boom" in w for w in result.warnings)


# --- files: replace and delete -----------------------------------------------------------------


def test_changed_vector_store_file_content_is_a_replace():
    old_sha = sha("old handbook")
    new = dfile("docs/a.md", "new handbook")
    live = Live(
        OWNER,
        vector_stores=(api_store(files=[attached("file-old", "docs/a.md", old_sha)]),),
        uploads=(upload("file-old", old_sha, "a.md"),),
    )
    result = plan(desired(stores=[d_store(files=[new])]), live)
    assert actions(result) == [("file.docs/a.md", "replace"), ("vector_store.handbook", "update")]
    replace, store = result.changes
    assert replace.id == "file-old"
    assert replace.before["id"] == "file-old" and replace.before["sha256"] == old_sha
    assert replace.after["sha256"] == new.sha256
    assert "sha256" in replace.fields
    assert store.before["files"] == {"docs/a.md": old_sha}
    assert store.after["files"] == {"docs/a.md": new.sha256}
    assert result.summary() == {"create": 0, "update": 1, "replace": 1, "delete": 0}


def test_changed_code_interpreter_file_is_replaced_by_basename():
    old_sha = sha("old prices")
    new = dfile("data/prices.csv", "new prices")
    live = Live(
        OWNER,
        assistants=(
            api_assistant(
                tools=[{"type": "code_interpreter"}],
                tool_resources={"code_interpreter": {"file_ids": ["file-old"]}},
            ),
        ),
        uploads=(upload("file-old", old_sha, "prices.csv"),),
    )
    manifest = d_assistant(files=[new], tools=[{"type": "code_interpreter"}])
    result = plan(desired([manifest]), live)
    assert actions(result) == [
        ("file.data/prices.csv", "replace"),
        ("assistant.support-bot", "update"),
    ]
    assert result.changes[1].fields == ("tool_resources",)


def test_unused_upload_is_deleted_and_used_one_is_kept():
    doc = dfile("docs/a.md")
    stale = sha("gone")
    live = Live(
        OWNER,
        uploads=(
            upload("file-keep", doc.sha256, "a.md"),
            upload("file-stale", stale, "gone.md"),
            upload("file-theirs", sha("theirs"), "t.md", owner="other"),
        ),
    )
    result = plan(desired(stores=[d_store(files=[doc])]), live)
    assert actions(result) == [
        ("file.docs/a.md", "no-op"),
        ("vector_store.handbook", "create"),
        (f"file.gone.md@{stale[:12]}", "delete"),
    ]
    assert result.changes[0].id == "file-keep"
    assert result.changes[-1].id == "file-stale"


def test_unattached_duplicate_upload_is_deleted():
    doc = dfile("docs/a.md")
    live = Live(
        OWNER,
        vector_stores=(api_store(files=[attached("file-b", doc.path, doc.sha256)]),),
        uploads=(upload("file-a", doc.sha256, "a.md"), upload("file-b", doc.sha256, "a.md")),
    )
    result = plan(desired(stores=[d_store(files=[doc])]), live)
    assert actions(result) == [
        ("file.docs/a.md", "no-op"),
        ("vector_store.handbook", "no-op"),
        (f"file.a.md@{doc.sha256[:12]}", "delete"),
    ]
    assert result.changes[0].id == "file-b"  # the attached copy is the one kept
    assert result.changes[-1].id == "file-a"


# --- deletes (the prune) and ownership ---------------------------------------------------------


def test_owned_resources_absent_from_manifests_are_deleted_in_reverse_order():
    doc_sha = sha("x")
    live = Live(
        OWNER,
        assistants=(api_assistant("asst_old", "old-bot"),),
        vector_stores=(api_store("vs_old", "old-store", files=[attached("f1", "x.md", doc_sha)]),),
        uploads=(upload("f1", doc_sha, "x.md"),),
    )
    result = plan(desired(), live)
    assert actions(result) == [
        ("assistant.old-bot", "delete"),
        ("vector_store.old-store", "delete"),
        (f"file.x.md@{doc_sha[:12]}", "delete"),
    ]
    assert [c.id for c in result.changes] == ["asst_old", "vs_old", "f1"]
    assert result.changes[0].before["name"] == "Support Bot"
    assert result.changes[0].after is None


def test_resources_of_other_owners_are_never_deleted():
    other_env = api_assistant("asst_prod", "old-bot", owner="support/prod")
    foreign = (
        ForeignResource("assistant", "asst_x", "Someone", None),
        ForeignResource("vector_store", "vs_x", "Other", "billing", "docs"),
    )
    result = plan(desired(), Live(OWNER, assistants=(other_env,), foreign=foreign))
    assert result.changes == ()


def test_a_second_owned_resource_of_one_name_is_drift_deleted_keeping_the_oldest():
    """Two applies at once used to leave two; every later plan then refused to run."""
    live = Live(
        OWNER,
        assistants=(
            api_assistant("asst_a", created_at=20),
            api_assistant("asst_b", created_at=10),
        ),
    )
    result = plan(desired([d_assistant()]), live)
    assert actions(result) == [
        ("assistant.support-bot", "no-op"),
        ("assistant.support-bot#asst_a", "delete"),
    ]
    kept, duplicate = result.changes
    assert kept.id == "asst_b" and duplicate.id == "asst_a"
    assert "the older one, asst_b, is kept" in duplicate.reason


def test_unowned_namesake_is_a_warning_suggesting_import():
    foreign = (ForeignResource("assistant", "asst_hand", "Support Bot", None),)
    result = plan(desired([d_assistant()]), Live(OWNER, foreign=foreign))
    assert actions(result) == [("assistant.support-bot", "create")]
    assert result.warnings == (
        "assistant.support-bot: the account already has an unmanaged Assistant named "
        "'Support Bot' (asst_hand); to manage it instead of creating another, run: "
        "assistctl import assistant/support-bot asst_hand",
    )


def test_same_name_in_another_env_of_the_stack_is_not_a_clash():
    foreign = (
        ForeignResource("assistant", "asst_p", "Support Bot", "support/prod", "support-bot"),
    )
    result = plan(desired([d_assistant()], env="staging"), Live("support/staging", foreign=foreign))
    assert actions(result) == [("assistant.support-bot", "create")]
    assert result.warnings == ()


def test_display_name_owned_by_another_stack_is_a_plan_error():
    foreign = (ForeignResource("vector_store", "vs_b", "Handbook", "billing", "docs"),)
    with pytest.raises(PlanError, match="owned by stack 'billing'"):
        plan(desired(stores=[d_store()]), Live(OWNER, foreign=foreign))


def test_snapshot_of_another_owner_is_refused():
    with pytest.raises(PlanError):
        plan(desired(), Live("support/prod"))


# --- order and targets -------------------------------------------------------------------------


def _mixed_inputs(rng: random.Random):
    files = [dfile(f"docs/{n}.md") for n in "dcba"]
    stores = [d_store(f"store-{n}", files=files[:n]) for n in (3, 1, 2)]
    bots = [d_assistant(f"bot-{n}", name=f"Bot {n}") for n in "zyx"]
    live_bots = [api_assistant(f"asst_{n}", f"gone-{n}") for n in "qp"]
    live_stores = [api_store(f"vs_{n}", f"old-{n}") for n in "nm"]
    for items in (files, stores, bots, live_bots, live_stores):
        rng.shuffle(items)
    return desired(bots, stores), Live(OWNER, tuple(live_bots), tuple(live_stores))


def test_order_is_deterministic_and_in_dependency_order():
    first = plan(*_mixed_inputs(random.Random(1)))
    for seed in range(2, 6):
        assert plan(*_mixed_inputs(random.Random(seed))) == first
    ranks = [
        (1, -KINDS.position(c.kind)) if c.action is Action.DELETE else (0, KINDS.position(c.kind))
        for c in first.changes
    ]
    assert ranks == sorted(ranks)
    assert [c.address for c in first.changes if c.kind == "assistant"][:3] == [
        "assistant.bot-x",
        "assistant.bot-y",
        "assistant.bot-z",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("assistant/support-bot", Address("assistant", "support-bot")),
        ("Assistant/support-bot", Address("assistant", "support-bot")),
        ("vector_store/handbook", Address("vector_store", "handbook")),
        ("VectorStore/handbook", Address("vector_store", "handbook")),
        ("file/docs/a.md", Address("file", "docs/a.md")),
        ("assistant.support-bot", Address("assistant", "support-bot")),
    ],
)
def test_target_addresses(text, expected):
    assert parse_target(text) == expected


def test_bad_target_syntax_is_a_plan_error():
    with pytest.raises(PlanError, match="KIND/NAME"):
        parse_target("robot/x")


def _targeted_inputs():
    doc, other_doc, prices = dfile("docs/a.md"), dfile("docs/b.md"), dfile("data/prices.csv")
    bot = d_assistant(
        files=[prices], tool_resources={"file_search": {"vector_stores": ["handbook"]}}
    )
    other_bot = d_assistant("other-bot", name="Other")
    stores = [d_store(files=[doc]), d_store("faq", files=[other_doc], name="FAQ")]
    live = Live(OWNER, assistants=(api_assistant("asst_old", "old-bot"),))
    return desired([bot, other_bot], stores), live


def test_assistant_target_includes_its_dependencies_but_no_deletes():
    result = plan(*_targeted_inputs(), targets=["Assistant/support-bot"])
    assert actions(result) == [
        ("file.data/prices.csv", "create"),
        ("file.docs/a.md", "create"),
        ("vector_store.handbook", "create"),
        ("assistant.support-bot", "create"),
    ]
    assert any("targeting is in effect" in w for w in result.warnings)


def test_targets_for_stores_files_and_deletes():
    result = plan(
        *_targeted_inputs(),
        targets=["VectorStore/faq", "file/data/prices.csv", "assistant/old-bot"],
    )
    assert actions(result) == [
        ("file.data/prices.csv", "create"),
        ("file.docs/b.md", "create"),
        ("vector_store.faq", "create"),
        ("assistant.old-bot", "delete"),
    ]


def test_unknown_target_is_a_plan_error_listing_known_ones():
    with pytest.raises(PlanError) as error:
        plan(*_targeted_inputs(), targets=["assistant/nope"])
    assert "nope" in error.value.message
    assert "assistant/support-bot" in error.value.hint


def test_file_batch_size_must_be_positive():
    with pytest.raises(PlanError, match="at least 1"):
        plan(desired(), Live(OWNER), files_per_batch=0)


def test_every_write_is_an_operation_ordered_by_what_it_uses():
    doc = dfile("docs/a.md")
    bot = d_assistant(
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": ["handbook"]}},
    )
    result = plan(desired([bot], [d_store(files=[doc])]), Live(OWNER))
    assert [(op.verb.value, op.address) for op in result.operations] == [
        ("upload", "file.docs/a.md"),
        ("create", "vector_store.handbook"),
        ("attach", "vector_store.handbook"),
        ("wait", "vector_store.handbook"),
        ("create", "assistant.support-bot"),
    ]
    upload_op, create_store, attach, _, create_bot = result.operations
    assert attach.target == Ref(create_store.key)
    assert attach.body["files"][0]["file_id"] == Ref(upload_op.key)
    store_ids = create_bot.body["tool_resources"]["file_search"]["vector_store_ids"]
    assert store_ids == [Ref(create_store.key)]
    assert create_bot.body["metadata"] == {STACK_KEY: OWNER, NAME_KEY: "support-bot"}


def test_some_files_of_a_stack_never_prune_what_the_others_may_declare():
    live = Live(OWNER, assistants=(api_assistant("asst_a", "analyst"), api_assistant("asst_h")))
    partial = builders.desired(STACK, [d_assistant()], ())
    partial = Desired(partial.stack, None, partial.root, partial.resources, complete=False)
    result = plan(partial, live)
    assert actions(result) == [("assistant.support-bot", "no-op")]
    assert any("1 owned resource(s) the given files do not declare" in w for w in result.warnings)
    whole = plan(desired([d_assistant()]), live)
    assert ("assistant.analyst", "delete") in actions(whole)


def test_a_mistyped_target_gets_a_suggestion():
    with pytest.raises(PlanError) as error:
        plan(*_targeted_inputs(), targets=["assistant/suport-bot"])
    assert error.value.hint.startswith("did you mean --target assistant/support-bot?")


def test_an_object_altered_outside_its_fields_is_rewritten_in_full():
    """A release file edited where the view cannot see (its digest, a setting assistctl does
    not write) reads as the same assistant, marked by the backend: an update, with its reason."""
    reason = "the release file does not match its digest: it was edited after apply wrote it"
    live_assistant = api_assistant(**{ALTERED_KEY: reason})
    result = plan(desired([d_assistant()]), Live(OWNER, (live_assistant,)))
    (change,) = result.changes
    assert (change.action, change.fields, change.reason) == (Action.UPDATE, (), reason)
    (update,) = result.operations
    assert update.body["instructions"] == "Be kind." and update.body["model"] == "gpt-4o"
    assert update.body["metadata"] == {STACK_KEY: OWNER, NAME_KEY: "support-bot"}


def test_reasoning_effort_is_planned_and_cleared():
    live_assistant = api_assistant(reasoning_effort="high")
    result = plan(desired([d_assistant(reasoning_effort="low")]), Live(OWNER, (live_assistant,)))
    (change,) = result.changes
    assert change.fields == ("reasoning_effort",)
    assert result.operations[0].body["reasoning_effort"] == "low"
    cleared = plan(desired([d_assistant()]), Live(OWNER, (live_assistant,)))
    assert cleared.changes[0].fields == ("reasoning_effort",)
    assert cleared.operations[0].body["reasoning_effort"] is None
    unset = plan(desired([d_assistant()]), Live(OWNER, (api_assistant(reasoning_effort=None),)))
    assert not unset.has_changes
    assert "reasoning_effort" not in plan(desired([d_assistant()]), Live(OWNER)).operations[0].body
