"""export.select / build / write on plain data: names, paths, defaults, notes, and the promise
that the written manifests plan as no changes against the resources they came from."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from assistctl import export, manifest
from assistctl.errors import AssistctlError
from assistctl.export import AccountFile, Selection, Source
from assistctl.kinds import KINDS
from assistctl.live import AccountObject
from assistctl.model import Live, parse_upload_filename, upload_filename
from assistctl.plan import plan
from tests import builders

RETURNS = b"# Returns\n\nReturn anything within 30 days.\n"
PRICES = b"sku,price\nA1,10\n"
INSTRUCTIONS = (
    "You help customers.\n\nBe brief.\nCite the handbook.\nNever guess an order status.\n"
)
GET_ORDER = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
}


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def assistant_data(**overrides):
    data = {
        "id": "asst_1",
        "object": "assistant",
        "created_at": 1,
        "name": "Support Bot",
        "description": "Answers order questions",
        "model": "gpt-4o-mini",
        "instructions": INSTRUCTIONS,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_order",
                    "description": "Look up an order",
                    "parameters": GET_ORDER,
                    "strict": False,
                },
            },
            {
                "type": "file_search",
                "file_search": {
                    "max_num_results": 20,
                    "ranking_options": {"ranker": "auto", "score_threshold": 0.0},
                },
            },
            {"type": "code_interpreter"},
        ],
        "tool_resources": {
            "file_search": {"vector_store_ids": ["vs_1"]},
            "code_interpreter": {"file_ids": ["file-prices"]},
        },
        "temperature": 0.2,
        "top_p": 1.0,
        "response_format": "auto",
        "metadata": {"team": "support"},
    }
    data.update(overrides)
    return data


def store_data(**overrides):
    data = {
        "id": "vs_1",
        "object": "vector_store",
        "created_at": 1,
        "name": "Support handbook",
        "expires_after": {"anchor": "last_active_at", "days": 30},
        "metadata": {"team": "support"},
    }
    data.update(overrides)
    return data


def owned(data, owner, name):
    return {
        **data,
        "metadata": {**data["metadata"], "assistctl_stack": owner, "assistctl_name": name},
    }


STATIC = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}


def Resource(  # noqa: N802 - reads like the record it builds
    kind: str, resource_id: str, data, owner, name, children=()
) -> AccountObject:
    return AccountObject(kind, resource_id, owner, name, data, tuple(children))


def store_file(file_id, status, attributes, chunking_strategy=None):
    return {
        "id": file_id,
        "status": status,
        "attributes": attributes,
        "chunking_strategy": chunking_strategy,
    }


def managed_source(owner="support", downloadable=False) -> Source:
    """A stack as apply leaves it: ownership metadata, file attributes, identified uploads."""
    store = owned(store_data(), owner, "handbook")
    assistant = owned(assistant_data(), owner, "support-bot")
    returns_id, prices_id = "file-returns", "file-prices"
    return Source(
        resources=(
            Resource(
                "vector_store",
                "vs_1",
                store,
                owner,
                "handbook",
                (
                    store_file(
                        returns_id,
                        "completed",
                        {"assistctl_path": "docs/returns.md", "assistctl_sha256": sha(RETURNS)},
                        STATIC,
                    ),
                ),
            ),
            Resource("assistant", "asst_1", assistant, owner, "support-bot"),
        ),
        files={
            returns_id: AccountFile(
                returns_id,
                upload_filename(owner, sha(RETURNS), "returns.md"),
                len(RETURNS),
                "assistants",
            ),
            prices_id: AccountFile(
                prices_id,
                upload_filename(owner, sha(PRICES), "prices.csv"),
                len(PRICES),
                "user_data" if downloadable else "assistants",
            ),
        },
        contents={prices_id: PRICES} if downloadable else {},
    )


def live_of(source: Source, owner: str) -> Live:
    """The planner's view of the same account."""
    uploads = []
    for file in source.files.values():
        _, digest, basename = parse_upload_filename(file.filename)
        uploads.append(builders.live_upload(file.id, owner, digest, basename, file.bytes))
    resources = [KINDS.named(r.kind).live(r.data, r.children) for r in source.resources]
    return Live(owner=owner, resources=(*uploads, *resources))


def written(tmp_path, result) -> dict[str, str]:
    export.write(result, tmp_path)
    return {
        p.relative_to(tmp_path).as_posix(): p.read_text()
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file()
    }


def test_managed_stack_layout_and_content(tmp_path):
    result = export.build(managed_source(), "support")
    files = written(tmp_path, result)
    assert set(files) == {
        "stack.yaml",
        "assistants/support-bot.yaml",
        "vector_stores/handbook.yaml",
        "prompts/support-bot.md",
    }
    assert files["prompts/support-bot.md"] == INSTRUCTIONS
    assert yaml.safe_load(files["stack.yaml"])["metadata"] == {"name": "support"}

    bot = yaml.safe_load(files["assistants/support-bot.yaml"])
    assert bot["metadata"] == {"name": "support-bot"}
    assert bot["spec"] == {
        "model": "gpt-4o-mini",
        "name": "Support Bot",
        "description": "Answers order questions",
        "instructions_file": "../prompts/support-bot.md",
        "tools": [
            {"type": "file_search"},
            {"type": "code_interpreter"},
            {
                "type": "function",
                "function": {
                    "name": "get_order",
                    "description": "Look up an order",
                    "parameters": GET_ORDER,
                },
            },
        ],
        "tool_resources": {
            "file_search": {"vector_stores": ["handbook"]},
            "code_interpreter": {"files": ["../files/prices.csv"]},
        },
        "temperature": 0.2,
        "metadata": {"team": "support"},
    }
    handbook = yaml.safe_load(files["vector_stores/handbook.yaml"])
    assert handbook["spec"] == {
        "name": "Support handbook",
        "expires_after": {"anchor": "last_active_at", "days": 30},
        "metadata": {"team": "support"},
        "files": ["../docs/returns.md"],
    }
    assert result.adoptions == ()
    assert [m.path for m in result.missing] == ["docs/returns.md", "files/prices.csv"]
    assert result.unverified == ()


def test_files_that_cannot_be_downloaded_get_a_comment_above_their_entry(tmp_path):
    files = written(tmp_path, export.build(managed_source(), "support"))
    lines = files["vector_stores/handbook.yaml"].splitlines()
    entry = lines.index("    - ../docs/returns.md")
    assert lines[entry - 1] == (
        f"    # supply docs/returns.md (file-returns, {len(RETURNS)} B): "
        "its content cannot be downloaded from the API"
    )
    assert "# supply files/prices.csv (file-prices" in files["assistants/support-bot.yaml"]


def test_downloadable_content_is_written_and_needs_no_comment(tmp_path):
    result = export.build(managed_source(downloadable=True), "support")
    files = written(tmp_path, result)
    assert (tmp_path / "files" / "prices.csv").read_bytes() == PRICES
    assert "supply" not in files["assistants/support-bot.yaml"]
    assert [m.path for m in result.missing] == ["docs/returns.md"]


def test_round_trip_plans_no_changes(tmp_path):
    """Export, supply the file the API would not hand out, load, plan: nothing to do."""
    source = managed_source(downloadable=True)
    export.write(export.build(source, "support"), tmp_path)
    assert (tmp_path / "docs").is_dir()  # made ready for the file to supply
    (tmp_path / "docs" / "returns.md").write_bytes(RETURNS)
    desired = manifest.load([tmp_path])
    assert desired.stack == "support"
    result = plan(desired, live_of(source, "support"))
    assert [c.address for c in result.pending] == []


def test_round_trip_in_an_environment(tmp_path):
    source = managed_source(owner="support/prod", downloadable=True)
    result = export.build(source, "support", "prod")
    export.write(result, tmp_path)
    assert (tmp_path / "docs").is_dir()  # made ready for the file to supply
    (tmp_path / "docs" / "returns.md").write_bytes(RETURNS)
    stack = yaml.safe_load((tmp_path / "stack.yaml").read_text())
    assert stack["spec"] == {"environments": {"prod": {}}}
    desired = manifest.load([tmp_path], env="prod")
    assert plan(desired, live_of(source, "support/prod")).pending == ()


def test_unmanaged_resources_get_slugs_file_paths_and_adoptions():
    first = assistant_data(id="asst_a", name="Hand Made Helper!", created_at=1, tool_resources={})
    second = assistant_data(id="asst_b", name="hand made helper", created_at=2, tool_resources={})
    nameless = assistant_data(id="asst_c", name=None, created_at=3, tool_resources={})
    store = store_data(id="vs_9", name="Docs & Guides")
    source = Source(
        resources=(
            Resource(
                "vector_store",
                "vs_9",
                store,
                None,
                None,
                (
                    store_file("file-x", "completed", {}),
                    store_file("file-y", "completed", {}),
                    store_file("file-z", "failed", {}),
                ),
            ),
            *(Resource("assistant", d["id"], d, None, None) for d in (first, second, nameless)),
        ),
        files={
            "file-x": AccountFile("file-x", "guide.md", 2048, "assistants"),
            "file-y": AccountFile("file-y", "guide.md", 10, "assistants"),
        },
        contents={},
    )
    result = export.build(source, "adopted")
    assert [(a.address, a.id) for a in result.adoptions] == [
        ("vector_store/docs-guides", "vs_9"),
        ("assistant/hand-made-helper", "asst_a"),
        ("assistant/hand-made-helper-2", "asst_b"),
        ("assistant/assistant", "asst_c"),
    ]
    assert [m.path for m in result.missing] == ["files/guide-2.md", "files/guide.md"]
    assert any("file-z is failed" in note for note in result.notes)
    assert any("assistant.assistant has no display name" in note for note in result.notes)
    store_manifest = next(o for o in result.outputs if o.path == "vector_stores/docs-guides.yaml")
    spec = yaml.safe_load(store_manifest.content)["spec"]
    assert spec["files"] == ["../files/guide-2.md", "../files/guide.md"]
    assert result.unverified == ("files/guide-2.md", "files/guide.md")
    assert spec["name"] == "Docs & Guides"


def test_short_instructions_stay_inline_and_defaults_are_left_out():
    data = assistant_data(
        name="helper",
        instructions="Be brief.",
        tools=[],
        tool_resources={},
        temperature=1.0,
        response_format={"type": "auto"},
        metadata={},
        description=None,
    )
    source = Source((Resource("assistant", "asst_1", data, None, None),), {}, {})
    result = export.build(source, "s")
    bot = yaml.safe_load(
        next(o for o in result.outputs if o.path.startswith("assistants/")).content
    )
    assert bot["spec"] == {"model": "gpt-4o-mini", "instructions": "Be brief."}


def test_slug():
    assert export.slug("Support Bot (EU)", "x") == "support-bot-eu"
    assert export.slug("   ", "fallback") == "fallback"
    assert export.slug(None, "fallback") == "fallback"
    assert export.slug("Ünïcode ✓", "x") == "unicode"
    assert len(export.slug("a" * 200, "x")) == 63


def resource(id, owner=None, name=None, store_ids=()):
    data = {"id": id, "name": id, "metadata": {}}
    if store_ids:
        data["tool_resources"] = {"file_search": {"vector_store_ids": list(store_ids)}}
    kind = "assistant" if id.startswith("asst_") else "vector_store"
    return Resource(kind, id, data, owner, name)


ASSISTANTS = [
    resource("asst_mine", "support", "bot", ["vs_loose"]),
    resource("asst_loose"),
    resource("asst_other", "billing", "bot"),
]
STORES = [
    resource("vs_loose"),
    resource("vs_mine", "support", "kb"),
    resource("vs_other", "billing"),
]


def ids(resources):
    return [r.id for r in resources]


def select(assistants, stores, selection):
    """export.select, split back into assistants and vector stores."""
    chosen, notes = export.select([*assistants, *stores], selection)
    return (
        [r for r in chosen if r.kind == "assistant"],
        [r for r in chosen if r.kind == "vector_store"],
        notes,
    )


def test_select_a_stack_brings_the_vector_stores_its_assistants_use():
    assistants, stores, notes = select(ASSISTANTS, STORES, Selection(stack="support"))
    assert ids(assistants) == ["asst_mine"]
    assert ids(stores) == ["vs_loose", "vs_mine"]
    assert notes == []


def test_select_all_takes_unmanaged_resources_and_skips_other_stacks():
    assistants, stores, notes = select(ASSISTANTS, STORES, Selection(everything=True))
    assert ids(assistants) == ["asst_loose"]
    assert ids(stores) == ["vs_loose"]
    assert notes == [
        "skipped 4 resources managed by other stacks (billing, support); export those with --stack"
    ]


def test_select_ids():
    assistants, stores, _ = select(ASSISTANTS, STORES, Selection(ids=("asst_loose",)))
    assert (ids(assistants), ids(stores)) == (["asst_loose"], [])
    with pytest.raises(AssistctlError, match="asst_other is managed by stack 'billing'"):
        select(ASSISTANTS, STORES, Selection(ids=("asst_other",)))
    with pytest.raises(AssistctlError, match="not in the account: asst_gone"):
        select(ASSISTANTS, STORES, Selection(ids=("asst_gone",)))


def test_select_needs_a_choice_and_something_to_export():
    with pytest.raises(AssistctlError, match="choose what to export"):
        select(ASSISTANTS, STORES, Selection())
    with pytest.raises(AssistctlError, match="stack 'nobody' owns no assistant"):
        select(ASSISTANTS, STORES, Selection(stack="nobody"))


def test_write_refuses_a_non_empty_directory_unless_forced(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = export.build(managed_source(), "support")
    with pytest.raises(AssistctlError, match="is not empty"):
        export.write(result, tmp_path)
    export.write(result, tmp_path, force=True)
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert (tmp_path / "stack.yaml").is_file()


def test_stack_and_env():
    assert export.stack_and_env("support") == ("support", None)
    assert export.stack_and_env("support/prod") == ("support", "prod")
    with pytest.raises(AssistctlError, match="'My Stack' is not a valid stack name"):
        export.stack_and_env("My Stack")
    with pytest.raises(AssistctlError, match="'p r o d' is not a valid environment name"):
        export.stack_and_env("support/p r o d")


def test_names_from_the_account_never_leave_the_export_directory(tmp_path):
    """An owned assistant tagged ``assistctl_name: ../../README`` used to overwrite README.md
    beside the output directory."""
    long_instructions = "Line one.\nLine two.\nLine three.\nLine four.\n"
    data = owned(assistant_data(instructions=long_instructions, tool_resources={}), "s", "../../x")
    source = Source((Resource("assistant", "asst_1", data, "s", "../../x"),), {}, {})
    result = export.build(source, "s")
    readme = tmp_path / "README.md"
    readme.write_text("keep me\n")
    export.write(result, tmp_path / "out")
    assert readme.read_text() == "keep me\n"
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert all(path == "README.md" or path.startswith("out/") for path in written), written
    assert "out/assistants/support-bot.yaml" in written


def test_write_refuses_an_output_that_would_leave_the_directory(tmp_path):
    escaping = export.Export("s", None, (export.OutputFile("../escape.yaml", b"x"),))
    with pytest.raises(AssistctlError, match="leaves"):
        export.write(escaping, tmp_path / "out")
    assert not (tmp_path / "escape.yaml").exists()


def test_a_responses_mode_export_points_the_stack_at_its_releases(tmp_path):
    source = managed_source(owner="support/prod", downloadable=True)
    export.write(
        export.build(source, "support", "prod", releases="../releases/support/prod"), tmp_path
    )
    stack = yaml.safe_load((tmp_path / "stack.yaml").read_text())
    assert stack["spec"] == {
        "api": "responses",
        "environments": {"prod": {"release_dir": "../releases/support/prod"}},
    }
    (tmp_path / "docs" / "returns.md").write_bytes(RETURNS)
    desired = manifest.load([tmp_path], env="prod")
    assert desired.settings.api == "responses"
    assert desired.settings.release_dir == tmp_path / "../releases/support/prod"


def test_reasoning_effort_is_exported():
    bot = owned(assistant_data(reasoning_effort="high"), "support", "support-bot")
    source = Source(
        resources=(Resource("assistant", "asst_1", bot, "support", "support-bot"),),
        files={},
        contents={},
    )
    (document,) = [o for o in export.build(source, "support").outputs if "assistants/" in o.path]
    assert yaml.safe_load(document.content)["spec"]["reasoning_effort"] == "high"
