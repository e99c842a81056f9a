"""The assistant kind on plain data: normalisation (server defaults and ordering never show)
and the live spec in manifest terms (logical names and paths for ids)."""

from __future__ import annotations

import pytest

from assistctl.model import NAME_KEY, STACK_KEY
from tests.test_plan import (
    NORMALISATION_CASES,
    OWNER,
    Live,
    api_assistant,
    api_store,
    assistant_view,
    d_assistant,
    desired,
    dfile,
    normalize_assistant,
    sha,
    upload,
)


@pytest.mark.parametrize("case", sorted(NORMALISATION_CASES))
def test_normalize_assistant_is_idempotent(case):
    for view in NORMALISATION_CASES[case]:
        once = normalize_assistant({"model": "gpt-4o", **view})
        assert normalize_assistant(once) == once


def test_normalized_assistant_view_has_the_documented_shape():
    view = normalize_assistant(
        {
            "model": "gpt-4o",
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"a": 1}}}],
            "metadata": {STACK_KEY: "x", NAME_KEY: "y", "team": "t"},
        }
    )
    assert view == {
        "name": None,
        "description": None,
        "model": "gpt-4o",
        "instructions": None,
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"a": 1}, "strict": False}}
        ],
        "tool_resources": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "response_format": "auto",
        "metadata": {"team": "t"},
    }


def test_live_views_map_ids_to_logical_names_and_paths():
    prices = dfile("data/prices.csv")
    live = Live(
        OWNER,
        vector_stores=(api_store(),),
        uploads=(
            upload("file-p", prices.sha256, "prices.csv"),
            upload("file-old", sha("old"), "old.csv"),
        ),
    )
    live_assistant = api_assistant(
        tool_resources={
            "file_search": {"vector_store_ids": ["vs_1", "vs_elsewhere"]},
            "code_interpreter": {"file_ids": ["file-p", "file-old", "file-foreign"]},
        }
    )
    view = assistant_view(live_assistant, live, desired([d_assistant(files=[prices])]))
    assert view["tool_resources"] == {
        "file_search": {"vector_stores": ["handbook", "vs_elsewhere"]},
        "code_interpreter": {
            "files": ["data/prices.csv", "file-foreign", f"old.csv@{sha('old')[:12]}"]
        },
    }
