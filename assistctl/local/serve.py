"""``assistctl local serve``: the local account as a foreground server.

Binds before printing, so the printed URL is reachable the moment it appears (``--port 0``
picks a free port and prints it). SIGINT/SIGTERM stop it gracefully and the process exits 0;
a second Ctrl-C forces the exit. Binding beyond loopback needs an API key: an open account
on the network would let anyone read and write its data; the admin API (``--admin``) then
needs its own key too, since it can make every request fail.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import uvicorn

from assistctl.errors import AccountError
from assistctl.local.api import is_loopback_name
from assistctl.local.app import create_app
from assistctl.local.config import LocalConfig


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly, so asyncio sets TCP_NODELAY on accepted connections.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise AccountError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port (0 picks a free one)",
        ) from None
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def _configure_logging(access_log: bool) -> None:
    """Server messages to stderr; the access log (a line per request) only when asked for."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name, wanted in (("assistctl.local", True), ("assistctl.local.access", access_log)):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO if wanted else logging.WARNING)
        if not logger.handlers:
            logger.addHandler(handler)
        logger.propagate = False


class ForegroundServer(uvicorn.Server):
    """uvicorn re-raises the caught signal after shutting down; a graceful stop here is a
    normal exit, so signals only request the shutdown."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        def stop(signum: int, frame: FrameType | None) -> None:
            if self.should_exit and signum == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(
    host: str,
    port: int,
    data_dir: Path,
    config: LocalConfig,
    *,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve until interrupted. ``announce`` receives the base URL line once listening."""
    loopback = is_loopback_name(host)
    if not loopback and not config.api_key:
        raise AccountError(
            f"refusing to serve the local account on {host} without an API key",
            hint="pass --api-key-env VAR (a variable holding the key clients must send), "
            "or bind to 127.0.0.1",
        )
    if not loopback and config.admin and not config.admin_key:
        raise AccountError(
            f"refusing to serve the admin API on {host} without its own key",
            hint="pass --admin-key-env VAR (a variable holding the admin key), "
            "or leave out --admin",
        )
    app = create_app(config, data_dir, loopback=loopback)
    found = app.account.sandbox.check()
    state = "sandbox" if found.works else "off"
    print(f"code interpreter: {state} ({found.reason})", file=sys.stderr)
    listener = bind(host, port)
    server = ForegroundServer(
        uvicorn.Config(
            app.asgi,
            http="h11",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    app.serve_with(server)
    _configure_logging(config.access_log)
    shown_host = f"[{host}]" if ":" in host else host
    actual_port = listener.getsockname()[1]
    announce(f"http://{shown_host}:{actual_port}/v1")
    try:
        server.run(sockets=[listener])
    finally:
        listener.close()
        app.close()
