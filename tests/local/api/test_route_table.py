"""The account served without the Assistants API answers like OpenAI since the sunset: 404 with
the API's error body on ``/v1/assistants`` and ``/v1/threads`` and everything under them, while
files, vector stores, responses, conversations and models work."""

from __future__ import annotations

import openai
import pytest

from assistctl.errors import AccountError
from assistctl.local import config_from_env, serve_config, start_in_process


@pytest.fixture
def sunset_client(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTCTL_LOCAL_WITHOUT_ASSISTANTS_API", "1")
    with start_in_process(tmp_path / "account") as server:  # configured from the environment
        yield openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/assistants"),
        ("POST", "/assistants"),
        ("GET", "/assistants/asst_1"),
        ("DELETE", "/assistants/asst_1"),
        ("POST", "/threads"),
        ("GET", "/threads/thread_1"),
        ("POST", "/threads/runs"),
        ("GET", "/threads/thread_1/messages"),
        ("POST", "/threads/thread_1/runs"),
        ("GET", "/threads/thread_1/runs/run_1/steps"),
    ],
)
def test_assistants_and_threads_answer_404_with_the_api_body(sunset_client, method, path):
    with pytest.raises(openai.NotFoundError) as raised:
        getattr(sunset_client, method.lower())(path, cast_to=object)
    assert raised.value.body == {
        "message": f"Invalid URL ({method} /v1{path})",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_everything_else_still_works(sunset_client):
    with pytest.raises(openai.NotFoundError):
        sunset_client.beta.assistants.list()
    uploaded = sunset_client.files.create(
        file=("a.md", b"Returns take 30 days."), purpose="assistants"
    )
    store = sunset_client.vector_stores.create(file_ids=[uploaded.id])
    response = sunset_client.responses.create(
        model="gpt-4o",
        input="returns?",
        tools=[{"type": "file_search", "vector_store_ids": [store.id]}],
    )
    assert response.output[1].content[0].annotations[0].file_id == uploaded.id
    conversation = sunset_client.conversations.create(items=[{"role": "user", "content": "hi"}])
    assert len(sunset_client.conversations.items.list(conversation.id).data) == 1
    assert sunset_client.models.list().data


def test_the_switch_is_read_from_env_and_flags():
    assert config_from_env({}).without_assistants_api is False
    assert config_from_env(
        {"ASSISTCTL_LOCAL_WITHOUT_ASSISTANTS_API": "true"}
    ).without_assistants_api
    assert not config_from_env(
        {"ASSISTCTL_LOCAL_WITHOUT_ASSISTANTS_API": "0"}
    ).without_assistants_api
    with pytest.raises(AccountError, match="expected 1 or 0"):
        config_from_env({"ASSISTCTL_LOCAL_WITHOUT_ASSISTANTS_API": "maybe"})
    flagged = serve_config({"without_assistants_api": True}, environ={})
    assert flagged.without_assistants_api is True
    assert (
        serve_config({"without_assistants_api": None}, environ={}).without_assistants_api is False
    )
