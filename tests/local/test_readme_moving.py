"""The README's worked example, *Moving an app from Assistants to Responses*, run as written
against a local account: each ``print`` must print the comment under it; served without the
Assistants API, the Assistants half fails with a 404 and the Responses half still runs."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import openai
import pytest

from assistctl.local import LocalConfig, start_in_process

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- example:moving-to-responses -->"
DOCUMENTED_URL = "http://127.0.0.1:8080/v1"


def example() -> str:
    text = README.read_text()
    block = text[text.index(MARKER) :]
    return re.search(r"```python\n(.*?)```", block, re.DOTALL).group(1)


def expected_output(code: str) -> list[str]:
    """The comment line under each (one-line) ``print``: what the example says it prints."""
    lines = code.splitlines()
    return [
        line.removeprefix("# ")
        for previous, line in zip(lines, lines[1:], strict=False)
        if previous.startswith("print(") and line.startswith("# ")
    ]


def run(code: str, base_url: str) -> list[str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.replace(DOCUMENTED_URL, base_url), "<README example>", "exec"), {})
    return printed.getvalue().splitlines()


def test_the_worked_example_prints_what_it_says(tmp_path):
    code = example()
    assert DOCUMENTED_URL in code
    with start_in_process(tmp_path / "account", config=LocalConfig()) as server:
        assert (
            run(code, server.base_url)
            == expected_output(code)
            == [
                "Here is what get_order returned: status: shipped.",
                "Here is what get_order returned: status: shipped.",
                "returns.md",
            ]
        )


def test_without_the_assistants_api_only_the_responses_half_runs(tmp_path):
    code = example()
    setup, rest = code.split("# Before:", 1)
    before, after = rest.split("# After:", 1)
    config = LocalConfig(without_assistants_api=True)
    with start_in_process(tmp_path / "account", config=config) as server:
        with pytest.raises(openai.NotFoundError):
            run(setup + "# Before:" + before, server.base_url)
        printed = run(setup + "# After:" + after, server.base_url)
    assert printed == ["Here is what get_order returned: status: shipped.", "returns.md"]
