"""Choosing the account: the default is the embedded local one, whatever keys are set."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistctl.accounts import api_mode, parse_account, resolve_account
from assistctl.backends.assistants import AssistantsBackend
from assistctl.backends.connect import connect, release_directory
from assistctl.backends.responses import ResponsesBackend
from assistctl.errors import AccountError
from assistctl.model import Desired, StackSettings


@pytest.mark.parametrize(
    ("value", "kind", "target"),
    [
        (None, "local", ".assistctl"),
        ("", "local", ".assistctl"),
        ("local", "local", ".assistctl"),
        ("local:/tmp/acct", "local", "/tmp/acct"),
        ("http://127.0.0.1:8080/v1/", "url", "http://127.0.0.1:8080/v1"),
        ("https://example.test/v1", "url", "https://example.test/v1"),
        ("openai", "openai", ""),
    ],
)
def test_parse_account(value, kind, target):
    spec = parse_account(value)
    assert (spec.kind, spec.target) == (kind, target)


def test_unknown_account_is_an_error_with_a_hint():
    with pytest.raises(AccountError) as caught:
        parse_account("ftp://nope")
    assert "local[:DIR]" in caught.value.hint


def test_default_stays_local_even_with_an_openai_key(monkeypatch):
    monkeypatch.delenv("ASSISTCTL_ACCOUNT", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-matter")
    spec = resolve_account(None)
    assert spec.kind == "local" and not spec.explicit


def test_environment_variable_chooses_the_account(monkeypatch):
    monkeypatch.setenv("ASSISTCTL_ACCOUNT", "http://127.0.0.1:1/v1")
    assert resolve_account(None).kind == "url"
    assert resolve_account("openai").kind == "openai"


def test_openai_account_needs_a_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(AccountError, match="OPENAI_API_KEY"):
        connect(parse_account("openai"))


def test_url_account_takes_the_assistctl_key_first(monkeypatch):
    monkeypatch.setenv("ASSISTCTL_API_KEY", "sk-assistctl")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    client = connect(parse_account("http://127.0.0.1:1/v1")).client
    assert client.api_key == "sk-assistctl"
    assert client.max_retries == 0


def test_label_never_carries_a_key(monkeypatch):
    monkeypatch.setenv("ASSISTCTL_API_KEY", "sk-secret-label")
    assert "sk-secret" not in parse_account("http://127.0.0.1:1/v1").label


def test_the_printable_label_of_a_url_account_holds_no_credentials():
    spec = parse_account("https://ci:sk-secret@proxy.example.test:8443/v1?api-key=sk-other")
    assert spec.label == "https://proxy.example.test:8443/v1"
    assert spec.target.startswith("https://ci:sk-secret@")  # the client still gets them


def test_an_account_url_without_its_api_path_says_add_v1():
    """``--account http://host:port`` used to meet a bare 404."""
    with pytest.raises(AccountError) as caught:
        parse_account("http://127.0.0.1:8080")
    assert "no API path" in caught.value.message
    assert caught.value.hint == "add /v1: --account http://127.0.0.1:8080/v1"


# --- API mode (issue 16) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "stack", "account", "mode"),
    [
        (None, None, "local", "assistants"),
        (None, None, "http://127.0.0.1:1/v1", "assistants"),
        (None, None, "openai", "responses"),
        (None, "responses", "local", "responses"),
        (None, "assistants", "openai", "assistants"),
        ("assistants", "responses", "openai", "assistants"),
        ("responses", None, "local", "responses"),
    ],
)
def test_the_api_mode_is_the_flag_then_the_stack_then_the_account(flag, stack, account, mode):
    assert api_mode(flag, stack, parse_account(account)) == mode


def test_an_unknown_api_mode_is_refused():
    with pytest.raises(AccountError, match="unknown API mode 'threads'"):
        api_mode("threads", None, parse_account("local"))


def test_release_directories(tmp_path):
    root = tmp_path / "stack"
    bare = Desired(stack="support", env=None, root=root)
    staged = Desired(stack="support", env="prod", root=root)
    chosen = Desired(
        stack="support", env=None, root=root, settings=StackSettings(release_dir=tmp_path / "x")
    )
    assert release_directory(None, bare, bare.owner) == root / "releases" / "support"
    assert release_directory(None, staged, staged.owner) == root / "releases" / "support" / "prod"
    assert release_directory(None, chosen, chosen.owner) == tmp_path / "x"
    assert release_directory("shipped", chosen, chosen.owner) == Path("shipped")


def test_responses_mode_builds_the_responses_backend_over_the_stacks_releases(tmp_path):
    desired = Desired(
        stack="support", env="prod", root=tmp_path, settings=StackSettings("responses")
    )
    backend = connect(parse_account("http://127.0.0.1:1/v1"), desired=desired)
    assert isinstance(backend, ResponsesBackend) and backend.family == "responses"
    assert backend.releases.directory == tmp_path / "releases" / "support" / "prod"
    assert backend.releases.owner == "support/prod"
    plain = connect(parse_account("http://127.0.0.1:1/v1"), desired=desired, api="assistants")
    assert isinstance(plain, AssistantsBackend)
