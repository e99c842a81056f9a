"""The local account's app, assembled: storage, the domain with its run engine, and the api
(routes, gate, error handlers) as one Starlette app. Data flows one way: api -> domain ->
storage; the domain's run executor calls the engine through its protocol."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware

from assistctl.errors import AccountError
from assistctl.local.api import (
    EXCEPTION_HANDLERS,
    AdminAccess,
    Connections,
    Faults,
    Gate,
    Intake,
    MatchedRouter,
    RequestStats,
    routes,
)
from assistctl.local.config import LocalConfig
from assistctl.local.domain import Account, InvalidRequest
from assistctl.local.engines import (
    ChatEngine,
    DelayedEngine,
    DeterministicEngine,
    Engine,
    ResponsesEngine,
)
from assistctl.local.keys import load_keys
from assistctl.local.sandbox import CodeSandbox, Limits
from assistctl.local.storage import Store, StoreUnavailable

DATABASE_NAME = "account.sqlite3"


@dataclass(frozen=True)
class LocalApp:
    """One account served over HTTP: the ASGI app, the account, and the connections a
    ``drop`` fault cuts (known once a server runs the app)."""

    asgi: Starlette
    account: Account
    connections: Connections

    def serve_with(self, server: uvicorn.Server) -> None:
        self.connections.attach(server)

    def close(self) -> None:
        self.account.close()


def engine_for(config: LocalConfig) -> Engine:
    """The engine ``LocalConfig.engine`` names (the configuration was checked when built)."""
    if config.engine == "chat" and config.chat_base_url:
        return ChatEngine(config.chat_base_url, config.chat_model_map, key(config.chat_api_key_env))
    if config.engine == "responses" and config.backend_base_url:
        return ResponsesEngine(
            config.backend_base_url, config.backend_model_map, key(config.backend_api_key_env)
        )
    return DeterministicEngine()


def slowed(engine: Engine, delay_s: float) -> Engine:
    """``engine``, answering ``delay_s`` later (``ASSISTCTL_LOCAL_ENGINE_DELAY``)."""
    return DelayedEngine(engine, delay_s) if delay_s else engine


def sandbox_for(config: LocalConfig, data_dir: Path | None) -> CodeSandbox:
    """The code interpreter's sandbox (checked on first use); ``--code-interpreter sandbox``
    where no sandbox works is an error now, not at the first run."""
    private = [data_dir.resolve()] if data_dir is not None else []
    limits = Limits(wall_seconds=config.code_seconds)
    sandbox = CodeSandbox(config.code_interpreter != "off", private, limits)
    if config.code_interpreter == "sandbox" and not sandbox.works:
        raise AccountError(
            f"--code-interpreter sandbox: no sandbox works here: {sandbox.check().reason}",
            hint="install bubblewrap (the 'code' extra) or pass --code-interpreter off",
        )
    return sandbox


def key(variable: str | None) -> str | None:
    """A backend's key, from the variable the configuration names (unset: no key)."""
    return os.environ.get(variable) if variable else None


def database_location(config: LocalConfig, data_dir: Path | None) -> Path | str | None:
    """Where the account's records live: the PostgreSQL database the configuration names,
    else SQLite under ``data_dir`` (None: in memory)."""
    if config.database:
        return config.database
    return data_dir / DATABASE_NAME if data_dir is not None else None


def create_app(config: LocalConfig, data_dir: Path | None, *, loopback: bool = True) -> LocalApp:
    """An app serving one account from ``data_dir`` (None: in memory); ``loopback`` says the
    server listens on loopback only (Host and Origin are then checked)."""
    file_keys = load_keys(config.keys_file) if config.keys_file else None
    sandbox = sandbox_for(config, data_dir)
    try:
        store = Store(database_location(config, data_dir))
    except StoreUnavailable as exc:
        where = "PostgreSQL" if config.database else data_dir
        raise AccountError(f"cannot open the local account in {where}: {exc}") from None
    try:
        faults = Faults(
            {
                "latency_ms": config.latency_ms,
                "rate_limit_per_s": config.rate_limit_per_s,
                "fail_rate": config.fail_rate,
                "seed": config.seed,
                "indexing_delay_s": config.indexing_delay_s,
            }
        )
    except InvalidRequest as exc:
        store.close()
        raise AccountError(f"invalid local account setting: {exc.message}") from None
    account = Account(
        store,
        lambda: slowed(engine_for(config), config.engine_delay_s),
        lambda: faults.indexing_delay_s,
        sandbox,
        file_keys=file_keys,
        job_lease_s=config.job_lease_s,
    )
    stats = RequestStats()
    connections = Connections()
    served = routes(without_assistants_api=config.without_assistants_api)
    asgi = Starlette(
        routes=served,
        middleware=[
            Middleware(
                Gate,
                routes=served,
                api_key=config.api_key,
                stats=stats,
                faults=faults,
                connections=connections,
                intake=Intake(loopback),
                admin=AdminAccess(config.admin, config.admin_key),
                projects=account.projects if file_keys is not None else None,
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    asgi.router = MatchedRouter(routes=served)  # before the first request builds the stack
    asgi.state.account = account
    asgi.state.faults = faults
    asgi.state.stats = stats
    asgi.state.projects_on = file_keys is not None
    return LocalApp(asgi, account, connections)
