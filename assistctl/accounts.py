"""Which account a command talks to: ``--account`` / ``ASSISTCTL_ACCOUNT`` parsed, without
importing anything heavy (``backends.connect`` builds the backend for it).

``local[:DIR]`` starts the embedded account in this process (a background thread on a free
loopback port); ``http(s)://…/v1`` is any Assistants- or Responses-compatible server;
``openai`` is OpenAI itself, which since the sunset serves only the Responses era
(``api_mode``). With no choice made, the local account in ``.assistctl`` at the stack's root is
used (so every directory a command runs from finds the same account) and stderr says so, even when
``OPENAI_API_KEY`` is set: a key in the environment is no reason to send a quickstart to an
account that can no longer serve assistants.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from assistctl.errors import AccountError

# Here, not in model.py: --help shows them, and importing the model costs ~60 ms it never needs.
API_MODES = ("assistants", "responses")

DEFAULT_LOCAL_DIR = ".assistctl"
ACCOUNT_ENV = "ASSISTCTL_ACCOUNT"


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


def api_mode(flag: str | None, stack_setting: str | None, account: AccountSpec) -> str:
    """``--api``, else the Stack's ``spec.api`` (per environment), else what the account
    serves: OpenAI no longer serves assistants, every other account is taken to."""
    chosen = flag or stack_setting or ("responses" if account.kind == "openai" else "assistants")
    if chosen not in API_MODES:
        raise AccountError(
            f"unknown API mode {chosen!r}", hint="use --api assistants or --api responses"
        )
    return chosen
