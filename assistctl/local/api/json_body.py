"""Decoding a JSON request body strictly, so that nothing the account cannot answer back is
ever accepted: every endpoint's body passes through ``decode_json_body``.

Python's ``json`` reads more than JSON: ``NaN``/``Infinity`` (and ``1e999``, which becomes
``inf``), and ``"\\ud800"``, a lone UTF-16 surrogate that no UTF-8 answer can carry. Both were
once stored and then broke every list that contained them. Deep nesting and integers beyond
Python's 4,300-digit limit made ``json`` itself fail with a 500. Each is a 400 here, at parse
time, before any handler runs.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from assistctl.local.domain import InvalidRequest

MAX_JSON_DEPTH = 64
NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you "
    "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
    "but what was sent was not valid JSON.)"
)


def _refuse(reason: str) -> NoReturn:
    raise InvalidRequest(f"{NOT_JSON} {reason}")


def _constant(name: str) -> NoReturn:
    _refuse(f"{name} is not a JSON number; numbers must be finite.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _refuse(f"{text} is out of range; numbers must be finite.")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # beyond Python's limit on integer digits
        _refuse(f"an integer with {len(text.lstrip('-'))} digits is out of range.")


def _where(path: list[str | int]) -> str:
    shown = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)
    return shown.lstrip(".") or "body"


def unrenderable_text(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (it then has no UTF-8 form)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_renderable(value: Any) -> None:
    """400 for a string with a lone surrogate or nesting deeper than ``MAX_JSON_DEPTH``,
    found by walking the decoded body without recursion."""
    pending: list[tuple[Any, list[str | int]]] = [(value, [])]
    while pending:
        item, path = pending.pop()
        if len(path) > MAX_JSON_DEPTH:
            _refuse(f"'{_where(path)}' is nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(item, str):
            if unrenderable_text(item):
                raise InvalidRequest(
                    f"Invalid '{_where(path)}': the string contains an unpaired UTF-16 "
                    "surrogate, which is not valid Unicode text.",
                    param=_where(path),
                )
        elif isinstance(item, dict):
            for key, child in item.items():
                if unrenderable_text(key):
                    raise InvalidRequest(
                        f"Invalid '{_where(path)}': a key contains an unpaired UTF-16 "
                        "surrogate, which is not valid Unicode text.",
                        param=_where(path),
                    )
                pending.append((child, [*path, key]))
        elif isinstance(item, list):
            pending.extend((child, [*path, index]) for index, child in enumerate(item))


def decode_json_body(raw: bytes) -> Any:
    """The decoded body, refusing (400) what JSON does not allow or no answer could carry."""
    try:
        value = json.loads(
            raw, parse_constant=_constant, parse_float=_finite_float, parse_int=_integer
        )
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidRequest(NOT_JSON) from None
    except RecursionError:
        _refuse(f"The body is nested deeper than {MAX_JSON_DEPTH} levels.")
    check_renderable(value)
    return value
