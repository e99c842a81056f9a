"""One local account: the services the api calls, over one store, with its own run executor and
one engine shared by runs, responses and the models list, and one code sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from assistctl.local.domain.assistants import Assistants
from assistctl.local.domain.background import DEFAULT_JOB_LEASE_S, Replica
from assistctl.local.domain.code_interpreter import CodeInterpreter
from assistctl.local.domain.conversations import Conversations
from assistctl.local.domain.executor import RunExecutor
from assistctl.local.domain.file_batches import FileBatches
from assistctl.local.domain.files import Files
from assistctl.local.domain.models import Models
from assistctl.local.domain.projects import Projects
from assistctl.local.domain.records import now
from assistctl.local.domain.responses import Responses
from assistctl.local.domain.runs import Runs
from assistctl.local.domain.shared_engine import SharedEngine
from assistctl.local.domain.threads import Threads
from assistctl.local.domain.uploads import Uploads
from assistctl.local.domain.vector_stores import VectorStores
from assistctl.local.engines import Engine
from assistctl.local.sandbox import CodeSandbox
from assistctl.local.storage import Store


class Account:
    """``engine`` builds the run engine on first use; ``indexing_delay_s`` says, when a file is
    attached, how long it stays ``in_progress`` (a live fault setting). ``store`` is open to
    callers in this process (tests read and adjust stored objects through it). ``sandbox`` runs
    the code interpreter's code (the account closes it). ``job_lease_s`` is how long a
    replica's claim on a run or response lasts unless renewed (see ``background.Replica``)."""

    def __init__(
        self,
        store: Store,
        engine: Callable[[], Engine],
        indexing_delay_s: Callable[[], float],
        sandbox: CodeSandbox | None = None,
        file_keys: Mapping[str, str] | None = None,
        job_lease_s: float = DEFAULT_JOB_LEASE_S,
    ) -> None:
        self.store = store
        self.replica = Replica(store, job_lease_s)
        self.projects = Projects(store, file_keys or {})
        shared_engine = SharedEngine(engine)
        self.sandbox = sandbox or CodeSandbox(enabled=False)
        self.files = Files(store)
        self.code = CodeInterpreter(store, self.files, self.sandbox)
        self.uploads = Uploads(store, self.files)
        self.vector_stores = VectorStores(store, self.files, indexing_delay_s)
        self.file_batches = FileBatches(store, self.vector_stores)
        self.assistants = Assistants(store, self.vector_stores)
        self.threads = Threads(store, self.vector_stores, self.code.close)
        self.runs = Runs(
            store,
            self.threads,
            self.vector_stores,
            RunExecutor(store, shared_engine, self.vector_stores.search, self.code, self.replica),
        )
        self.conversations = Conversations(store)
        self.responses = Responses(
            store,
            self.files,
            self.conversations,
            shared_engine,
            self.vector_stores.search,
            self.code,
            self.replica,
        )
        self.replica.start()
        self.models = Models(shared_engine, now())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several operations that stand or fall together (a lookup, a check, a write)."""
        with self.store.transaction():
            yield

    @property
    def reads_inline(self) -> bool:
        """Whether a short read may run on the event loop: it then never waits for a write
        (the database reads beside its writer)."""
        return self.store.reads_beside_writes

    def close(self) -> None:
        self.replica.close()
        self.sandbox.close()
        self.store.close()
