"""The Responses-era backend: every shape the release compiler writes is a request the local
account's /v1/responses accepts, and files and vector stores are the shared SDK collections."""

from __future__ import annotations

from assistctl.backends.release_compiler import compile_document
from assistctl.backends.release_store import ReleaseStore
from assistctl.backends.responses import ResponsesBackend
from assistctl.release import Release
from assistctl.retry import RetryPolicy

SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "string"}},
    "required": ["id"],
    "additionalProperties": False,
}
FAST = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.01)


def test_every_setting_compiles_into_a_request_the_account_accepts(client, tmp_path):
    upload = client.files.create(file=("prices.csv", b"sku,price\n1,2\n"), purpose="assistants")
    store = client.vector_stores.create(name="handbook")
    body = {
        "model": "o3-mini",
        "name": "Bot",
        "instructions": "Be brief.",
        "tools": [
            {
                "type": "file_search",
                "file_search": {
                    "max_num_results": 8,
                    "ranking_options": {"ranker": "auto", "score_threshold": 0.5},
                },
            },
            {"type": "code_interpreter"},
            {
                "type": "function",
                "function": {"name": "get_order", "parameters": SCHEMA, "strict": True},
            },
        ],
        "tool_resources": {
            "file_search": {"vector_store_ids": [store.id]},
            "code_interpreter": {"file_ids": [upload.id]},
        },
        "temperature": 0.3,
        "top_p": 0.9,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "reply", "schema": SCHEMA, "strict": True},
        },
        "reasoning_effort": "low",
        "tool_choice": {"type": "function", "name": "get_order"},
        "parallel_tool_calls": False,
        "max_output_tokens": 500,
        "metadata": {"assistctl_stack": "support", "assistctl_name": "bot", "team": "a"},
    }
    release = Release.from_document(compile_document(body))
    response = client.responses.create(**release.request(input="Where is my order 123?"))
    assert response.status == "completed"
    assert [item.type for item in response.output] == ["function_call"]
    assert response.metadata["assistctl_release"] == release.digest
    for response_format in ({"type": "text"}, {"type": "json_object"}, "auto"):
        plain = Release.from_document(
            compile_document({**body, "response_format": response_format, "tool_choice": None})
        )
        assert client.responses.create(**plain.request(input="Hello")).status == "completed"


def test_files_and_vector_stores_are_the_shared_collections(client, tmp_path):
    store = ReleaseStore(tmp_path / "releases", shown_from=tmp_path, owner="support")
    backend = ResponsesBackend(client, policy=FAST, releases=store)
    created = backend.create("vector_stores", {"name": "handbook"})
    assert [s["id"] for s in backend.list("vector_stores")] == [created["id"]]
    assert list(backend.list("assistants")) == []
    assert backend.family == "responses"
    backend.delete("vector_stores", created["id"])
    assert list(backend.list("vector_stores")) == []
