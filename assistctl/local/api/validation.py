"""Request validation shared by every endpoint: JSON types, lengths, bounds and enumerations,
answered with the API's messages and ``param`` (the field's path in the request)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from assistctl.local.domain import InvalidRequest

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
IMAGE_DETAILS = ("auto", "low", "high")
MAX_SCHEMA_NAME = 64
SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_VALUE_LENGTH = 512


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def reject_unknown(body: dict[str, Any], allowed: Iterable[str], where: str | None = None) -> None:
    """400 for a key not in ``allowed``. Without ``where``, in the Assistants-era wording
    (``Unrecognized request argument``); with it, in the newer APIs' ``Unknown parameter``
    naming the key inside the object at ``where`` ('' for the top of a body)."""
    known = set(allowed)
    for key in body:
        if key in known:
            continue
        if where is None:
            raise InvalidRequest(f"Unrecognized request argument supplied: {key}", param=key)
        name = f"{where}.{key}" if where else key
        raise InvalidRequest(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def require(body: dict[str, Any], name: str, where: str | None = None) -> Any:
    """``body[name]``, or the API's 400 naming it (inside ``where`` when nested)."""
    param = f"{where}.{name}" if where else name
    if body.get(name) is None:
        raise InvalidRequest(f"Missing required parameter: '{param}'.", param=param)
    return body[name]


def expect_type(value: Any, kind: type | tuple[type, ...], param: str, expected: str) -> None:
    """400 unless ``value`` has the JSON type ``expected`` (bools are not numbers)."""
    wrong = isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))
    if wrong or not isinstance(value, kind):
        raise InvalidRequest(
            f"Invalid type for '{param}': expected {expected}, but got {json_type(value)} instead.",
            param=param,
        )


def optional_string(body: dict[str, Any], name: str, max_length: int | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    expect_type(value, str, name, "a string")
    if max_length is not None and len(value) > max_length:
        raise InvalidRequest(
            f"Invalid '{name}': string too long. Expected a string with maximum length "
            f"{max_length}, but got a string with length {len(value)} instead.",
            param=name,
        )
    return value


def optional_number(
    body: dict[str, Any], name: str, minimum: float, maximum: float, param: str | None = None
) -> float | None:
    """``body[name]`` within bounds, or None; errors name ``param`` (the nested path), default
    ``name``."""
    value = body.get(name)
    if value is None:
        return None
    param = param or name
    expect_type(value, (int, float), param, "a decimal")
    if value < minimum:
        raise InvalidRequest(
            f"Invalid '{param}': decimal below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.",
            param=param,
        )
    if value > maximum:
        raise InvalidRequest(
            f"Invalid '{param}': decimal above maximum value. Expected a value <= {maximum}, "
            f"but got {value} instead.",
            param=param,
        )
    return value


def optional_integer(body: dict[str, Any], name: str, minimum: int) -> int | None:
    """``body[name]``, an integer of at least ``minimum``, or None."""
    value = body.get(name)
    if value is None:
        return None
    expect_type(value, int, name, "an integer")
    if value < minimum:
        raise InvalidRequest(
            f"Invalid '{name}': integer below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    return int(value)


def check_array_length(value: list[Any], param: str, maximum: int) -> None:
    if len(value) > maximum:
        raise InvalidRequest(
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{maximum}, but got an array with length {len(value)} instead.",
            param=param,
        )


def objects_in(value: Any, param: str, maximum: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """The items of an array of at most ``maximum`` objects, each with where it sits
    (``param[i]``); each item is checked as it is reached, so errors come in request order."""
    expect_type(value, list, param, "an array")
    check_array_length(value, param, maximum)
    for index, item in enumerate(value):
        where = f"{param}[{index}]"
        expect_type(item, dict, where, "an object")
        yield where, item


def one_of(value: Any, param: str, supported: Iterable[str]) -> str:
    options = list(supported)
    if not isinstance(value, str) or value not in options:
        quoted = [f"'{s}'" for s in options]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
        shown = f"'{value}'" if isinstance(value, str) else json.dumps(value)
        raise InvalidRequest(
            f"Invalid value: {shown}. Supported values are: {listed}.", param=param
        )
    return value


def validate_metadata(
    value: Any,
    param: str = "metadata",
    *,
    value_types: tuple[type, ...] = (str,),
    expected: str = "a string",
) -> dict[str, Any]:
    """The API's metadata limits: ≤ 16 keys, keys ≤ 64 chars, string values ≤ 512 chars.
    ``value_types`` widens what a value may be (vector-store file attributes)."""
    if value is None:
        return {}
    expect_type(value, dict, param, "an object")
    if len(value) > MAX_METADATA_KEYS:
        raise InvalidRequest(
            f"Invalid '{param}': too many properties. Expected an object with at most "
            f"{MAX_METADATA_KEYS} properties, but got an object with {len(value)} properties "
            "instead.",
            param=param,
        )
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY_LENGTH:
            raise InvalidRequest(
                f"Invalid '{param}': metadata key too long. Expected a key with maximum length "
                f"{MAX_METADATA_KEY_LENGTH}, but got a key with length {len(key)} instead.",
                param=f"{param}.{key[:MAX_METADATA_KEY_LENGTH]}",
            )
        expect_type(item, value_types, f"{param}.{key}", expected)
        if isinstance(item, str) and len(item) > MAX_METADATA_VALUE_LENGTH:
            raise InvalidRequest(
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum "
                f"length {MAX_METADATA_VALUE_LENGTH}, but got a string with length "
                f"{len(item)} instead.",
                param=f"{param}.{key}",
            )
    return dict(value)


def optional_of_type(
    body: dict[str, Any], name: str, kind: type | tuple[type, ...], expected: str, where: str
) -> Any:
    """``body[name]`` if it has the JSON type ``expected`` (None when absent or null)."""
    value = body.get(name)
    if value is not None:
        expect_type(value, kind, f"{where}.{name}" if where else name, expected)
    return value


def validate_json_schema_format(value: Any, param: str) -> dict[str, Any]:
    """A ``json_schema`` structured-output format (``response_format.json_schema``, and the
    Responses API's ``text.format``): ``name`` (≤ 64 of a-z A-Z 0-9 _ -), ``description``,
    ``schema`` (an object), ``strict`` (a boolean)."""
    expect_type(value, dict, param, "an object")
    reject_unknown(value, ("name", "description", "schema", "strict"))
    name = value.get("name")
    if name is None:
        raise InvalidRequest(f"Missing required parameter: '{param}.name'.", f"{param}.name")
    check_name(name, f"{param}.name")
    optional_of_type(value, "description", str, "a string", param)
    optional_of_type(value, "schema", dict, "an object", param)
    optional_of_type(value, "strict", bool, "a boolean", param)
    return value


def check_name(name: Any, param: str) -> str:
    """A function's or a structured-output format's name: 1-64 letters, digits, ``_``, ``-``."""
    expect_type(name, str, param, "a string")
    if len(name) > MAX_SCHEMA_NAME or not SCHEMA_NAME.match(name):
        raise InvalidRequest(
            f"Invalid '{param}': string does not match pattern. Expected a string that "
            f"matches the pattern '^[a-zA-Z0-9_-]+$' (1-{MAX_SCHEMA_NAME} characters).",
            param,
        )
    return str(name)


def image_detail(image: dict[str, Any], param: str) -> str:
    """An image part's ``detail`` (``auto`` when left out)."""
    detail = image.get("detail")
    return "auto" if detail is None else one_of(detail, f"{param}.detail", IMAGE_DETAILS)
