"""``assistctl local serve`` as a real subprocess: reachable by the SDK, clean Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import openai
import pytest
from click.testing import CliRunner

from assistctl.cli import cli


def start(tmp_path, *arguments, env=None):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistctl",
            "local",
            "serve",
            "--port",
            "0",
            "--data",
            str(tmp_path / "data"),
            *arguments,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), process.stderr.read()
    return process, url


def stop(process):
    process.send_signal(signal.SIGINT)
    try:
        _, errors = process.communicate(timeout=15)
    finally:
        process.kill()
    return process.returncode, errors


def test_serve_is_reachable_and_stops_cleanly_on_ctrl_c(tmp_path):
    process, url = start(tmp_path, "--indexing-delay", "0", "--access-log")
    try:
        client = openai.OpenAI(api_key="any", base_url=url, max_retries=0)
        assistant = client.beta.assistants.create(model="gpt-4o", name="served")
        assert client.beta.assistants.retrieve(assistant.id).name == "served"
        with pytest.raises(openai.NotFoundError):
            client.beta.assistants.retrieve("asst_missing")
    finally:
        code, errors = stop(process)
    assert code == 0, errors
    assert "method=POST path=/v1/assistants status=200" in errors
    assert "status=404" in errors
    assert "Traceback" not in errors
    assert (tmp_path / "data" / "account.sqlite3").exists()


def test_serve_with_key_and_faults_from_flags(tmp_path):
    process, url = start(
        tmp_path,
        "--api-key-env",
        "SERVE_KEY",
        "--fail-rate",
        "1",
        "--seed",
        "1",
        env={"SERVE_KEY": "s3cret"},
    )
    try:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(api_key="wrong", base_url=url, max_retries=0).beta.assistants.list()
        keyed = openai.OpenAI(api_key="s3cret", base_url=url, max_retries=0)
        with pytest.raises(openai.InternalServerError):
            keyed.beta.assistants.list()
    finally:
        code, errors = stop(process)
    assert code == 0
    assert "s3cret" not in errors


def test_serve_refuses_public_host_without_key(tmp_path):
    result = CliRunner().invoke(
        cli, ["local", "serve", "--host", "0.0.0.0", "--data", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "without an API key" in result.output and "--api-key-env" in result.output


def test_serve_reports_missing_key_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    result = CliRunner().invoke(
        cli, ["local", "serve", "--api-key-env", "NOT_SET_ANYWHERE", "--data", str(tmp_path)]
    )
    assert result.exit_code == 1 and "NOT_SET_ANYWHERE" in result.output


def test_a_client_that_hangs_up_mid_request_is_one_log_line_not_a_traceback(tmp_path):
    """Clients die (kill -9, timeouts): that is routine for a server, not an error."""
    import socket
    import time
    from urllib.parse import urlsplit

    process, url = start(tmp_path)
    try:
        address = urlsplit(url)
        with socket.create_connection((address.hostname, address.port)) as connection:
            connection.sendall(
                b"POST /v1/assistants HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"model": "gpt-4o"'
            )
            time.sleep(0.2)
        time.sleep(0.2)
        client = openai.OpenAI(api_key="any", base_url=url, max_retries=0)
        assert client.beta.assistants.list().data == []
    finally:
        code, errors = stop(process)
    assert code == 0, errors
    assert "Traceback" not in errors
    assert "disconnected" in errors


def test_the_access_log_is_off_unless_asked_for(tmp_path):
    process, url = start(tmp_path)
    try:
        openai.OpenAI(api_key="any", base_url=url, max_retries=0).files.list()
    finally:
        code, errors = stop(process)
    assert code == 0 and "method=" not in errors, errors


def test_the_access_log_escapes_control_characters_in_paths(tmp_path):
    """``%0A`` must not forge a log line, ``%1B`` must not reach the terminal."""
    import urllib.error
    import urllib.request

    process, url = start(tmp_path, "--access-log")
    try:
        forged = "/assistants/x%0A2026-01-01%20INFO%20method=DELETE%20path=/v1/all%1B[2J"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url + forged, timeout=5)
    finally:
        code, errors = stop(process)
    assert code == 0, errors
    assert "\x1b" not in errors
    lines = [line for line in errors.splitlines() if "method=" in line]
    assert len(lines) == 1, errors
    assert "x\\x0a2026-01-01 INFO method=DELETE" in lines[0] and "\\x1b[2J" in lines[0]


def test_serve_keeps_the_account_in_postgresql_given_a_database_url(tmp_path, postgres_url):
    """``--database`` (and ASSISTCTL_LOCAL_DATABASE) serve the account from PostgreSQL: a second
    server on the same URL sees what the first wrote; nothing goes to SQLite."""
    process, url = start(tmp_path, "--database", postgres_url)
    try:
        client = openai.OpenAI(api_key="any", base_url=url, max_retries=0)
        assistant = client.beta.assistants.create(model="gpt-4o", name="in postgres")
        other, other_url = start(tmp_path, env={"ASSISTCTL_LOCAL_DATABASE": postgres_url})
        try:
            second = openai.OpenAI(api_key="any", base_url=other_url, max_retries=0)
            assert second.beta.assistants.retrieve(assistant.id).name == "in postgres"
        finally:
            stop(other)
    finally:
        code, errors = stop(process)
    assert code == 0, errors
    assert "Serving the local account from PostgreSQL" in errors
    assert not (tmp_path / "data" / "account.sqlite3").exists()


def test_serve_refuses_a_database_it_cannot_reach_without_echoing_its_password(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "local",
            "serve",
            "--port",
            "0",
            "--data",
            str(tmp_path),
            "--database",
            "postgresql://user:hunter2-secret@127.0.0.1:1/db?connect_timeout=2",
        ],
    )
    assert result.exit_code == 1
    assert "cannot open the local account in PostgreSQL" in result.output
    assert "hunter2-secret" not in result.output
    refused = CliRunner().invoke(
        cli, ["local", "serve", "--port", "0", "--database", "mysql://u:p@h/db"]
    )
    assert refused.exit_code == 1 and "must be a postgresql:// URL" in refused.output
    assert "mysql://u:p" not in refused.output
