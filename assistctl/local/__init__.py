"""The embedded Assistants-API-compatible account: start it in this process or serve it.

``start_in_process`` backs ``--account local[:DIR]`` and the test fixtures: uvicorn runs in a
daemon thread on a free loopback port, so the ``openai`` SDK talks to it over real HTTP exactly
as it talks to any other account. ``assistctl local serve`` runs the same app in the foreground.

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

import contextlib
import dataclasses
import os
import socket
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

ENV_PREFIX = "ASSISTCTL_LOCAL_"
DATABASE_NAME = "account.sqlite3"
STARTUP_TIMEOUT_S = 15.0


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
    from assistctl.errors import AccountError

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
    environ: dict[str, str] | None = None,
) -> LocalConfig:
    """``config_from_env`` with the ``local serve`` flags on top; a flag left as None keeps the
    environment's value."""
    from assistctl.errors import AccountError

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


def config_from_env(environ: dict[str, str] | None = None) -> LocalConfig:
    """A ``LocalConfig`` with every ``ASSISTCTL_LOCAL_*`` override applied."""
    from assistctl.errors import AccountError

    env = os.environ if environ is None else environ

    def value(name: str) -> str | None:
        raw = env.get(ENV_PREFIX + name)
        return raw.strip() if raw and raw.strip() else None

    def number(name: str, convert):
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
    settings: dict = {"api_key": api_key}
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


class _BackgroundRunner:
    """Runs a uvicorn server on its own event loop in a daemon thread.

    uvicorn's ``Server.run`` polls for exit every 100 ms and sleeps 100 ms more while shutting
    down; a test suite that starts hundreds of servers would spend minutes in those sleeps.
    So the runner drives ``startup`` itself and shuts down on an event: idle keep-alive
    connections are closed at once, in-flight requests get ``GRACE_S`` to finish.
    """

    GRACE_S = 5.0

    def __init__(self, server, listener: socket.socket) -> None:
        self.server = server
        self.listener = listener
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.loop = None
        self.stopping = None
        self.thread = threading.Thread(target=self.run, name="assistctl-local", daemon=True)

    def run(self) -> None:
        import asyncio

        try:
            asyncio.run(self.main())
        except BaseException as exc:  # reported to the starter, never printed by the thread
            self.failure = exc
            self.ready.set()

    async def main(self) -> None:
        import asyncio

        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        config = self.server.config
        if not config.loaded:
            config.load()
        self.server.lifespan = config.lifespan_class(config)
        await self.server.startup(sockets=[self.listener])
        self.ready.set()
        await self.stopping.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        import asyncio

        state = self.server.server_state
        for listening in self.server.servers:
            listening.close()
        self.listener.close()
        for connection in list(state.connections):
            connection.shutdown()
        deadline = self.loop.time() + self.GRACE_S
        while (state.connections or state.tasks) and self.loop.time() < deadline:
            await asyncio.sleep(0.005)
        for task in list(state.tasks):
            task.cancel()

    def stop(self) -> None:
        if self.loop is not None and self.stopping is not None and not self.loop.is_closed():
            # The loop may finish between the check and the call: then there is nothing to stop.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(timeout=self.GRACE_S + 5)


class LocalServer:
    """A running local account. ``stop()`` is idempotent; usable as a context manager."""

    def __init__(self, runner: _BackgroundRunner, port: int, data_dir: Path | None, app):
        self._runner = runner
        self._app = app
        self._lock = threading.Lock()
        self._stopped = False
        self.port = port
        self.data_dir = data_dir
        self.root_url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root_url}/v1"

    @property
    def api_key(self) -> str | None:
        return self._app.state.account.config.api_key

    @property
    def account(self):
        """The server's ``Account`` (store, config, faults), for callers in this process."""
        return self._app.state.account

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._runner.stop()
        self._app.state.account.close()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalServer({self.base_url!r}, data_dir={str(self.data_dir)!r})"


def database_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / DATABASE_NAME


def start_in_process(
    data_dir: str | Path | None, *, config: LocalConfig | None = None
) -> LocalServer:
    """Serve a local account from ``data_dir`` (None: in memory) on a free loopback port.

    Returns once the server accepts connections. The thread is a daemon, so a forgotten
    server never keeps the process alive; ``stop()`` shuts it down cleanly.
    """
    import uvicorn

    from assistctl.errors import AccountError
    from assistctl.local.app import create_app

    if config is None:
        config = config_from_env()
    directory = Path(data_dir) if data_dir is not None else None
    try:
        app = create_app(config, directory)
    except (OSError, sqlite3.Error) as exc:
        raise AccountError(f"cannot open the local account in {directory}: {exc}") from None
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every answer waits ~40 ms for a delayed ACK.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http="h11",
            lifespan="off",
            log_level="critical",
            access_log=False,
        )
    )
    app.state.account.attach_server(server)
    runner = _BackgroundRunner(server, listener)
    runner.thread.name = f"assistctl-local-{port}"
    runner.thread.start()
    if not runner.ready.wait(STARTUP_TIMEOUT_S) or runner.failure is not None:
        runner.stop()
        listener.close()
        app.state.account.close()
        raise AccountError(f"the local account server did not start: {runner.failure}")
    return LocalServer(runner, port, directory, app)
