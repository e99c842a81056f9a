"""A local account's configuration is checked when it is built: a wrong engine, a chat engine
without a usable URL, or a key no client can send is an error (exit 1) at start, before any
request or conversation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistctl.cli import cli
from assistctl.errors import AccountError
from assistctl.local import LocalConfig, config_from_env, serve_config

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"engine": "gpt"}, "unknown local engine 'gpt'"),
        ({"engine": "chat"}, "needs the chat-completions endpoint"),
        ({"engine": "chat", "chat_base_url": "foo"}, "not an http(s) URL"),
        ({"engine": "chat", "chat_base_url": "ftp://host/v1"}, "not an http(s) URL"),
        ({"engine": "chat", "chat_base_url": "http:///v1"}, "not an http(s) URL"),
        ({"engine": "chat", "chat_base_url": "http://host:99999/v1"}, "not an http(s) URL"),
        ({"api_key": "clé-secrète"}, "visible ASCII"),
        ({"api_key": "two words"}, "visible ASCII"),
        ({"admin_key": "ключ"}, "visible ASCII"),
    ],
)
def test_a_bad_configuration_is_refused_when_built(settings, says):
    with pytest.raises(AccountError) as refused:
        LocalConfig(**settings)
    assert says in str(refused.value)


def test_a_refused_url_never_shows_its_credentials():
    with pytest.raises(AccountError) as refused:
        LocalConfig(engine="chat", chat_base_url="ftp://user:SECRET@host/v1?api-key=SECRET")
    assert "SECRET" not in str(refused.value) + str(refused.value.hint)


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"ASSISTCTL_LOCAL_ENGINE": "gpt"}, "unknown local engine"),
        ({"ASSISTCTL_LOCAL_ENGINE": "chat"}, "chat-completions endpoint"),
        ({"ASSISTCTL_LOCAL_CHAT_BASE_URL": "foo"}, "not an http(s) URL"),
        ({"ASSISTCTL_LOCAL_ADMIN": "maybe"}, "expected 1 or 0"),
        ({"ASSISTCTL_LOCAL_API_KEY_ENV": "K", "K": "naïve"}, "visible ASCII"),
    ],
)
def test_the_environment_is_checked_too(environ, says):
    with pytest.raises(AccountError) as refused:
        config_from_env(environ)
    assert says in str(refused.value)


def test_flags_complete_what_the_environment_started():
    """The engine from the environment, its URL from a flag: only the whole is checked."""
    config = serve_config(
        {"chat_base_url": "http://127.0.0.1:9/v1"}, environ={"ASSISTCTL_LOCAL_ENGINE": "chat"}
    )
    assert config.engine == "chat"
    assert config_from_env({"ASSISTCTL_LOCAL_ADMIN": "1"}).admin is True


@pytest.mark.parametrize(
    "arguments",
    [
        ["--engine", "chat", "--chat-base-url", "foo"],
        ["--api-key-env", "NON_ASCII_KEY"],
    ],
)
def test_local_serve_refuses_at_start(tmp_path, monkeypatch, arguments):
    monkeypatch.setenv("NON_ASCII_KEY", "mot-de-passe-é")
    result = CliRunner().invoke(
        cli, ["local", "serve", "--port", "0", "--data", str(tmp_path), *arguments]
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output


def test_local_serve_refuses_the_admin_api_beyond_loopback_without_its_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVE_KEY", "serve-key")
    result = CliRunner().invoke(
        cli,
        ["local", "serve", "--host", "0.0.0.0", "--port", "0", "--api-key-env", "SERVE_KEY",
         "--admin", "--data", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--admin-key-env" in result.output


@pytest.mark.parametrize(
    "environ",
    [{"ASSISTCTL_LOCAL_ENGINE": "gpt"}, {"ASSISTCTL_LOCAL_ENGINE": "chat"}],
)
def test_smoke_tests_on_a_misconfigured_local_account_are_an_error_not_a_failure(
    tmp_path, monkeypatch, environ
):
    """Exit 1 (an error) before any conversation, not 2 (the assistant failed its tests)."""
    stack = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, stack)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ASSISTCTL_LOCAL_CHAT_BASE_URL", raising=False)
    account = f"local:{tmp_path / 'account'}"
    result = CliRunner().invoke(cli, ["--account", account, "test", str(stack)])
    assert result.exit_code == 1, result.output
    assert "engine" in result.output
    assert not (tmp_path / "account").exists() or not any((tmp_path / "account").iterdir())
