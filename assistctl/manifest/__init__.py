"""Manifests in, ``model.Desired`` out: discovery, YAML with lines, interpolation, schema
messages and loading (see ``loader``). No network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from assistctl.kinds import KINDS, Registry
from assistctl.manifest.loader import Loader, manifest_kinds, schema
from assistctl.model import Desired, DesiredSmokeTest

__all__ = ["environment_names", "load", "load_all", "load_smoke_tests", "manifest_kinds", "schema"]


def environment_names(paths: Sequence[str | Path]) -> list[str]:
    """The environments the Stack document under ``paths`` defines (for shell completion:
    whatever cannot be read gives none)."""
    return Loader(paths, None, {}).environment_names()


def load(
    paths: Sequence[str | Path],
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
    kinds: Registry = KINDS,
) -> Desired:
    """The desired state described by the manifests under ``paths``.

    A directory means every ``*.yaml``/``*.yml`` in it, recursively, except ``tests/``
    subdirectories (smoke tests live there). Raises ``ManifestError`` with every problem found.
    """
    desired, _ = Loader(paths, env, environ, kinds=kinds).run(with_tests=False)
    return desired


def load_smoke_tests(
    paths: Sequence[str | Path],
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
    desired: Desired | None = None,
) -> tuple[DesiredSmokeTest, ...]:
    """SmokeTest documents from ``tests/`` under directory arguments, from explicit files and
    from among the manifests, validated and interpolated like manifests.

    Each test's ``assistant`` must name an Assistant of ``desired`` (when given) or of the
    manifests found under ``paths`` (when there are any).
    """
    _, tests = Loader(paths, env, environ, known=desired).run(with_tests=True)
    return tests


def load_all(
    paths: Sequence[str | Path],
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
    kinds: Registry = KINDS,
) -> tuple[Desired, tuple[DesiredSmokeTest, ...]]:
    """Manifests and smoke tests together, with one ``ManifestError`` listing every problem of
    both (what ``assistctl validate`` reports)."""
    return Loader(paths, env, environ, kinds=kinds).run(with_tests=True, require_documents=True)
