"""``${VAR}`` references in manifest strings: ``${VAR}``, ``${VAR:-default}`` (also when empty)
and the ``$${`` escape. Stack environment vars come first, then the process environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")


def interpolate(
    text: str,
    variables: Mapping[str, str],
    environ: Mapping[str, str],
    defined_in: Mapping[str, list[str]],
) -> tuple[str, list[tuple[str, str | None]]]:
    """The text with every reference replaced, and ``(message, hint)`` for each that could not
    be (the reference is then left as written)."""
    errors: list[tuple[str, str | None]] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        if match.group(1) is None:
            errors.append(("unterminated '${' in value", "write $${ for a literal ${"))
            return token
        name, has_default, default = match.group(1).partition(":-")
        if not _VARIABLE_NAME.fullmatch(name):
            errors.append(
                (f"invalid variable reference '{token}'", "use ${NAME} or ${NAME:-default}")
            )
            return token
        value = variables.get(name, environ.get(name))
        if value is None or (has_default and value == ""):
            if has_default:
                return default
            if name in defined_in:
                hint = f"choose an environment that defines it: --env {'|'.join(defined_in[name])}"
            else:
                hint = (
                    f"set {name} in the environment, define it in the Stack's "
                    f"spec.environments.<env>.vars and pass --env, or write ${{{name}:-default}}"
                )
            errors.append((f"undefined variable '{name}'", hint))
            return token
        return value

    return _REFERENCE.sub(replace, text), errors


def referenced(text: str) -> list[str]:
    """The variable names ``text`` refers to (``$${`` escapes aside)."""
    return [
        match.group(1).partition(":-")[0]
        for match in _REFERENCE.finditer(text)
        if match.group(1) is not None
    ]


def scalar_text(value: Any) -> str:
    """A Stack variable's value as the text it stands for."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
