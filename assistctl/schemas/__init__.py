"""The JSON Schemas (draft 2020-12) of the manifest kinds, shipped with the package."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


def packaged_schema(filename: str) -> dict[str, Any]:
    """A schema shipped in ``assistctl/schemas`` (a fresh copy: callers may keep it)."""
    schema: dict[str, Any] = json.loads(_schema_text(filename))
    return schema


@cache
def _schema_text(filename: str) -> str:
    return resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")
