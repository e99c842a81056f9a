"""Structured Outputs' rules for a schema marked ``strict: true`` (function parameters,
``text.format`` json_schema): every object closes its properties (``additionalProperties:
false``) and requires all of them, refused with the API's message naming where."""

from __future__ import annotations

from typing import Any

from assistctl.local.domain import InvalidRequest

NESTED = ("items", "not", "contains", "additionalItems")
ALTERNATIVES = ("anyOf", "allOf", "oneOf", "prefixItems")
DEFINITIONS = ("$defs", "definitions", "properties")


def check_strict_schema(schema: dict[str, Any], what: str, param: str) -> None:
    """``what`` names the schema in the message (``function 'get_order'``,
    ``response_format 'answer'``)."""
    problem = _problem(schema, ())
    if problem is not None:
        raise InvalidRequest(f"Invalid schema for {what}: {problem}", param=param)


def is_strict_schema(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` keeps the strict rules (so ``strict: true`` may be applied)."""
    return _problem(schema, ()) is None


def _problem(schema: Any, context: tuple[str, ...]) -> str | None:
    if not isinstance(schema, dict):
        return None
    where = f"In context=({', '.join(repr(part) for part in context)}{',' * (len(context) == 1)})"
    is_object = schema.get("type") == "object" or "properties" in schema
    if is_object:
        if schema.get("additionalProperties") is not False:
            return f"{where}, 'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties") or {}
        required = schema.get("required")
        missing = [key for key in properties if key not in (required or [])]
        if not isinstance(required, list) or missing:
            shown = f" Missing '{missing[0]}'." if missing else ""
            return (
                f"{where}, 'required' is required to be supplied and to be an array including "
                f"every key in properties.{shown}"
            )
    for key in DEFINITIONS:
        for name, sub in (schema.get(key) or {}).items():
            found = _problem(sub, (*context, key, name))
            if found is not None:
                return found
    for key in NESTED:
        found = _problem(schema.get(key), (*context, key))
        if found is not None:
            return found
    for key in ALTERNATIVES:
        for index, sub in enumerate(schema.get(key) or []):
            found = _problem(sub, (*context, key, str(index)))
            if found is not None:
                return found
    return None
