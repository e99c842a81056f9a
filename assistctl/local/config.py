"""How a local account is configured: ``LocalConfig``, read from ``ASSISTCTL_LOCAL_*`` variables
and, for ``local serve``, from its flags on top.

Settings for the in-process starter can be overridden from the environment (used when no
``config`` is passed), so a CI job can slow the local account down or make it flaky without
code changes:

=================================  ===========================================================
``ASSISTCTL_LOCAL_API_KEY``        the key the server requires (Bearer), none by default
``ASSISTCTL_LOCAL_API_KEY_ENV``    name of a variable holding that key (wins over the above)
``ASSISTCTL_LOCAL_LATENCY_MS``     added latency per request, in milliseconds
``ASSISTCTL_LOCAL_RATE_LIMIT``     requests per second before 429s (token bucket)
``ASSISTCTL_LOCAL_FAIL_RATE``      share of requests answered with a random 500 (0..1)
``ASSISTCTL_LOCAL_SEED``           seed that makes ``FAIL_RATE`` failures reproducible
``ASSISTCTL_LOCAL_INDEXING_DELAY`` seconds a vector-store file stays ``in_progress``
``ASSISTCTL_LOCAL_ENGINE``         engine (``deterministic``, ``chat`` or ``responses``)
``ASSISTCTL_LOCAL_CHAT_BASE_URL``  chat-completions endpoint for the ``chat`` engine
``ASSISTCTL_LOCAL_CHAT_MODEL_MAP`` ``assistant-model=backend-model`` pairs, comma separated
``ASSISTCTL_LOCAL_CHAT_API_KEY_ENV`` variable holding the key for the chat backend
``ASSISTCTL_LOCAL_BACKEND_BASE_URL`` Responses-API endpoint for the ``responses`` engine
``ASSISTCTL_LOCAL_BACKEND_MODEL_MAP`` ``model=backend-model`` pairs for it, comma separated
``ASSISTCTL_LOCAL_BACKEND_API_KEY_ENV`` variable holding the key for that backend
``ASSISTCTL_LOCAL_WITHOUT_ASSISTANTS_API`` ``1``: answer 404 on ``/v1/assistants`` and
                                   ``/v1/threads``, as OpenAI does since the sunset
``ASSISTCTL_LOCAL_CODE_INTERPRETER`` ``sandbox`` runs code-interpreter code in a sandboxed
                                   kernel, ``off`` never; unset: ``sandbox`` where bwrap works
``ASSISTCTL_LOCAL_CODE_SECONDS``   wall-time limit of one code execution (default 60)
``ASSISTCTL_LOCAL_ADMIN``          ``1`` serves the admin API (``/_admin``: faults, stats)
``ASSISTCTL_LOCAL_ADMIN_KEY``      the admin API's own key (default: the API key)
``ASSISTCTL_LOCAL_ADMIN_KEY_ENV``  name of a variable holding that key (wins over the above)
``ASSISTCTL_LOCAL_ACCESS_LOG``     ``1`` writes one access-log line per request (off by default)
``ASSISTCTL_LOCAL_KEYS``           a YAML file mapping API keys to projects (see README)
``ASSISTCTL_LOCAL_DATABASE``       a ``postgresql://`` URL: keep the account in PostgreSQL
                                   instead of SQLite under the data directory
``ASSISTCTL_LOCAL_JOB_LEASE``      seconds a replica's claim on a run or response lasts unless
                                   renewed (default 30; renewed every third of it)
``ASSISTCTL_LOCAL_ENGINE_DELAY``   seconds every run and response waits before its engine
                                   answers (a slow model, for tests of replicas; default 0)
=================================  ===========================================================

A configuration is checked whole when it is built (``LocalConfig.__post_init__``), so a wrong
engine, a chat or responses engine without a usable URL or a key no client can send is an error
(exit 1) at start-up, before any request or conversation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from assistctl.errors import AccountError

ENV_PREFIX = "ASSISTCTL_LOCAL_"
ENGINES = ("deterministic", "chat", "responses")
CODE_INTERPRETERS = ("sandbox", "off")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
MIN_JOB_LEASE_S = 0.3  # renewed every third of it: shorter leases expire while work goes on


@dataclass(frozen=True)
class LocalConfig:
    """How a local account behaves from the moment it starts (faults can change at run time)."""

    api_key: str | None = None
    latency_ms: int = 0
    rate_limit_per_s: float | None = None
    fail_rate: float = 0.0
    seed: int | None = None
    indexing_delay_s: float = 0.0
    engine: str = "deterministic"
    chat_base_url: str | None = None
    chat_model_map: dict[str, str] = field(default_factory=dict)
    chat_api_key_env: str = "ASSISTCTL_CHAT_API_KEY"
    backend_base_url: str | None = None
    backend_model_map: dict[str, str] = field(default_factory=dict)
    backend_api_key_env: str = "ASSISTCTL_BACKEND_API_KEY"
    without_assistants_api: bool = False
    code_interpreter: str | None = None  # None: "sandbox" where it works here, else "off"
    code_seconds: float = 60.0
    admin: bool = False
    admin_key: str | None = None
    access_log: bool = False
    keys_file: str | None = None
    database: str | None = None  # a postgresql:// URL; None: SQLite under the data directory
    job_lease_s: float = 30.0
    engine_delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.database is not None and not self.database.startswith(POSTGRES_SCHEMES):
            raise AccountError(
                "the local account's database must be a postgresql:// URL",
                hint="e.g. --database postgresql://assistctl@db.example/assistctl (or "
                "ASSISTCTL_LOCAL_DATABASE); leave it out to keep SQLite under --data",
            )
        if self.engine not in ENGINES:
            raise AccountError(
                f"unknown local engine {self.engine!r}",
                hint="use 'deterministic', 'chat' or 'responses' (--engine or "
                "ASSISTCTL_LOCAL_ENGINE)",
            )
        if self.engine == "chat" and not self.chat_base_url:
            raise AccountError(
                "the chat engine needs the chat-completions endpoint",
                hint="pass --chat-base-url URL or set ASSISTCTL_LOCAL_CHAT_BASE_URL "
                "(e.g. http://127.0.0.1:11434/v1 for Ollama)",
            )
        if self.engine == "responses" and not self.backend_base_url:
            raise AccountError(
                "the responses engine needs the Responses-API endpoint",
                hint="pass --backend-base-url URL or set ASSISTCTL_LOCAL_BACKEND_BASE_URL "
                "(e.g. https://api.openai.com/v1, or another local account's "
                "http://127.0.0.1:8080/v1)",
            )
        if self.code_interpreter is not None and self.code_interpreter not in CODE_INTERPRETERS:
            raise AccountError(
                f"unknown code interpreter {self.code_interpreter!r}",
                hint="use 'sandbox' or 'off' (--code-interpreter or "
                "ASSISTCTL_LOCAL_CODE_INTERPRETER)",
            )
        if not self.code_seconds > 0:
            raise AccountError("the code interpreter's time limit must be positive seconds")
        if not self.job_lease_s >= MIN_JOB_LEASE_S:
            raise AccountError(
                f"the job lease must be at least {MIN_JOB_LEASE_S} seconds",
                hint="--job-lease SECONDS or ASSISTCTL_LOCAL_JOB_LEASE (default 30)",
            )
        if not self.engine_delay_s >= 0:
            raise AccountError("the engine delay must be zero or positive seconds")
        if self.chat_base_url is not None:
            check_base_url(self.chat_base_url)
        if self.backend_base_url is not None:
            check_base_url(self.backend_base_url, "--backend-base-url")
        for what, key in (("API key", self.api_key), ("admin key", self.admin_key)):
            if key is not None:
                check_key(key, what)


def check_base_url(url: str, flag: str = "--chat-base-url") -> None:
    """An ``http(s)://host[:port][/path]`` URL, or an AccountError saying what is wrong (never
    echoing the URL's credentials); ``flag`` names the setting."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        shown = url if parts is None else f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
        raise AccountError(
            f"{flag} {shown!r} is not an http(s) URL with a host",
            hint=f"e.g. {flag} http://127.0.0.1:11434/v1",
        )


def check_key(key: str, what: str) -> None:
    """A key a client can send in an HTTP header: visible ASCII, no spaces. Header bytes
    beyond ASCII are read as latin-1 and SDKs refuse to send them, so such a key could never
    authenticate."""
    if not key or not all("!" <= character <= "~" for character in key):
        raise AccountError(
            f"the {what} must be visible ASCII characters without spaces",
            hint="HTTP clients cannot send other characters in the Authorization header",
        )


def parse_model_map(items: Iterable[str], source: str) -> dict[str, str]:
    """``NAME=MODEL`` pairs, from ``--chat-model-map`` / ``--backend-model-map`` or their
    ``ASSISTCTL_LOCAL_*_MODEL_MAP`` variables."""
    pairs = {}
    for item in items:
        if not item.strip():
            continue
        name, separator, model = item.partition("=")
        if not separator or not name.strip() or not model.strip():
            raise AccountError(f"{source} {item.strip()!r}: expected NAME=MODEL")
        pairs[name.strip()] = model.strip()
    return pairs


def serve_config(
    flags: Mapping[str, Any],
    *,
    api_key_env: str | None = None,
    admin_key_env: str | None = None,
    model_map: Sequence[str] = (),
    backend_model_map: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> LocalConfig:
    """``config_from_env`` with the ``local serve`` flags on top; a flag left as None keeps the
    environment's value."""
    env = os.environ if environ is None else environ
    overrides = {name: value for name, value in flags.items() if value is not None}
    for flag, variable, key in (
        ("--api-key-env", api_key_env, "api_key"),
        ("--admin-key-env", admin_key_env, "admin_key"),
    ):
        if variable:
            value = env.get(variable)
            if not value:
                raise AccountError(f"{flag} {variable}: that variable is not set or empty")
            overrides[key] = value
    if model_map:
        overrides["chat_model_map"] = parse_model_map(model_map, "--chat-model-map")
    if backend_model_map:
        overrides["backend_model_map"] = parse_model_map(backend_model_map, "--backend-model-map")
    return LocalConfig(**{**settings_from_env(env), **overrides})


def config_from_env(environ: Mapping[str, str] | None = None) -> LocalConfig:
    """A ``LocalConfig`` with every ``ASSISTCTL_LOCAL_*`` override applied."""
    return LocalConfig(**settings_from_env(os.environ if environ is None else environ))


def settings_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``LocalConfig`` fields that ``ASSISTCTL_LOCAL_*`` variables set."""

    def value(name: str) -> str | None:
        raw = env.get(ENV_PREFIX + name)
        return raw.strip() if raw and raw.strip() else None

    def number(name: str, convert: Callable[[str], float]) -> float | None:
        raw = value(name)
        if raw is None:
            return None
        try:
            return convert(raw)
        except ValueError:
            raise AccountError(f"{ENV_PREFIX}{name}={raw!r} is not a valid number") from None

    settings: dict[str, Any] = {}
    for name, key in (("API_KEY", "api_key"), ("ADMIN_KEY", "admin_key")):
        secret = value(name)
        named = value(f"{name}_ENV")
        if named:
            secret = env.get(named)
            if not secret:
                raise AccountError(f"{ENV_PREFIX}{name}_ENV names {named}, which is not set")
        if secret is not None:
            settings[key] = secret
    for name, key, convert in (
        ("LATENCY_MS", "latency_ms", int),
        ("RATE_LIMIT", "rate_limit_per_s", float),
        ("FAIL_RATE", "fail_rate", float),
        ("SEED", "seed", int),
        ("INDEXING_DELAY", "indexing_delay_s", float),
        ("CODE_SECONDS", "code_seconds", float),
        ("JOB_LEASE", "job_lease_s", float),
        ("ENGINE_DELAY", "engine_delay_s", float),
    ):
        parsed = number(name, convert)
        if parsed is not None:
            settings[key] = parsed
    for name, key in (
        ("ENGINE", "engine"),
        ("CHAT_BASE_URL", "chat_base_url"),
        ("CHAT_API_KEY_ENV", "chat_api_key_env"),
        ("BACKEND_BASE_URL", "backend_base_url"),
        ("BACKEND_API_KEY_ENV", "backend_api_key_env"),
        ("CODE_INTERPRETER", "code_interpreter"),
    ):
        if value(name) is not None:
            settings[key] = value(name)
    for name, key in (
        ("CHAT_MODEL_MAP", "chat_model_map"),
        ("BACKEND_MODEL_MAP", "backend_model_map"),
    ):
        if value(name) is not None:
            settings[key] = parse_model_map((value(name) or "").split(","), ENV_PREFIX + name)
    if value("KEYS") is not None:
        settings["keys_file"] = value("KEYS")
    if value("DATABASE") is not None:
        settings["database"] = value("DATABASE")
    for name, key in (
        ("ADMIN", "admin"),
        ("WITHOUT_ASSISTANTS_API", "without_assistants_api"),
        ("ACCESS_LOG", "access_log"),
    ):
        switch = value(name)
        if switch is not None:
            if switch.lower() not in TRUE_WORDS + FALSE_WORDS:
                raise AccountError(f"{ENV_PREFIX}{name}={switch!r}: expected 1 or 0")
            settings[key] = switch.lower() in TRUE_WORDS
    return settings
