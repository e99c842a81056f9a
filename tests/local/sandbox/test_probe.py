"""The start-up check behind --code-interpreter: whether sandboxes work here, and why not."""

from __future__ import annotations

from assistctl.local.sandbox import probe

from .conftest import FOUND


def test_the_sandbox_works_here_or_is_skipped_loudly(sandbox_available: None) -> None:
    assert FOUND.works
    assert "bubblewrap at" in FOUND.reason


def test_a_missing_bwrap_is_reported_in_one_line() -> None:
    found = probe("/nonexistent/bwrap")
    assert not found.works
    assert found.reason == "bwrap not found or not executable at /nonexistent/bwrap"


def test_a_bwrap_that_fails_is_reported_with_its_words() -> None:
    found = probe("/bin/false")
    assert not found.works
    assert found.reason.startswith("a trial sandbox failed")
