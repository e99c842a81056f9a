"""The start-up check behind --code-interpreter: whether sandboxes work here, and why not."""

from __future__ import annotations

import sys
from pathlib import Path

from assistctl.local.sandbox import probe

from ..conftest import FOUND


def test_the_sandbox_works_here_or_is_skipped_loudly(sandbox_available: None) -> None:
    assert FOUND.works
    assert "bubblewrap at" in FOUND.reason


def test_a_missing_bwrap_is_reported_in_one_line(sandbox_available: None) -> None:
    found = probe("/nonexistent/bwrap")
    assert not found.works
    assert found.reason == "bwrap not found or not executable at /nonexistent/bwrap"


def test_a_bwrap_that_fails_is_reported_with_its_words(sandbox_available: None) -> None:
    found = probe("/bin/false")
    assert not found.works
    assert found.reason.startswith("a trial sandbox failed")


def test_a_python_that_lives_around_a_private_path_is_refused(sandbox_available: None) -> None:
    private = Path(sys.prefix) / "account"
    found = probe(private=[private])
    assert not found.works
    assert found.reason.endswith(f"which holds {private}: it would show")
