"""The local account's rooms, read from its imports: data flows api -> domain -> storage, the
domain calls the engines, each room is entered through its door (its package), nothing imports
the client's modules, imports sit at the top of modules, and no modules import each other in a
circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import assistctl.local

PACKAGE = "assistctl.local"
ROOT = Path(assistctl.local.__file__).parent
SHARED = ("assistctl", "assistctl.errors")  # ``__version__`` and the one exception tree
# Third-party modules imported where they are used, for their measured start-up cost: the
# document readers take 0.7 s to import together and are needed only when such a file is indexed.
# The sandbox's executor brings zmq and jupyter_client (0.3 s), needed only once code runs.
DEFERRED = frozenset({"pypdf", "docx", "pptx", "assistctl.local.sandbox.executor"})
ROOMS = {
    "storage": set(),
    "engines": set(),
    "sandbox": set(),
    "domain": {"storage", "engines", "sandbox"},
    "api": {"domain"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported module, at the top of the module)`` for every import statement."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, id(node) in top) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.append((submodule if submodule in MODULES else node.module, id(node) in top))
    return found


def room_of(module: str) -> str | None:
    """The room a module belongs to; None for the assembly at the top (app, serve, ...)."""
    parts = module.split(".")
    return parts[2] if len(parts) >= 3 and parts[2] in ROOMS else None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_rooms(module):
    room = room_of(module)
    for imported, at_top in imports(MODULES[module]):
        assert at_top or imported in DEFERRED, f"{module} imports {imported} inside a function"
        if not imported.startswith("assistctl"):
            continue
        assert imported in SHARED or imported.startswith(PACKAGE), (
            f"{module} imports the client's {imported}"
        )
        target = room_of(imported)
        if imported in SHARED or target == room:
            continue
        assert room is None or target in ROOMS[room], f"{module} must not import {imported}"
        assert target is None or imported == f"{PACKAGE}.{target}", (
            f"{module} enters the {target} room by {imported}, not by its door"
        )


def test_no_module_imports_itself_through_a_circle():
    graph = {
        module: {i for i, _ in imports(path) if i in MODULES and i != module}
        for module, path in MODULES.items()
    }
    finished: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            raise AssertionError(" -> ".join([*trail[trail.index(module) :], module]))
        if module in finished:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*trail, module])
        finished.add(module)

    for module in sorted(graph):
        visit(module, [])
