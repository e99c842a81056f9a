"""The ``--keys`` file: which API key belongs to which project.

    projects:
      support:
        keys: [sk-support-1, "sha256:5e88...d8"]   # a key, or the SHA-256 hex of one
      billing:
        keys: [sk-billing]

Keys are read once at start-up and kept only as digests; a mistake is an error naming the file
and the place (``FILE: projects.NAME.keys[2]: ...``), before the server listens.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from assistctl.errors import AccountError
from assistctl.local.domain import PROJECT_NAME, key_digest

DIGEST = re.compile(r"sha256:[0-9a-fA-F]{64}")


def load_keys(path: str) -> dict[str, str]:
    """digest -> project name, from the keys file at ``path``."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AccountError(f"{path}: cannot read the keys file: {exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise AccountError(f"{path}: not a YAML file: {exc}") from None
    projects = document.get("projects") if isinstance(document, dict) else None
    if not isinstance(projects, dict) or not projects:
        raise AccountError(f"{path}: projects: expected a mapping of project names to keys")
    owners: dict[str, str] = {}
    for name, project in projects.items():
        where = f"{path}: projects.{name}"
        if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
            raise AccountError(f"{where}: a project name is letters, digits, '_', '.' or '-'")
        keys = project.get("keys") if isinstance(project, dict) else None
        if not isinstance(keys, list) or not keys:
            raise AccountError(f"{where}.keys: expected a list of keys")
        for index, key in enumerate(keys):
            if not isinstance(key, str) or not key.strip() or key != key.strip():
                raise AccountError(f"{where}.keys[{index}]: expected a key (a non-empty string)")
            if key.startswith("sha256:"):
                if not DIGEST.fullmatch(key):
                    raise AccountError(f"{where}.keys[{index}]: expected sha256:<64 hex digits>")
                digest = key.lower()
            else:
                digest = key_digest(key)
            if owners.get(digest, name) != name:
                raise AccountError(f"{where}.keys[{index}]: also a key of {owners[digest]}")
            owners[digest] = name
    return owners
