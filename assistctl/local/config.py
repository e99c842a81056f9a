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
``ASSISTCTL_LOCAL_ENGINE``         run engine (``deterministic`` or ``chat``)
``ASSISTCTL_LOCAL_CHAT_BASE_URL``  chat-completions endpoint for the ``chat`` engine
``ASSISTCTL_LOCAL_CHAT_MODEL_MAP`` ``assistant-model=backend-model`` pairs, comma separated
``ASSISTCTL_LOCAL_CHAT_API_KEY_ENV`` variable holding the key for the chat backend
=================================  ===========================================================
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistctl.errors import AccountError

ENV_PREFIX = "ASSISTCTL_LOCAL_"


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


def parse_model_map(items: Iterable[str], source: str) -> dict[str, str]:
    """``NAME=MODEL`` pairs, from ``--chat-model-map`` or ``ASSISTCTL_LOCAL_CHAT_MODEL_MAP``."""
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
    model_map: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> LocalConfig:
    """``config_from_env`` with the ``local serve`` flags on top; a flag left as None keeps the
    environment's value."""
    env = os.environ if environ is None else environ
    overrides = {name: value for name, value in flags.items() if value is not None}
    if api_key_env:
        key = env.get(api_key_env)
        if not key:
            raise AccountError(f"--api-key-env {api_key_env}: that variable is not set or empty")
        overrides["api_key"] = key
    if model_map:
        overrides["chat_model_map"] = parse_model_map(model_map, "--chat-model-map")
    config = dataclasses.replace(config_from_env(env), **overrides)
    if config.engine == "chat" and not config.chat_base_url:
        raise AccountError(
            "--engine chat needs the chat-completions endpoint",
            hint="pass --chat-base-url URL (e.g. http://127.0.0.1:11434/v1 for Ollama)",
        )
    return config


def config_from_env(environ: Mapping[str, str] | None = None) -> LocalConfig:
    """A ``LocalConfig`` with every ``ASSISTCTL_LOCAL_*`` override applied."""
    env = os.environ if environ is None else environ

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

    api_key = value("API_KEY")
    key_env = value("API_KEY_ENV")
    if key_env:
        api_key = env.get(key_env)
        if not api_key:
            raise AccountError(f"{ENV_PREFIX}API_KEY_ENV names {key_env}, which is not set")
    settings: dict[str, Any] = {"api_key": api_key}
    for name, key, convert in (
        ("LATENCY_MS", "latency_ms", int),
        ("RATE_LIMIT", "rate_limit_per_s", float),
        ("FAIL_RATE", "fail_rate", float),
        ("SEED", "seed", int),
        ("INDEXING_DELAY", "indexing_delay_s", float),
    ):
        parsed = number(name, convert)
        if parsed is not None:
            settings[key] = parsed
    for name, key in (
        ("ENGINE", "engine"),
        ("CHAT_BASE_URL", "chat_base_url"),
        ("CHAT_API_KEY_ENV", "chat_api_key_env"),
    ):
        if value(name) is not None:
            settings[key] = value(name)
    if value("CHAT_MODEL_MAP") is not None:
        settings["chat_model_map"] = parse_model_map(
            (value("CHAT_MODEL_MAP") or "").split(","), f"{ENV_PREFIX}CHAT_MODEL_MAP"
        )
    return LocalConfig(**settings)
