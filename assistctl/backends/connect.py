"""The account connector: the backend for an ``AccountSpec`` in an API mode, with its SDK
client.

``local[:DIR]`` starts the embedded account in this process (a background thread on a free
loopback port); the default local account lives in ``.assistctl`` at the stack's root.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from pathlib import Path

import openai

from assistctl import retry
from assistctl.accounts import AccountSpec, api_mode
from assistctl.backends.assistants import AssistantsBackend
from assistctl.backends.base import Backend
from assistctl.backends.release_store import ReleaseStore
from assistctl.backends.responses import ResponsesBackend
from assistctl.errors import AccountError
from assistctl.manifest.sources import display_path
from assistctl.model import Desired

NO_KEY = "assistctl-no-key"
REQUEST_TIMEOUT_S = 60.0


def release_directory(flag: str | None, desired: Desired | None, owner: str | None) -> Path:
    """Where responses mode keeps releases: ``--release-dir``, else the Stack's
    ``spec.release_dir``, else ``releases/<stack>[/<env>]`` under the stack root (under the
    current directory without manifests, as for export)."""
    if flag:
        return Path(flag)
    if desired is not None and desired.settings.release_dir is not None:
        return desired.settings.release_dir
    root = desired.root if desired is not None else Path.cwd()
    return root / "releases" / (owner or "")


def connect(
    spec: AccountSpec,
    *,
    notice: Callable[[str], None] | None = None,
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
    root: Path | None = None,
    api: str | None = None,
    desired: Desired | None = None,
    owner: str | None = None,
    release_dir: str | None = None,
) -> Backend:
    """The backend for the account, in the API mode ``api`` (``--api``) or else the one the
    manifests (``desired``) or the account choose (``accounts.api_mode``). In responses mode
    the stack's assistants are the release files of ``owner`` (default: the manifests' owner)
    under ``release_dir`` (see ``release_directory``). ``notice(text)`` receives the one-line
    note about the default account; ``root`` is the stack's root (default: the manifests'),
    where the default local account lives."""
    root = root or (desired.root if desired is not None else None)
    mode = api_mode(api, desired.settings.api if desired is not None else None, spec)
    client = client_for(spec, notice=notice, root=root)
    if mode == "assistants":
        return AssistantsBackend(client, policy=policy)
    owner = owner or (desired.owner if desired is not None else None)
    releases = ReleaseStore(
        release_directory(release_dir, desired, owner),
        shown_from=root or Path.cwd(),
        owner=owner,
    )
    return ResponsesBackend(client, policy=policy, releases=releases)


def client_for(
    spec: AccountSpec,
    *,
    notice: Callable[[str], None] | None = None,
    root: Path | None = None,
) -> openai.OpenAI:
    """The SDK client, with its own retries off: the backends retry, and never blindly."""
    if spec.kind == "local":
        # Start-up: the embedded server (starlette, uvicorn, sqlite) loads only when used.
        from assistctl.local import start_in_process

        directory = Path(spec.target)
        if spec.at_stack_root:
            directory = (root or Path.cwd()) / spec.target
        if not spec.explicit and notice is not None:
            notice(
                f"using the embedded local account in {display_path(directory)}/ "
                "(choose another with --account or ASSISTCTL_ACCOUNT)"
            )
        server = start_in_process(directory)
        atexit.register(server.stop)
        return openai.OpenAI(
            api_key=server.api_key or NO_KEY,
            base_url=server.base_url,
            max_retries=0,
            timeout=REQUEST_TIMEOUT_S,
        )
    if spec.kind == "url":
        key = os.environ.get("ASSISTCTL_API_KEY") or os.environ.get("OPENAI_API_KEY") or NO_KEY
        return openai.OpenAI(
            api_key=key, base_url=spec.target, max_retries=0, timeout=REQUEST_TIMEOUT_S
        )
    if not os.environ.get("OPENAI_API_KEY"):
        raise AccountError(
            "--account openai needs OPENAI_API_KEY", hint="export OPENAI_API_KEY=sk-..."
        )
    return openai.OpenAI(max_retries=0, timeout=REQUEST_TIMEOUT_S)
