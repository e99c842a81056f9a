"""Which account a command talks to, and the backend that speaks to it.

``local[:DIR]`` starts the embedded account in this process (a background thread on a free
loopback port); ``http(s)://…/v1`` is any Assistants-compatible server; ``openai`` is OpenAI
itself. With no choice made, the local account in ``.assistctl`` at the stack's root is used
(so every directory a command runs from finds the same account) and stderr says so, even when
``OPENAI_API_KEY`` is set: a key in the environment is no reason to send a quickstart to an
account that can no longer serve assistants.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import openai

from assistctl import retry
from assistctl.backends.assistants import AssistantsBackend
from assistctl.backends.base import Backend
from assistctl.errors import AccountError
from assistctl.manifest.sources import display_path

DEFAULT_LOCAL_DIR = ".assistctl"
ACCOUNT_ENV = "ASSISTCTL_ACCOUNT"
NO_KEY = "assistctl-no-key"
REQUEST_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class AccountSpec:
    """A parsed ``--account`` value. ``label`` is safe to print: it never holds a key."""

    kind: str  # "local" | "url" | "openai"
    target: str  # data dir for local, base URL for url, "" for openai
    explicit: bool
    at_stack_root: bool = False  # the default local account: ``target`` is under the stack root

    @property
    def label(self) -> str:
        if self.kind == "local":
            return f"local:{self.target}"
        if self.kind == "url":  # without user:password@ and ?query, where keys can ride along
            parts = urlsplit(self.target)
            return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        return "openai"


def parse_account(value: str | None) -> AccountSpec:
    """Parse ``--account`` / ``ASSISTCTL_ACCOUNT``; None means the default local account."""
    explicit = value is not None and value != ""
    value = (value or "").strip()
    if not value or value == "local":
        return AccountSpec("local", DEFAULT_LOCAL_DIR, explicit, at_stack_root=True)
    if value.startswith("local:"):
        directory = value[len("local:") :]
        if not directory:
            raise AccountError("--account local: needs a directory after the colon")
        return AccountSpec("local", directory, explicit)
    if value.startswith(("http://", "https://")):
        if urlsplit(value).path.strip("/") == "":
            raise AccountError(
                f"--account {AccountSpec('url', value, True).label}: no API path; "
                "OpenAI-compatible servers answer under /v1",
                hint=f"add /v1: --account {value.rstrip('/')}/v1",
            )
        return AccountSpec("url", value.rstrip("/"), explicit)
    if value == "openai":
        return AccountSpec("openai", "", explicit)
    raise AccountError(
        f"unknown account {value!r}",
        hint="use local[:DIR], http(s)://HOST/v1 or openai (flag --account or ASSISTCTL_ACCOUNT)",
    )


def resolve_account(flag_value: str | None) -> AccountSpec:
    return parse_account(flag_value if flag_value else os.environ.get(ACCOUNT_ENV))


def connect(
    spec: AccountSpec,
    *,
    notice: Callable[[str], None] | None = None,
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
    root: Path | None = None,
) -> Backend:
    """The backend for the account. ``notice(text)`` receives the one-line note about the
    default account; ``root`` is the stack's root, where the default local account lives."""
    return AssistantsBackend(client_for(spec, notice=notice, root=root), policy=policy)


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
