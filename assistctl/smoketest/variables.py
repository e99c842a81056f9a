"""``{{name}}`` placeholders and matrices: one SmokeTest document, many cases.

``vars`` gives every case its defaults; ``matrix`` makes the cases, either every combination of
a mapping of lists (``{order_id: ["123", "777"], lang: [en, fr]}`` is four cases) or one case per
mapping of a list. A case is the test with its placeholders filled in, named
``NAME[var=value,…]`` after its matrix values, and reported like any other test.

Placeholders are filled in the steps (user messages, additional instructions, expectations) and
the canned ``functions`` (their ``when`` and ``output``), in every string, nested ones included;
keys are left alone. A string that is exactly one placeholder takes the variable's value with
its type (``when: {quantity: "{{qty}}"}`` matches the number 3); inside longer text a value is
written as text (``true``/``false`` for booleans, JSON for lists and mappings). Only
``{{ identifier }}`` is a placeholder; any other ``{{`` is left as written.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
TEMPLATED_FIELDS = ("steps", "functions")
SHOWN_VALUE = 40
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Case:
    """One case of a test: its name and every variable it fills placeholders with."""

    name: str
    variables: Mapping[str, Any]


@dataclass(frozen=True)
class Undefined:
    """A placeholder whose variable no ``vars`` or matrix case defines."""

    path: FieldPath
    name: str


def cases(name: str, spec: Mapping[str, Any]) -> list[Case]:
    """The test's cases: itself alone without a ``matrix``, else one per matrix row."""
    defaults = dict(spec.get("vars") or {})
    matrix = spec.get("matrix")
    if not matrix:
        return [Case(name, defaults)]
    if isinstance(matrix, Mapping):
        keys = list(matrix)
        rows = [
            dict(zip(keys, values, strict=True)) for values in itertools.product(*matrix.values())
        ]
    else:
        rows = [dict(row) for row in matrix]
    return [Case(f"{name}[{label(row)}]", {**defaults, **row}) for row in rows]


def label(row: Mapping[str, Any]) -> str:
    """``order_id=123,lang=en``: a case's matrix values, each cut to a readable length."""
    parts = []
    for key, value in row.items():
        text = as_text(value)
        if len(text) > SHOWN_VALUE:
            text = text[: SHOWN_VALUE - 1] + "…"
        parts.append(f"{key}={text}")
    return ",".join(parts)


def as_text(value: Any) -> str:
    """A variable's value inside longer text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def undefined(spec: Mapping[str, Any], variables: Mapping[str, Any]) -> list[Undefined]:
    """Every placeholder in the templated fields that ``variables`` does not define."""
    found: list[Undefined] = []
    for field_name in TEMPLATED_FIELDS:
        if field_name in spec:
            _collect(spec[field_name], (field_name,), variables, found)
    return found


def fill(spec: Mapping[str, Any], case: Case) -> dict[str, Any]:
    """The spec of one case: placeholders filled, ``vars`` holding all its variables, no
    ``matrix``. Placeholders of undefined variables stay as written (``undefined`` reports
    them before any case is run)."""
    filled = {key: value for key, value in spec.items() if key != "matrix"}
    for field_name in TEMPLATED_FIELDS:
        if field_name in filled:
            filled[field_name] = _fill(filled[field_name], case.variables)
    filled["vars"] = dict(case.variables)
    return filled


def _fill(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _fill_text(value, variables)
    if isinstance(value, Mapping):
        return {key: _fill(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, variables) for item in value]
    return value


def _fill_text(text: str, variables: Mapping[str, Any]) -> Any:
    whole = PLACEHOLDER.fullmatch(text)
    if whole is not None and whole.group(1) in variables:
        return variables[whole.group(1)]

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return as_text(variables[name]) if name in variables else match.group(0)

    return PLACEHOLDER.sub(replace, text)


def _collect(
    value: Any, path: FieldPath, variables: Mapping[str, Any], found: list[Undefined]
) -> None:
    if isinstance(value, str):
        found.extend(
            Undefined(path, match.group(1))
            for match in PLACEHOLDER.finditer(value)
            if match.group(1) not in variables
        )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _collect(item, (*path, key), variables, found)
    elif isinstance(value, Sequence):
        for index, item in enumerate(value):
            _collect(item, (*path, index), variables, found)
