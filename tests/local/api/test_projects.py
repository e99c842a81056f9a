"""Projects and keys (``--keys``): every endpoint, list, search and run sees only the objects
of the caller's project; another project's id answers 404 on every route; the admin key
manages projects and keys; keys are kept and shown only as digests."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request

import openai
import pytest

from assistctl.errors import AccountError
from assistctl.local import LocalConfig, start_in_process
from assistctl.local.api import routes

ADMIN_KEY = "admin-secret"


def request(base_url, method, path, key, body=None):
    """``(status, JSON answer)`` of one raw request to the server root (``/v1/...``)."""
    root = base_url.removesuffix("/v1")
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(root + path, data=data, method=method)
    sent.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        sent.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(sent, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def projects(tmp_path, database):
    digest = hashlib.sha256(b"key-beta").hexdigest()
    keys = tmp_path / "keys.yaml"
    keys.write_text(
        f'projects:\n  alpha: {{keys: [key-alpha]}}\n  beta: {{keys: ["sha256:{digest}"]}}\n'
    )
    config = LocalConfig(keys_file=str(keys), admin=True, admin_key=ADMIN_KEY, database=database)
    with start_in_process(tmp_path / "data", config=config) as server:
        alpha = openai.OpenAI(api_key="key-alpha", base_url=server.base_url, max_retries=0)
        beta = openai.OpenAI(api_key="key-beta", base_url=server.base_url, max_retries=0)
        yield server, alpha, beta


def one_of_everything(client):
    """One object of every kind, in one project: their ids by path parameter."""
    file = client.files.create(file=("policy.md", b"Returns within 30 days."), purpose="assistants")
    store = client.vector_stores.create(name="docs", file_ids=[file.id])
    while client.vector_stores.retrieve(store.id).file_counts.completed != 1:
        time.sleep(0.02)
    batch = client.vector_stores.file_batches.create(store.id, file_ids=[file.id])
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "returns?"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0]
    message = client.beta.threads.messages.list(thread.id).data[0]
    upload = client.uploads.create(
        filename="u.txt", bytes=2, mime_type="text/plain", purpose="assistants"
    )
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "hi"}]
    )
    item = client.conversations.items.list(conversation.id).data[0]
    response = client.responses.create(model="gpt-4o", input="hello", store=True)
    return {
        "file_id": file.id,
        "vector_store_id": store.id,
        "batch_id": batch.id,
        "assistant_id": assistant.id,
        "thread_id": thread.id,
        "run_id": run.id,
        "step_id": step.id,
        "message_id": message.id,
        "upload_id": upload.id,
        "conversation_id": conversation.id,
        "item_id": item.id,
        "response_id": response.id,
    }


def seen_by(client, ids):
    """What a client sees of an account: its lists and the objects it can retrieve."""
    return {
        "files": [f.id for f in client.files.list()],
        "stores": [(s.id, s.file_counts.total) for s in client.vector_stores.list()],
        "assistants": [(a.id, a.name) for a in client.beta.assistants.list()],
        "messages": [m.id for m in client.beta.threads.messages.list(ids["thread_id"])],
        "items": [i.id for i in client.conversations.items.list(ids["conversation_id"])],
        "response": client.responses.retrieve(ids["response_id"]).status,
    }


def test_no_route_reaches_another_projects_objects(projects):
    server, alpha, beta = projects
    ids = one_of_everything(alpha)
    before = seen_by(alpha, ids)
    tried = 0
    for route in routes():
        names = set(route.param_convertors)
        if not route.path.startswith("/v1/") or not names or not names <= set(ids):
            continue  # models and lists: not another project's objects
        path = route.path.format(**ids)
        for method in sorted(route.methods - {"HEAD"}):
            status, answer = request(server.base_url, method, path, "key-beta", {})
            allowed = (404,) if method != "POST" else (400, 404)
            assert status in allowed, (method, path, status, answer)
            tried += 1
    assert tried >= 50
    assert seen_by(alpha, ids) == before


def test_lists_searches_and_runs_see_only_their_project(projects):
    server, alpha, beta = projects
    ids = one_of_everything(alpha)
    assert beta.files.list().data == [] and beta.vector_stores.list().data == []
    assert beta.beta.assistants.list().data == []
    assert beta.files.list(purpose="assistants").data == []
    with pytest.raises(openai.NotFoundError):
        beta.vector_stores.search(ids["vector_store_id"], query="returns")
    with pytest.raises(openai.NotFoundError):
        beta.beta.threads.messages.create(ids["thread_id"], role="user", content="x")
    with pytest.raises(openai.NotFoundError):
        beta.beta.threads.runs.create(ids["thread_id"], assistant_id=ids["assistant_id"])
    with pytest.raises((openai.NotFoundError, openai.BadRequestError)):
        beta.beta.assistants.create(
            model="gpt-4o",
            tool_resources={"file_search": {"vector_store_ids": [ids["vector_store_id"]]}},
        )
    with pytest.raises((openai.NotFoundError, openai.BadRequestError)):
        beta.vector_stores.create(file_ids=[ids["file_id"]])
    with pytest.raises((openai.NotFoundError, openai.BadRequestError)):
        beta.responses.create(model="gpt-4o", input="x", previous_response_id=ids["response_id"])
    # beta's own objects work, and a run of beta's finds only beta's files
    own = beta.files.create(file=("mine.md", b"Beta keeps its own notes."), purpose="assistants")
    store = beta.vector_stores.create(file_ids=[own.id])
    while beta.vector_stores.retrieve(store.id).file_counts.completed != 1:
        time.sleep(0.02)
    hits = beta.vector_stores.search(store.id, query="returns notes").data
    assert [hit.file_id for hit in hits] == [own.id]
    thread = beta.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    assistant = beta.beta.assistants.create(model="gpt-4o")
    run = beta.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    assert run.status == "completed"
    assert [f.id for f in alpha.files.list()] == [ids["file_id"]]


def test_keys_are_checked_and_the_admin_key_manages_projects(projects):
    server, alpha, beta = projects
    base = server.base_url
    assert request(base, "GET", "/v1/files", "wrong")[0] == 401
    assert request(base, "GET", "/_admin/projects", "key-alpha")[0] == 401
    status, listed = request(base, "GET", "/_admin/projects", ADMIN_KEY)
    assert status == 200 and [p["name"] for p in listed["data"]] == ["alpha", "beta"]
    assert "key-alpha" not in json.dumps(listed)
    assert listed["data"][0]["keys"] == ["sha256:" + hashlib.sha256(b"key-alpha").hexdigest()]
    assert request(base, "POST", "/_admin/projects", ADMIN_KEY, {"name": "gamma"})[0] == 200
    assert request(base, "POST", "/_admin/projects", ADMIN_KEY, {"name": "gamma"})[0] == 400
    assert request(base, "POST", "/_admin/projects", ADMIN_KEY, {"name": "../x"})[0] == 400
    status, gamma = request(
        base, "POST", "/_admin/projects/gamma/keys", ADMIN_KEY, {"key": "key-gamma"}
    )
    assert status == 200 and "key-gamma" not in json.dumps(gamma)
    taken = request(base, "POST", "/_admin/projects/gamma/keys", ADMIN_KEY, {"key": "key-alpha"})
    assert taken[0] == 400
    alpha.files.create(file=("a.txt", b"a"), purpose="assistants")
    assert request(base, "GET", "/v1/files", "key-gamma") == (
        200,
        {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False},
    )
    digest = gamma["keys"][0]
    assert request(base, "DELETE", f"/_admin/projects/gamma/keys/{digest}", ADMIN_KEY)[0] == 200
    assert request(base, "GET", "/v1/files", "key-gamma")[0] == 401
    assert request(base, "DELETE", "/_admin/projects/alpha", ADMIN_KEY)[0] == 400  # in the file
    assert request(base, "DELETE", "/_admin/projects/gamma", ADMIN_KEY)[0] == 200


def test_without_keys_there_is_one_project_and_no_project_admin(tmp_path):
    config = LocalConfig(admin=True)
    with start_in_process(tmp_path, config=config) as server:
        assert request(server.base_url, "GET", "/_admin/projects", "any")[0] == 404
        client = openai.OpenAI(api_key="any", base_url=server.base_url, max_retries=0)
        client.files.create(file=("a.txt", b"a"), purpose="assistants")
        other = openai.OpenAI(api_key="other", base_url=server.base_url, max_retries=0)
        assert len(other.files.list().data) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("projects: []", "projects: expected a mapping"),
        ("projects: {a: {keys: []}}", "projects.a.keys: expected a list"),
        ("projects: {a: {keys: [' k']}}", "projects.a.keys[0]: expected a key"),
        ("projects: {a: {keys: ['sha256:zz']}}", "projects.a.keys[0]: expected sha256:"),
        ("projects: {a: {keys: [k]}, b: {keys: [k]}}", "projects.b.keys[0]: also a key of a"),
        ("projects: {'a b': {keys: [k]}}", "a project name is"),
        ("projects: [unclosed", "not a YAML file"),
    ],
)
def test_a_bad_keys_file_is_refused_naming_the_place(tmp_path, text, message):
    keys = tmp_path / "keys.yaml"
    keys.write_text(text)
    with pytest.raises(AccountError, match="keys.yaml: .*" + message.replace("[", r"\[")):
        start_in_process(tmp_path / "data", config=LocalConfig(keys_file=str(keys)))
