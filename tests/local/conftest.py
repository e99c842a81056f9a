"""The code-interpreter sandbox for every local test that runs code. Where this machine cannot
make sandboxes those tests skip, loudly (the reason heads the run); with
ASSISTCTL_REQUIRE_SANDBOX=1, as CI sets it, they fail instead."""

from __future__ import annotations

import os

import pytest

from assistctl.local.sandbox import probe

REQUIRED = os.environ.get("ASSISTCTL_REQUIRE_SANDBOX") == "1"
FOUND = probe()


def pytest_report_header() -> str:
    if FOUND.works:
        return f"code-interpreter sandbox: {FOUND.reason}"
    verdict = "FAILS (ASSISTCTL_REQUIRE_SANDBOX=1)" if REQUIRED else "SKIPPED"
    return f"code-interpreter sandbox UNAVAILABLE, its tests are {verdict}: {FOUND.reason}"


@pytest.fixture(scope="session")
def sandbox_available() -> None:
    if FOUND.works:
        return
    if REQUIRED:
        pytest.fail(f"ASSISTCTL_REQUIRE_SANDBOX=1 but no sandbox here: {FOUND.reason}")
    pytest.skip(f"CODE-INTERPRETER SANDBOX UNAVAILABLE ON THIS MACHINE: {FOUND.reason}")
