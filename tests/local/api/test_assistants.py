"""/v1/assistants through the SDK over real HTTP: shapes, validation, pagination, errors."""

from __future__ import annotations

import openai
import pytest
from openai.types.beta import Assistant, AssistantDeleted

FUNCTION_TOOL = {
    "type": "function",
    "function": {
        "name": "get_order",
        "description": "Look up an order",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
    },
}


def test_create_retrieve_modify_delete(client):
    created = client.beta.assistants.create(
        model="gpt-4o",
        name="Support",
        description="Answers",
        instructions="Be brief.",
        tools=[{"type": "code_interpreter"}, {"type": "file_search"}, FUNCTION_TOOL],
        metadata={"team": "support"},
        temperature=0.2,
        top_p=0.9,
        response_format={"type": "json_object"},
    )
    Assistant.model_validate(created.model_dump())
    assert created.id.startswith("asst_")
    assert [t.type for t in created.tools] == ["code_interpreter", "file_search", "function"]

    fetched = client.beta.assistants.retrieve(created.id)
    assert fetched == created

    updated = client.beta.assistants.update(
        created.id, instructions="Be kind.", metadata={"team": "sales"}
    )
    assert updated.instructions == "Be kind."
    assert updated.metadata == {"team": "sales"}
    assert updated.name == "Support"
    assert updated.temperature == pytest.approx(0.2)

    deleted = client.beta.assistants.delete(created.id)
    AssistantDeleted.model_validate(deleted.model_dump())
    assert deleted.deleted
    with pytest.raises(openai.NotFoundError) as raised:
        client.beta.assistants.retrieve(created.id)
    assert raised.value.body["message"] == f"No assistant found with id '{created.id}'."


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"tools": [{"type": "browser"}]}, "tools[0].type"),
        ({"tools": [{"type": "code_interpreter"}] * 129}, "tools"),
        ({"tools": [{"type": "function", "function": {"description": "x"}}]}, None),
        ({"instructions": "x" * 256_001}, "instructions"),
        ({"name": "x" * 257}, "name"),
        ({"description": "x" * 513}, "description"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, None),
        ({"metadata": {"k": "v" * 513}}, "metadata.k"),
        ({"temperature": 3}, "temperature"),
        ({"tool_resources": {"file_search": {"vector_store_ids": ["vs_missing"]}}}, None),
    ],
)
def test_invalid_create_is_400_with_api_body(client, arguments, param):
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.assistants.create(model="gpt-4o", **arguments)
    body = raised.value.body
    assert body["type"] == "invalid_request_error"
    assert body["message"]
    if param is not None:
        assert body["param"] == param


def test_missing_model_and_unknown_argument(client):
    with pytest.raises(openai.BadRequestError, match="Unrecognized request argument"):
        client.beta.assistants.create(model="gpt-4o", extra_body={"colour": "blue"})
    with pytest.raises(openai.BadRequestError, match="'model'"):
        client.beta.assistants.create(model=None)  # type: ignore[arg-type]


def test_boundaries_accepted(client):
    created = client.beta.assistants.create(
        model="an-unknown-model",
        name="n" * 256,
        description="d" * 512,
        instructions="i" * 256_000,
        tools=[{"type": "code_interpreter"}] * 128,
        metadata={f"{i:064d}": "v" * 512 for i in range(16)},
    )
    assert len(created.tools) == 128


def test_pagination(client):
    ids = [client.beta.assistants.create(model="m", name=f"a{i}").id for i in range(5)]
    first = client.beta.assistants.list(limit=2)
    assert [a.id for a in first.data] == ids[::-1][:2]
    assert first.has_more and first.first_id == ids[4] and first.last_id == ids[3]
    second = client.beta.assistants.list(limit=2, after=first.last_id)
    assert [a.id for a in second.data] == [ids[2], ids[1]]
    rest = client.beta.assistants.list(limit=2, after=second.last_id)
    assert [a.id for a in rest.data] == [ids[0]] and not rest.has_more
    ascending = client.beta.assistants.list(order="asc", limit=100)
    assert [a.id for a in ascending.data] == ids and not ascending.has_more
    before = client.beta.assistants.list(order="asc", before=ids[3], limit=2)
    assert [a.id for a in before.data] == [ids[1], ids[2]] and before.has_more
    assert [a.id for a in client.beta.assistants.list(order="asc")] == ids  # auto-paging
    everything = client.beta.assistants.list()
    assert len(everything.data) == 5 and not everything.has_more


@pytest.mark.parametrize(
    "query",
    [{"limit": 0}, {"limit": 101}, {"order": "up"}, {"after": "asst_nope"}, {"before": "x"}],
)
def test_bad_list_parameters(client, query):
    client.beta.assistants.create(model="m")
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.assistants.list(**query)
    assert raised.value.body["param"] == next(iter(query))


def test_bad_json_body_and_unknown_route(local_server, client):
    with pytest.raises(openai.BadRequestError, match="parse the JSON body"):
        client.post(
            "/assistants",
            content=b"{not json",
            cast_to=object,
            options={"headers": {"Content-Type": "application/json"}},
        )
    with pytest.raises(openai.NotFoundError) as raised:
        client.get("/nothing-here", cast_to=object)
    assert raised.value.body["message"].startswith("Invalid URL")


def test_concurrent_creates(client):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda i: client.beta.assistants.create(model=f"m{i}"), range(40)))
    listed = client.beta.assistants.list(limit=100).data
    assert {a.id for a in listed} == {a.id for a in created}


def test_tools_answered_with_the_api_defaults(client):
    """The API fills file_search.ranking_options and function.strict in every answer, so
    code that compares tools must cope with them: the local account answers the same."""
    created = client.beta.assistants.create(
        model="gpt-4o",
        tools=[
            {"type": "file_search", "file_search": {"max_num_results": 5}},
            {"type": "file_search"},
            FUNCTION_TOOL,
            {
                "type": "file_search",
                "file_search": {"ranking_options": {"ranker": "auto", "score_threshold": 0.5}},
            },
        ],
    )
    tools = [t.model_dump(exclude_unset=True) for t in created.tools]
    default = {"ranker": "auto", "score_threshold": 0.0}
    assert tools[0] == {
        "type": "file_search",
        "file_search": {"max_num_results": 5, "ranking_options": default},
    }
    assert tools[1] == {"type": "file_search", "file_search": {"ranking_options": default}}
    assert tools[2] == {
        "type": "function",
        "function": {**FUNCTION_TOOL["function"], "strict": False},
    }
    assert tools[3]["file_search"]["ranking_options"] == {"ranker": "auto", "score_threshold": 0.5}
    assert client.beta.assistants.retrieve(created.id).tools == created.tools


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        (
            {"type": "file_search", "file_search": {"ranking_options": {"score_threshold": 2}}},
            "tools[0].file_search.ranking_options.score_threshold",
        ),
        (
            {"type": "file_search", "file_search": {"ranking_options": {"ranker": "best"}}},
            "tools[0].file_search.ranking_options.ranker",
        ),
        (
            {"type": "file_search", "file_search": {"max_num_results": 51}},
            "tools[0].file_search.max_num_results",
        ),
        (
            {"type": "function", "function": {"name": "f", "strict": "yes"}},
            "tools[0].function.strict",
        ),
    ],
)
def test_invalid_tool_settings_name_the_nested_field(client, tool, param):
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.assistants.create(model="gpt-4o", tools=[tool])
    assert raised.value.body["param"] == param
