"""Which files hold the manifests and the smoke tests, and where the stack's root is.

A directory argument means every ``*.yaml``/``*.yml`` below it, except hidden files and folders
and ``tests/`` subfolders, which hold smoke tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_SUFFIXES = (".yaml", ".yml")
TESTS_DIRECTORY = "tests"


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(absolute)


@dataclass(frozen=True)
class SourceProblem:
    """A path that cannot be read as manifests: ``(shown path, message, hint)``."""

    shown: str
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class Sources:
    """Manifest files, smoke-test files, the stack root and the default stack name."""

    manifests: tuple[Path, ...]
    tests: tuple[Path, ...]
    root: Path
    default_stack: str | None
    problems: tuple[SourceProblem, ...] = field(default=())


def discover(paths: list[Path], *, with_tests: bool) -> Sources:
    manifests: list[Path] = []
    tests: list[Path] = []
    roots: list[Path] = []
    problems: list[SourceProblem] = []
    default_stack: str | None = None
    for given in paths:
        absolute = Path(os.path.abspath(given))
        shown = display_path(given)
        if not absolute.exists():
            problems.append(SourceProblem(shown, "no such file or directory"))
            continue
        if absolute.is_dir():
            roots.append(absolute)
            default_stack = default_stack or absolute.name
            found = _yaml_files(absolute)
            own = [p for p in found if not _under_tests(p, absolute)]
            manifests += own
            tests += [p for p in found if _under_tests(p, absolute)]
            if not own and not (with_tests and tests):
                problems.append(
                    SourceProblem(
                        shown,
                        "no manifests (*.yaml, *.yml) in this directory",
                        hint="tests/ subdirectories hold smoke tests and are not manifests",
                    )
                )
        elif absolute.is_file():
            roots.append(absolute.parent)
            manifests.append(absolute)
        else:
            problems.append(SourceProblem(shown, "not a regular file or directory"))
    root = Path(os.path.commonpath(roots)) if roots else Path.cwd()
    if default_stack is None and roots:
        default_stack = roots[0].name
    return Sources(
        tuple(dict.fromkeys(manifests)),
        tuple(dict.fromkeys(p for p in tests if p not in manifests)),
        root,
        default_stack,
        tuple(problems),
    )


def _yaml_files(directory: Path) -> list[Path]:
    """``*.yaml``/``*.yml`` below ``directory``, skipping hidden files and directories
    (``.git``, ``.github``, ``.assistctl``...) and not following symlinked directories."""
    found: list[Path] = []
    for folder, subfolders, filenames in os.walk(directory):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        found += [
            Path(folder, name)
            for name in filenames
            if not name.startswith(".") and Path(name).suffix.lower() in MANIFEST_SUFFIXES
        ]
    return sorted(p for p in found if p.is_file())


def _under_tests(path: Path, directory: Path) -> bool:
    return TESTS_DIRECTORY in path.relative_to(directory).parts[:-1]
