"""The app as a whole: API keys, persistence across restarts, env overrides, error shapes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest

from assistctl.errors import AccountError
from assistctl.local import LocalConfig, config_from_env, start_in_process


@pytest.fixture
def keyed_server(tmp_path):
    with start_in_process(tmp_path, config=LocalConfig(api_key="sekret-key", admin=True)) as server:
        yield server


def test_api_key_is_required_when_configured(keyed_server):
    wrong = openai.OpenAI(api_key="nope", base_url=keyed_server.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        wrong.beta.assistants.list()
    assert raised.value.body["code"] == "invalid_api_key"
    assert "nope" not in raised.value.body["message"]
    assert "sekret" not in raised.value.body["message"]
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(keyed_server.base_url + "/assistants", timeout=5)
    assert missing.value.code == 401
    assert "didn't provide an API key" in json.loads(missing.value.read())["error"]["message"]
    right = openai.OpenAI(api_key="sekret-key", base_url=keyed_server.base_url, max_retries=0)
    assert right.beta.assistants.list().data == []
    assert keyed_server.api_key == "sekret-key"


def test_admin_api_needs_the_key_too(keyed_server):
    url = keyed_server.root_url + "/_admin/stats"
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url, timeout=5)
    assert raised.value.code == 401
    request = urllib.request.Request(url, headers={"Authorization": "Bearer sekret-key"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["total"] == 0


def test_objects_survive_a_restart(tmp_path, database):
    data = tmp_path / "account"
    with start_in_process(data, config=LocalConfig(database=database)) as server:
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        file = client.files.create(
            file=("faq.md", b"Opening hours are nine to five."), purpose="assistants"
        )
        store = client.vector_stores.create(name="kb", file_ids=[file.id])
        assistant = client.beta.assistants.create(
            model="gpt-4o",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hours?"}])
    assert (data / "account.sqlite3").exists() == (database is None)
    with start_in_process(data, config=LocalConfig(database=database)) as server:
        client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
        assert client.beta.assistants.retrieve(assistant.id) == assistant
        assert client.vector_stores.retrieve(store.id).file_counts.completed == 1
        hits = client.vector_stores.search(store.id, query="opening hours").data
        assert hits[0].file_id == file.id
        messages = client.beta.threads.messages.list(thread.id).data
        assert messages[0].content[0].text.value == "hours?"


def test_in_memory_account_and_idempotent_stop():
    server = start_in_process(None, config=LocalConfig())
    client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
    client.beta.assistants.create(model="m")
    assert server.data_dir is None
    server.stop()
    server.stop()
    with pytest.raises(openai.APIConnectionError):
        client.beta.assistants.list()


def test_unknown_method_and_path_have_api_bodies(client):
    with pytest.raises(openai.APIStatusError) as raised:
        client.put("/assistants", cast_to=object)
    assert raised.value.status_code == 405
    assert raised.value.body["message"] == "Invalid method for URL (PUT /v1/assistants)"
    with pytest.raises(openai.BadRequestError, match="expected an object"):
        client.post("/threads", body=[1, 2], cast_to=object)


def test_config_from_env():
    config = config_from_env(
        {
            "ASSISTCTL_LOCAL_LATENCY_MS": "25",
            "ASSISTCTL_LOCAL_RATE_LIMIT": "5",
            "ASSISTCTL_LOCAL_FAIL_RATE": "0.1",
            "ASSISTCTL_LOCAL_SEED": "3",
            "ASSISTCTL_LOCAL_INDEXING_DELAY": "0.5",
            "ASSISTCTL_LOCAL_API_KEY_ENV": "MY_KEY",
            "MY_KEY": "k1",
            "ASSISTCTL_LOCAL_CHAT_MODEL_MAP": "gpt-4o=llama3, gpt-4o-mini=phi3",
        }
    )
    assert (config.latency_ms, config.rate_limit_per_s, config.fail_rate, config.seed) == (
        25,
        5.0,
        0.1,
        3,
    )
    assert config.indexing_delay_s == 0.5 and config.api_key == "k1"
    assert config.chat_model_map == {"gpt-4o": "llama3", "gpt-4o-mini": "phi3"}
    assert config_from_env({}) == LocalConfig()
    with pytest.raises(AccountError, match="LATENCY_MS"):
        config_from_env({"ASSISTCTL_LOCAL_LATENCY_MS": "soon"})
    with pytest.raises(AccountError, match="MISSING"):
        config_from_env({"ASSISTCTL_LOCAL_API_KEY_ENV": "MISSING"})


def test_env_overrides_apply_to_the_in_process_starter(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTCTL_LOCAL_API_KEY", "from-env")
    with start_in_process(tmp_path) as server:
        assert server.api_key == "from-env"
        client = openai.OpenAI(api_key="other", base_url=server.base_url, max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            client.beta.assistants.list()


def test_unusable_data_dir_is_an_account_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(AccountError, match="cannot open the local account"):
        start_in_process(blocker, config=LocalConfig())
