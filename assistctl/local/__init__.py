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

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

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


def _parse_model_map(text: str) -> dict[str, str]:
    pairs = {}
    for item in text.split(","):
        if not item.strip():
            continue
        source, separator, target = item.partition("=")
        if not separator or not source.strip() or not target.strip():
            raise ValueError(f"{ENV_PREFIX}CHAT_MODEL_MAP: expected name=model pairs, got {item!r}")
        pairs[source.strip()] = target.strip()
    return pairs


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
        try:
            settings["chat_model_map"] = _parse_model_map(value("CHAT_MODEL_MAP") or "")
        except ValueError as exc:
            raise AccountError(str(exc)) from None
    return LocalConfig(**settings)


class LocalServer:
    """A running local account. ``stop()`` is idempotent; usable as a context manager."""

    def __init__(self, server, thread: threading.Thread, port: int, data_dir: Path | None, app):
        self._server = server
        self._thread = thread
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
        self._server.should_exit = True
        self._thread.join(timeout=10)
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
    except OSError as exc:
        raise AccountError(f"cannot open the local account in {directory}: {exc}") from None
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every answer waits ~40 ms for a delayed ACK.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http="h11",
            lifespan="off",
            log_level="critical",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    app.state.account.attach_server(server)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [listener]},
        name=f"assistctl-local-{port}",
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            app.state.account.close()
            raise AccountError("the local account server did not start")
        time.sleep(0.005)
    return LocalServer(server, thread, port, directory, app)
