"""``/v1/models``: what the account answers to, listed and retrieved as the API does."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types import Model

from assistctl.local import LocalConfig, start_in_process

from ..tools import strictly


def test_deterministic_engine_lists_its_documented_names(client):
    raw = client.models.with_raw_response.list()
    body = json.loads(raw.text)
    assert body["object"] == "list"
    models = [strictly(Model, model) for model in body["data"]]
    names = [model.id for model in models]
    assert "gpt-4o-mini" in names and "gpt-4.1" in names and len(names) == len(set(names))
    assert all(m.object == "model" and m.owned_by == "assistctl-local" for m in models)
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-99")
    assert missing.value.code == "model_not_found" and missing.value.param == "model"
    # Listed or not, any name is answered, as runs answer any assistant's model.
    assert client.responses.create(model="gpt-99", input="hi").status == "completed"


def test_chat_engine_lists_its_model_map(tmp_path):
    config = LocalConfig(
        engine="chat",
        chat_base_url="http://127.0.0.1:9/v1",
        chat_model_map={"gpt-4o": "llama3.1", "gpt-4o-mini": "llama3.1", "*": "qwen"},
    )
    with start_in_process(tmp_path / "account", config=config) as server:
        client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
        assert [model.id for model in client.models.list()] == ["gpt-4o", "gpt-4o-mini"]
