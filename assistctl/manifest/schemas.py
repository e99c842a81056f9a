"""JSON Schema checks of manifest documents, and their errors as located, human problems.

Each document kind has a draft 2020-12 schema (``assistctl/schemas``); the schemas carry
``x-hints``/``x-messages`` for the messages a bare validator would word poorly. ``oneOf`` errors
are explained by the branch the value was meant for (picked by its ``type``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from assistctl.manifest.documents import FieldPath, short

_VALIDATORS: dict[str, Draft202012Validator] = {}


def validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """One validator per schema (by its ``$id``), built once: building one is costly."""
    key = str(schema.get("$id") or id(schema))
    found = _VALIDATORS.get(key)
    if found is None:
        remembering = validators.extend(Draft202012Validator, {"$ref": _remembering_ref()})
        found = _VALIDATORS[key] = remembering(schema)
    return found


def _remembering_ref() -> Any:
    """``$ref`` that skips a value already found valid against the same definition.

    Large stacks repeat the same tools and metadata in every document; a definition's check is
    pure, so a value that passed once passes again and only new values pay for validation. Each
    schema gets its own memory: the same ``#/$defs/...`` means different things in two schemas.
    """
    check_ref = Draft202012Validator.VALIDATORS["$ref"]
    passed: set[tuple[str, str]] = set()

    def ref(checker: Any, reference: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
        try:
            key = (reference, json.dumps(instance, sort_keys=True, allow_nan=False))
        except (TypeError, ValueError):
            yield from check_ref(checker, reference, instance, schema)
            return
        if key in passed:
            return
        failed = False
        for error in check_ref(checker, reference, instance, schema):
            failed = True
            yield error
        if not failed:
            passed.add(key)

    return ref


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def schema_problems(
    checker: Draft202012Validator, instance: Any
) -> list[tuple[FieldPath, str, str | None]]:
    found: list[tuple[FieldPath, str, str | None]] = []
    for error in checker.iter_errors(instance):
        for item in _explain(error):
            if item not in found:
                found.append(item)
    return sorted(found, key=lambda item: [str(p) for p in item[0]])


def _explain(error: ValidationError) -> Iterator[tuple[FieldPath, str, str | None]]:
    """One schema error as located, human problems (``oneOf`` picks the branch by ``type``)."""
    path: FieldPath = tuple(error.absolute_path)
    schema_node = error.schema if isinstance(error.schema, dict) else {}
    hint = schema_node.get("x-hints", {}).get(error.validator) or schema_node.get("x-hint")
    custom = schema_node.get("x-messages", {}).get(error.validator)
    keyword = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    if "propertyNames" in error.relative_schema_path:
        path = path + (instance,)
    if keyword in ("oneOf", "anyOf"):
        yield from _explain_branches(error, path)
        return
    if custom:
        yield path, custom, hint
        return
    if keyword == "required":
        missing = re.match(r"^'(.*)' is a required property$", error.message)
        yield path, f"'{missing.group(1) if missing else error.message}' is required", hint
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema_node.get("properties", {}))
        for key in instance:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            key_hint = (
                f"did you mean '{close[0]}'?"
                if close
                else ("allowed: " + ", ".join(allowed) if allowed else None)
            )
            yield path + (key,), f"unknown field '{key}'", key_hint
    elif keyword == "type":
        expected = [value] if isinstance(value, str) else list(value)
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
        type_hint = hint
        if "string" in expected and isinstance(instance, int | float | bool):
            type_hint = type_hint or "quote the value"
        yield path, f"must be {words}, not {json_type(instance)}", type_hint
    elif keyword == "enum":
        choices = ", ".join(str(v) for v in value)
        yield path, f"{short(instance)} is not one of: {choices}", hint
    elif keyword == "const":
        yield path, f"must be {short(value)}, not {short(instance)}", hint
    elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        relation = {
            "minimum": ">=",
            "maximum": "<=",
            "exclusiveMinimum": ">",
            "exclusiveMaximum": "<",
        }[keyword]
        yield path, f"{instance} is out of range: must be {relation} {value}", hint
    elif keyword == "maxLength":
        yield path, f"is {len(instance):,} characters long; the limit is {value:,}", hint
    elif keyword == "minLength":
        yield (
            path,
            "must not be empty" if value == 1 else f"needs at least {value} characters",
            hint,
        )
    elif keyword == "maxItems":
        yield path, f"has {len(instance)} items; the limit is {value}", hint
    elif keyword == "minItems":
        yield path, f"needs at least {value} item{'s' if value != 1 else ''}", hint
    elif keyword == "maxProperties":
        yield path, f"has {len(instance)} keys; the limit is {value}", hint
    elif keyword == "pattern":
        yield path, f"{short(instance)} does not match {value}", hint
    else:
        yield path, error.message, hint


def _explain_branches(
    error: ValidationError, path: FieldPath
) -> Iterator[tuple[FieldPath, str, str | None]]:
    branches: Any = error.validator_value
    instance: Any = error.instance
    schema_node = error.schema if isinstance(error.schema, dict) else {}
    if isinstance(instance, dict) and "type" in instance:
        consts = [
            b.get("properties", {}).get("type", {}).get("const")
            for b in branches
            if isinstance(b, dict)
        ]
        if instance["type"] in consts:
            index = consts.index(instance["type"])
            for sub in error.context or []:
                if sub.relative_schema_path and sub.relative_schema_path[0] == index:
                    yield from _explain(sub)
            return
        choices = ", ".join(str(c) for c in consts if c is not None)
        yield path + ("type",), f"{short(instance['type'])} is not one of: {choices}", None
        return
    same_type = [
        index
        for index, branch in enumerate(branches)
        if isinstance(branch, dict)
        and json_type(instance) == _TYPE_WORDS.get(str(branch.get("type")))
    ]
    if len(same_type) == 1:
        for sub in error.context or []:
            if sub.relative_schema_path and sub.relative_schema_path[0] == same_type[0]:
                yield from _explain(sub)
        return
    yield path, f"{short(instance)} is not valid here", schema_node.get("description")
