"""A PostgreSQL server for the tests, and a fresh schema in it per test.

The server is the one ASSISTCTL_TEST_POSTGRES_URL names (CI starts one), else one this test
process starts from the PostgreSQL binaries it finds (initdb and pg_ctl in a temporary
directory, a unix socket, no TCP; as the ``postgres`` user when we are root, since PostgreSQL
refuses to run as root), stopped when the tests end. Each test gets a schema of its own
(``search_path`` in the URL): creating and migrating one costs about 0.1 s, far less than a
database cloned from a template, and tests running at once never see each other's rows.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

URL_VARIABLE = "ASSISTCTL_TEST_POSTGRES_URL"
REQUIRED = os.environ.get("ASSISTCTL_REQUIRE_POSTGRES") == "1"
SERVER_USER = "postgres"


@dataclass(frozen=True)
class Availability:
    """Where the tests' PostgreSQL comes from (``url`` or ``binaries``), or why there is none."""

    url: str | None
    binaries: Path | None
    reason: str

    @property
    def works(self) -> bool:
        return self.url is not None or self.binaries is not None


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian's layout, then PATH)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def availability() -> Availability:
    url = os.environ.get(URL_VARIABLE)
    if url:
        return Availability(url, None, f"the server {URL_VARIABLE} names")
    found = binaries()
    if found is None:
        return Availability(
            None, None, f"no {URL_VARIABLE} and no PostgreSQL binaries (initdb, pg_ctl) here"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return Availability(
                None, None, f"running as root and there is no {SERVER_USER!r} user to run it as"
            )
    return Availability(None, found, f"a server the tests start from {found}")


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def started_server(bin_directory: Path) -> Iterator[str]:
    """A throwaway cluster on a unix socket in a temporary directory; its URL."""
    directory = Path(tempfile.mkdtemp(prefix="assistctl-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, SERVER_USER)
    data = directory / "data"
    subprocess.run(
        _as_server_user(
            [
                str(bin_directory / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-k {directory} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=300"
    )
    control = [str(bin_directory / "pg_ctl"), "-D", str(data), "-l", str(directory / "log")]
    subprocess.run(
        _as_server_user([*control, "-o", options, "-w", "start"]), check=True, capture_output=True
    )
    try:
        yield f"postgresql://postgres@/postgres?host={directory}"
    finally:
        subprocess.run(_as_server_user([*control, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


DROP_ATTEMPTS = 5


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``schema`` as the search path of its connections."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A new empty schema for one test, dropped afterwards; the URL that uses it."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(url, schema)
    finally:
        _drop_schema(url, schema)


def _drop_schema(url: str, schema: str) -> None:
    """Drop a test's schema. Work the test started may still be writing in it (a run finishing
    after its server stopped): PostgreSQL may then pick the drop as a deadlock's victim, and
    the drop is tried again once that work has had its transaction."""
    for attempt in range(DROP_ATTEMPTS):
        try:
            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute(f"DROP SCHEMA {schema} CASCADE")
            return
        except psycopg.errors.DeadlockDetected:
            if attempt == DROP_ATTEMPTS - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
