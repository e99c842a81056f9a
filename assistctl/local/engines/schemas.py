"""JSON Schemas and JSON values as the deterministic engine reads them: the type a schema
names, the enum option a text mentions first, and a value written as plain text."""

from __future__ import annotations

import json
import re
from typing import Any


def schema_type(schema: dict[str, Any]) -> str | None:
    """The non-null type a schema names (also through ``anyOf``/``oneOf``), if any."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None:
        for branch in schema.get("anyOf") or schema.get("oneOf") or []:
            if isinstance(branch, dict) and branch.get("type") not in (None, "null"):
                return schema_type(branch)
    return kind


def first_mentioned(options: list[Any], text: str) -> Any:
    """The option that ``text`` mentions first as a whole word (case-insensitive), or None."""
    lowered = text.lower()
    found = []
    for option in options:
        match = re.search(
            r"(?<![a-z0-9])" + re.escape(str(option).lower()) + r"(?![a-z0-9])", lowered
        )
        if match:
            found.append((match.start(), option))
    return min(found, key=lambda item: item[0])[1] if found else None


def as_text(value: Any) -> str:
    """Strings as they are, flat lists joined with ``, ``, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(as_text(v) for v in value)
    return json.dumps(value, ensure_ascii=False)
