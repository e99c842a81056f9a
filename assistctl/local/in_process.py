"""The local account in this process: ``start_in_process`` backs ``--account local[:DIR]`` and
the test fixtures. uvicorn runs in a daemon thread on a free loopback port, so the ``openai``
SDK talks to it over real HTTP exactly as it talks to any other account."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from pathlib import Path
from types import TracebackType

import uvicorn

from assistctl.errors import AccountError
from assistctl.local.app import LocalApp, create_app
from assistctl.local.config import LocalConfig, config_from_env
from assistctl.local.domain import Account

STARTUP_TIMEOUT_S = 15.0


class _BackgroundRunner:
    """Runs a uvicorn server on its own event loop in a daemon thread.

    uvicorn's ``Server.run`` polls for exit every 100 ms and sleeps 100 ms more while shutting
    down; a test suite that starts hundreds of servers would spend minutes in those sleeps.
    So the runner drives ``startup`` itself and shuts down on an event: idle keep-alive
    connections are closed at once, in-flight requests get ``GRACE_S`` to finish.
    """

    GRACE_S = 5.0

    def __init__(self, server: uvicorn.Server, listener: socket.socket, name: str) -> None:
        self.server = server
        self.listener = listener
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self) -> None:
        try:
            asyncio.run(self.main())
        except BaseException as exc:  # reported to the starter, never printed by the thread
            self.failure = exc
            self.ready.set()

    async def main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        config = self.server.config
        if not config.loaded:
            config.load()
        self.server.lifespan = config.lifespan_class(config)
        await self.server.startup(sockets=[self.listener])
        self.ready.set()
        await self.stopping.wait()
        await self.shutdown(self.loop)

    async def shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        state = self.server.server_state
        for listening in self.server.servers:
            listening.close()
        self.listener.close()
        for connection in list(state.connections):
            connection.shutdown()
        deadline = loop.time() + self.GRACE_S
        while (state.connections or state.tasks) and loop.time() < deadline:
            await asyncio.sleep(0.005)
        for task in list(state.tasks):
            task.cancel()

    def stop(self) -> None:
        loop, stopping = self.loop, self.stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            # The loop may finish between the check and the call: then there is nothing to stop.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        self.thread.join(timeout=self.GRACE_S + 5)


class LocalServer:
    """A running local account. ``stop()`` is idempotent; usable as a context manager."""

    def __init__(
        self,
        runner: _BackgroundRunner,
        port: int,
        data_dir: Path | None,
        app: LocalApp,
        config: LocalConfig,
    ) -> None:
        self._runner = runner
        self._app = app
        self._lock = threading.Lock()
        self._stopped = False
        self.port = port
        self.data_dir = data_dir
        self.database = config.database  # a PostgreSQL URL; None: SQLite under data_dir
        self.api_key = config.api_key
        self.root_url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root_url}/v1"

    @property
    def account(self) -> Account:
        """The served account (its store, services and run executor), for callers in this
        process."""
        return self._app.account

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._runner.stop()
        self._app.close()

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


def start_in_process(
    data_dir: str | Path | None, *, config: LocalConfig | None = None
) -> LocalServer:
    """Serve a local account from ``data_dir`` (None: in memory) on a free loopback port.

    Returns once the server accepts connections. The thread is a daemon, so a forgotten
    server never keeps the process alive; ``stop()`` shuts it down cleanly.
    """
    if config is None:
        config = config_from_env()
    directory = Path(data_dir) if data_dir is not None else None
    app = create_app(config, directory)
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every answer waits ~40 ms for a delayed ACK.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app.asgi,
            http="h11",
            lifespan="off",
            log_level="critical",
            access_log=False,
        )
    )
    app.serve_with(server)
    runner = _BackgroundRunner(server, listener, f"assistctl-local-{port}")
    runner.thread.start()
    if not runner.ready.wait(STARTUP_TIMEOUT_S) or runner.failure is not None:
        runner.stop()
        listener.close()
        app.close()
        raise AccountError(f"the local account server did not start: {runner.failure}")
    return LocalServer(runner, port, directory, app, config)
