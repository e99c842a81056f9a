"""Answers in the run's ``response_format`` (the deterministic engine's *Response formats*): as
is, a JSON object, or an instance of the ``json_schema`` built from the facts the answer rests
on."""

from __future__ import annotations

import json
from typing import Any

from assistctl.local.engines.schemas import as_text, first_mentioned, schema_type

ANSWER_PROPERTY_NAMES = frozenset(
    {"answer", "response", "reply", "text", "message", "content", "summary", "result", "output"}
)
_MISSING = object()


def format_answer(response_format: Any, text: str, facts: dict[str, Any]) -> str:
    """``text`` as the response format asks: as is, a JSON object, or a json_schema instance."""
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return json.dumps({"answer": text, **_plain_facts(facts)}, ensure_ascii=False)
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        instance = schema_instance(schema, schema, facts, text, None)
        return json.dumps(instance, ensure_ascii=False)
    return text


def _plain_facts(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if "." not in k and k != "answer"}


def _fact(facts: dict[str, Any], name: str | None) -> Any:
    if name is None:
        return _MISSING
    if name in facts:
        return facts[name]
    lowered = name.lower()
    for key, value in facts.items():
        if key.lower() == lowered:
            return value
    return _MISSING


def schema_instance(
    schema: Any, root: dict[str, Any], facts: dict[str, Any], answer: str, name: str | None
) -> Any:
    """An instance of ``schema``: facts by property name, the answer in answer-like strings,
    type defaults elsewhere. Required properties are always present."""
    if not isinstance(schema, dict):
        return None
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/"):
        target: Any = root
        for part in reference[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return schema_instance(target, root, facts, answer, name)
    if "const" in schema:
        return schema["const"]
    fact = _fact(facts, name)
    if schema.get("enum"):
        options = schema["enum"]
        if fact is not _MISSING and fact in options:
            return fact
        mentioned = first_mentioned(options, answer)
        return mentioned if mentioned is not None else options[0]
    kind = schema_type(schema)
    if kind is None:
        for branch in schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf") or []:
            return schema_instance(branch, root, facts, answer, name)
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        result = {}
        for key, sub in properties.items():
            if key in required or _fact(facts, key) is not _MISSING:
                result[key] = schema_instance(sub, root, facts, answer, key)
        return result
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        return [schema_instance(schema.get("items") or {}, root, facts, answer, None)] * count
    if kind == "string":
        if fact is not _MISSING:
            return fact if isinstance(fact, str) else as_text(fact)
        if name is None or name.lower() in ANSWER_PROPERTY_NAMES:
            return answer
        return ""
    if kind in ("integer", "number"):
        converted = _number_fact(fact, kind)
        if converted is not None:
            return converted
        minimum = schema.get("minimum")
        return minimum if isinstance(minimum, int | float) and minimum > 0 else 0
    if kind == "boolean":
        return fact if isinstance(fact, bool) else False
    return None


def _number_fact(fact: Any, kind: str) -> int | float | None:
    if fact is _MISSING or isinstance(fact, bool):
        return None
    try:
        number = float(fact)
    except (TypeError, ValueError):
        return None
    if kind == "integer":
        return int(number) if number.is_integer() else None
    return int(number) if number.is_integer() else number
