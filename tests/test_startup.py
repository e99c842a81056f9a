"""`assistctl --help` and `assistctl validate` stay light: no openai, no local server, no rich.

Each check runs the CLI in a fresh interpreter and then lists ``sys.modules``, so an eager
import anywhere (cli.py, a command block, a module validate uses) shows up here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("openai", "assistctl.local", "rich", "httpx", "uvicorn", "starlette")

PROBE = """
import json, sys
from assistctl.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="assistctl")
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def run_probe(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]


def test_help_imports_nothing_heavy():
    result = run_probe("--help")
    assert result["code"] == 0
    assert heavy(result["modules"]) == []
    # Nor the model: its dataclasses cost more than a third of --help (the API modes once did).
    assert "assistctl.model" not in result["modules"]


def test_version_imports_nothing_heavy():
    result = run_probe("--version")
    assert result["code"] == 0
    assert heavy(result["modules"]) == []


def test_validate_imports_nothing_heavy():
    quickstart = ROOT / "examples" / "quickstart"
    if not quickstart.is_dir():
        pytest.skip("examples/quickstart not present yet")
    result = run_probe("validate", str(quickstart))
    assert result["code"] == 0
    assert heavy(result["modules"]) == []


def test_the_probe_sees_heavy_imports(tmp_path):
    """The check can fail: a command that talks to an account does load openai."""
    account = f"local:{tmp_path / 'account'}"
    result = run_probe("--account", account, "export", "--all", "-o", str(tmp_path / "out"))
    assert result["code"] == 1  # a new account has nothing to export
    assert {"openai", "assistctl.local"} <= set(heavy(result["modules"]))
