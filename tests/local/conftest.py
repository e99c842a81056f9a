"""What the local-account tests run on.

The code-interpreter sandbox for every local test that runs code: where this machine cannot
make sandboxes those tests skip, loudly (the reason heads the run); with
ASSISTCTL_REQUIRE_SANDBOX=1, as CI sets it, they fail instead.

The storage engine: every test that asks for ``database`` (``local_server`` does) runs on SQLite
and on PostgreSQL ([sqlite] / [postgresql] in its id), PostgreSQL in a fresh schema per test
(see ``postgres_server``). Where no PostgreSQL can be had the PostgreSQL half skips, loudly;
with ASSISTCTL_REQUIRE_POSTGRES=1, as CI sets it, it fails instead.
"""

from __future__ import annotations

import os

import pytest

from assistctl.local import LocalConfig, start_in_process
from assistctl.local.sandbox import probe
from assistctl.local.storage.postgres import shown
from tests.local import postgres_server

REQUIRED = os.environ.get("ASSISTCTL_REQUIRE_SANDBOX") == "1"
FOUND = probe()
POSTGRES = postgres_server.availability()


def pytest_report_header() -> list[str]:
    lines = []
    if FOUND.works:
        lines.append(f"code-interpreter sandbox: {FOUND.reason}")
    else:
        verdict = "FAILS (ASSISTCTL_REQUIRE_SANDBOX=1)" if REQUIRED else "SKIPPED"
        lines.append(
            f"code-interpreter sandbox UNAVAILABLE, its tests are {verdict}: {FOUND.reason}"
        )
    if POSTGRES.works:
        where = shown(POSTGRES.url) if POSTGRES.url else POSTGRES.reason
        lines.append(f"PostgreSQL for the [postgresql] tests: {where}")
    else:
        verdict = "FAIL (ASSISTCTL_REQUIRE_POSTGRES=1)" if postgres_server.REQUIRED else "SKIP"
        lines.append(f"PostgreSQL UNAVAILABLE, the [postgresql] tests {verdict}: {POSTGRES.reason}")
    return lines


@pytest.fixture(scope="session")
def sandbox_available() -> None:
    if FOUND.works:
        return
    if REQUIRED:
        pytest.fail(f"ASSISTCTL_REQUIRE_SANDBOX=1 but no sandbox here: {FOUND.reason}")
    pytest.skip(f"CODE-INTERPRETER SANDBOX UNAVAILABLE ON THIS MACHINE: {FOUND.reason}")


@pytest.fixture(scope="session")
def postgres_server_url():
    """The tests' PostgreSQL server (one per test process when the tests start it)."""
    if POSTGRES.url is not None:
        yield POSTGRES.url
    elif POSTGRES.binaries is not None:
        with postgres_server.started_server(POSTGRES.binaries) as url:
            yield url
    elif postgres_server.REQUIRED:
        pytest.fail(f"ASSISTCTL_REQUIRE_POSTGRES=1 but no PostgreSQL here: {POSTGRES.reason}")
    else:
        pytest.skip(f"POSTGRESQL UNAVAILABLE ON THIS MACHINE: {POSTGRES.reason}")


@pytest.fixture
def postgres_url(postgres_server_url):
    """A PostgreSQL URL whose connections see a fresh, empty schema of this test's own."""
    with postgres_server.fresh_schema(postgres_server_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request) -> str | None:
    """The storage engine of the test's account: None (SQLite under the data directory) or a
    PostgreSQL URL (a fresh schema)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def local_server(tmp_path, database):
    """A fresh embedded server with its own data dir on a free loopback port, on each
    storage engine."""
    server = start_in_process(
        tmp_path / "account", config=LocalConfig(admin=True, database=database)
    )
    yield server
    server.stop()
