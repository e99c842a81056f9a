"""Execute a Plan against the account: the only module that writes to it.

Phases run in dependency order: uploads, vector stores (create/update, attach, wait for
indexing), assistants, then deletes in reverse (assistants, vector stores, uploads no managed
resource references any more). Inside a phase independent resources run concurrently on one
bounded thread pool, so nothing waits on a nested pool.

Crash safety comes from identity living in the account, not in memory: every create carries its
ownership keys from the first request (metadata for assistants and vector stores, the upload
filename for files, ``attributes`` for vector-store files), and every create whose outcome is
unknown looks the resource up by those keys before it is tried again. A run interrupted at any
point leaves resources the next snapshot recognises, so the next plan converges.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from assistctl import retry
from assistctl.errors import ApplyError, AssistctlError
from assistctl.model import (
    NAME_KEY,
    PATH_ATTRIBUTE,
    SHA256_ATTRIBUTE,
    STACK_KEY,
    Action,
    Change,
    Desired,
    DesiredAssistant,
    DesiredFile,
    DesiredVectorStore,
    Kind,
    Live,
    LiveAssistant,
    LiveVectorStore,
    LiveVectorStoreFile,
    Plan,
    ownership,
    parse_upload_filename,
    upload_filename,
)
from assistctl.render import SYMBOLS

T = TypeVar("T")

DEFAULT_CONCURRENCY = 8
INDEXING_TIMEOUT_S = 600.0
LIST_LIMIT = 100
MAX_METADATA_KEYS = 16
FILES_PER_BATCH = 2000  # the API's limit for one file batch

PAST_TENSE = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.REPLACE: "replaced",
    Action.DELETE: "deleted",
}
RESUME_HINT = (
    "what completed stays done and is recognised by its ownership keys: "
    "fix the cause and run apply again to continue"
)


@dataclass(frozen=True)
class Outcome:
    """One finished piece of work. ``counted`` is False for follow-ups of a change already
    counted (the old resource of a replace), so the summary counts each change once."""

    address: str
    action: Action
    id: str | None
    seconds: float
    detail: str
    counted: bool = True

    def line(self) -> str:
        where = f" {self.id}" if self.id else ""
        return f"{SYMBOLS[self.action]} {self.address} … {self.detail}{where} ({self.seconds:.1f}s)"

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "action": self.action.value,
            "id": self.id,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ApplyResult:
    stack: str
    env: str | None
    outcomes: tuple[Outcome, ...]
    seconds: float

    def counts(self) -> dict[str, int]:
        return count_outcomes(self.outcomes)

    def summary_line(self) -> str:
        return summary_line(self.counts())

    def to_json(self) -> dict[str, Any]:
        return result_document(
            self.stack,
            self.env,
            "complete",
            summary=self.counts(),
            seconds=round(self.seconds, 3),
            resources=[o.to_json() for o in self.outcomes],
        )


def result_document(stack: str, env: str | None, status: str, **fields: Any) -> dict[str, Any]:
    """The ``apply --json`` document: one envelope for complete, no-changes and failed runs."""
    return {"format_version": 1, "status": status, "stack": stack, "env": env, **fields}


def count_outcomes(outcomes: Iterable[Outcome]) -> dict[str, int]:
    counts = {PAST_TENSE[a]: 0 for a in PAST_TENSE}
    for outcome in outcomes:
        if outcome.counted and outcome.action in PAST_TENSE:
            counts[PAST_TENSE[outcome.action]] += 1
    return counts


def summary_line(counts: Mapping[str, int]) -> str:
    return (
        f"Apply complete: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['replaced']} replaced, {counts['deleted']} deleted."
    )


class Reporter:
    """Receives progress from worker threads. The default reports nothing; the CLI subclasses it."""

    def begin(self, total: int) -> None:
        """``total`` changes are about to run."""

    def finished(self, outcome: Outcome) -> None:
        """A resource is done."""

    def note(self, text: str) -> None:
        """A transient status line: a retry, an indexing poll."""

    def indexing(self, address: str, completed: int, total: int) -> None:
        """Indexing progress for one vector store."""

    def end(self) -> None:
        """The run is over (successfully or not)."""


@dataclass
class _Failure:
    address: str
    error: Exception


@dataclass
class _StoreWork:
    """What phase 2 does to one vector store."""

    change: Change
    desired: DesiredVectorStore
    live: LiveVectorStore | None
    store_id: str | None = None
    started: float = 0.0
    attached: set[str] = field(default_factory=set)


Job = tuple[str, Callable[[], Any]]


@dataclass(frozen=True)
class _FileJobs:
    """One store's attachment work, in the order it runs: ``clear`` detaches uploads that are
    attached again (a store holds an upload once), ``attach`` sends the batches and re-tags moved
    files, ``detach`` then removes what is no longer wanted."""

    clear: list[Job]
    attach: list[Job]
    detach: list[Job]


def execute(
    plan: Plan,
    desired: Desired,
    live: Live,
    client: Any,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    reporter: Reporter | None = None,
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
    indexing_timeout_s: float = INDEXING_TIMEOUT_S,
    files_per_batch: int = FILES_PER_BATCH,
) -> ApplyResult:
    """Make the account match ``plan``. Raises ApplyError (with ``done``) when a step fails."""
    if concurrency < 1:
        raise ApplyError(f"--concurrency must be at least 1, not {concurrency}")
    if files_per_batch < 1:
        raise ApplyError(f"files_per_batch must be at least 1, not {files_per_batch}")
    _check_plan(plan, desired, live)
    run = _Run(
        plan,
        desired,
        live,
        client,
        concurrency=concurrency,
        reporter=reporter or Reporter(),
        policy=policy,
        indexing_timeout_s=indexing_timeout_s,
        files_per_batch=files_per_batch,
    )
    return run.execute()


def _check_plan(plan: Plan, desired: Desired, live: Live) -> None:
    """Refuse, before any write, a plan that would touch something this stack does not own."""
    if plan.owner != desired.owner or plan.owner != live.owner:
        raise ApplyError(
            f"the plan is for {plan.owner!r} but the manifests are for {desired.owner!r} "
            f"and the snapshot for {live.owner!r}",
            hint="make the plan again with the same --env",
        )
    owned = {
        Kind.ASSISTANT: {a.id for a in live.assistants if a.owner == plan.owner},
        Kind.VECTOR_STORE: {v.id for v in live.vector_stores if v.owner == plan.owner},
        Kind.FILE: {u.id for u in live.uploads if u.owner == plan.owner},
    }
    for change in plan.pending:
        if change.id is not None and change.id not in owned[change.kind]:
            raise ApplyError(
                f"{change.address}: {change.id} is not owned by {plan.owner!r} in the account; "
                "refusing to change it",
                hint="run plan again; adopt existing resources with `assistctl import`",
            )
        if change.kind is Kind.FILE and change.action is Action.DELETE and change.id is None:
            raise ApplyError(f"{change.address}: the plan does not say which upload to delete")


class _Run:
    """The state of one apply: ids learnt so far and what has been done."""

    def __init__(
        self,
        plan: Plan,
        desired: Desired,
        live: Live,
        client: Any,
        *,
        concurrency: int,
        reporter: Reporter,
        policy: retry.RetryPolicy,
        indexing_timeout_s: float,
        files_per_batch: int,
    ) -> None:
        self.plan = plan
        self.desired = desired
        self.live = live
        self.client = client
        self.concurrency = concurrency
        self.reporter = reporter
        self.policy = policy
        self.indexing_timeout_s = indexing_timeout_s
        self.files_per_batch = files_per_batch
        self.owner = plan.owner
        self.lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self.uploads_by_sha = _preferred_uploads(live)
        self.store_ids: dict[str, str] = {
            v.name: v.id for v in live.vector_stores if v.owner == self.owner
        }
        self.live_assistants = {a.name: a for a in live.assistants if a.owner == self.owner}
        self.live_stores = {v.name: v for v in live.vector_stores if v.owner == self.owner}
        self.desired_stores = {v.name: v for v in desired.vector_stores}
        self.desired_assistants = {a.name: a for a in desired.assistants}
        self.desired_files = {f.path: f for f in desired.files}

    # --- plumbing -----------------------------------------------------------------------

    def call(
        self,
        operation: Callable[[], T],
        what: str,
        *,
        recover: Callable[[], T | None] | None = None,
        idempotent: bool = True,
    ) -> T:
        return retry.call(
            operation,
            what=what,
            recover=recover,
            idempotent=idempotent,
            policy=self.policy,
            on_retry=lambda text, _delay: self.reporter.note(text),
        )

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)
        self.reporter.finished(outcome)

    def run_parallel(self, pool: ThreadPoolExecutor, jobs: list[Job]) -> None:
        """Run every job; when some fail, let the others finish, then raise one ApplyError."""
        futures = [(address, pool.submit(job)) for address, job in jobs]
        failures: list[_Failure] = []
        for address, future in futures:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - collected and re-raised as ApplyError
                failures.append(_Failure(address, exc))
        if failures:
            raise self.failed(failures)

    def failed(self, failures: list[_Failure]) -> ApplyError:
        first = failures[0]
        message = str(first.error) if isinstance(first.error, AssistctlError) else repr(first.error)
        if first.address not in message:
            message = f"{first.address}: {message}"
        if len(failures) > 1:
            others = ", ".join(f.address for f in failures[1:])
            message += f" (also failed: {others})"
        with self.lock:
            done = [o.line() for o in self.outcomes]
        hint = getattr(first.error, "hint", None) or RESUME_HINT
        return ApplyError(message, hint=hint, done=done)

    def remove(self, delete: Callable[[], Any], what: str) -> None:
        """Delete something that may already be gone: a retried delete whose first try committed
        answers 404, and that is success."""
        import openai

        def operation() -> None:
            with contextlib.suppress(openai.NotFoundError):
                delete()

        self.call(operation, what)

    def list_all(self, pages: Callable[[], Iterable[Any]], what: str) -> list[Any]:
        return self.call(lambda: list(pages()), what)

    # --- the run ------------------------------------------------------------------------

    def execute(self) -> ApplyResult:
        started = time.monotonic()
        pending = self.plan.pending
        self.reporter.begin(len(pending))
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            self.upload_phase(pool, pending)
            self.vector_store_phase(pool, pending)
            self.assistant_phase(pool, pending)
            self.delete_phase(pool, pending)
        except BaseException:
            # Ctrl-C or a failed phase: start nothing new; requests under way finish, and what
            # they made is recognised by its ownership keys on the next run.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
            self.reporter.end()
        return ApplyResult(
            stack=self.plan.stack,
            env=self.plan.env,
            outcomes=tuple(self.outcomes),
            seconds=time.monotonic() - started,
        )

    # --- phase 1: uploads ---------------------------------------------------------------

    def upload_phase(self, pool: ThreadPoolExecutor, pending: tuple[Change, ...]) -> None:
        """Upload each file change's content once per sha256; content already uploaded by this
        stack (a crashed run, or two paths with the same bytes) is reused, never re-uploaded."""
        file_changes = [
            c
            for c in pending
            if c.kind is Kind.FILE and c.action in (Action.CREATE, Action.REPLACE)
        ]
        needed: dict[str, DesiredFile] = {}
        addresses: dict[str, list[Change]] = {}
        for change in file_changes:
            desired_file = self.desired_files.get(change.name)
            if desired_file is None:
                raise ApplyError(
                    f"{change.address}: the plan uploads {change.name} but no manifest uses it",
                    hint="the plan is stale: run plan again",
                )
            needed.setdefault(desired_file.sha256, desired_file)
            addresses.setdefault(desired_file.sha256, []).append(change)
        for desired_file in self.files_needed_by(pending):
            needed.setdefault(desired_file.sha256, desired_file)

        def upload(desired_file: DesiredFile) -> None:
            begun = time.monotonic()
            upload_id = self.uploads_by_sha.get(desired_file.sha256)
            detail = "already uploaded as"
            if upload_id is None:
                upload_id = self.upload(desired_file)
                detail = "uploaded"
            with self.lock:
                self.uploads_by_sha[desired_file.sha256] = upload_id
            for change in addresses.get(desired_file.sha256, []):
                self.record(
                    Outcome(
                        change.address,
                        change.action,
                        upload_id,
                        time.monotonic() - begun,
                        detail,
                    )
                )

        jobs = [
            (f"file.{f.path}", _bind(upload, f))
            for f in sorted(needed.values(), key=lambda f: f.path)
        ]
        self.run_parallel(pool, jobs)

    def files_needed_by(self, pending: tuple[Change, ...]) -> list[DesiredFile]:
        """Files that stores or assistants being written use: the plan names new content as file
        changes, but a crash between an upload and its deletion must not leave a store without."""
        files: list[DesiredFile] = []
        for change in pending:
            if change.action is Action.DELETE:
                continue
            if change.kind is Kind.VECTOR_STORE and change.name in self.desired_stores:
                files.extend(self.desired_stores[change.name].files)
            if change.kind is Kind.ASSISTANT and change.name in self.desired_assistants:
                files.extend(self.desired_assistants[change.name].code_interpreter_files)
        return [f for f in files if f.sha256 not in self.uploads_by_sha]

    def upload(self, desired_file: DesiredFile) -> str:
        address = f"file.{desired_file.path}"
        try:
            content = desired_file.source.read_bytes()
        except OSError as exc:
            raise ApplyError(
                f"{address}: cannot read {desired_file.source}: {exc.strerror}"
            ) from exc
        if hashlib.sha256(content).hexdigest() != desired_file.sha256:
            raise ApplyError(
                f"{address}: {desired_file.source} changed since the plan was made",
                hint="run plan again",
            )
        filename = upload_filename(self.owner, desired_file.sha256, desired_file.basename)

        def recover():
            for item in self.list_all(
                lambda: self.client.files.list(purpose="assistants", limit=LIST_LIMIT),
                "list uploaded files",
            ):
                parsed = parse_upload_filename(item.filename or "")
                if parsed and parsed[0] == self.owner and parsed[1] == desired_file.sha256:
                    return item
            return None

        created = self.call(
            lambda: self.client.files.create(file=(filename, content), purpose="assistants"),
            f"upload {address}",
            recover=recover,
            idempotent=False,
        )
        return created.id

    # --- phase 2: vector stores ---------------------------------------------------------

    def vector_store_phase(self, pool: ThreadPoolExecutor, pending: tuple[Change, ...]) -> None:
        """Create or update stores, then attach/detach their files (one flat set of jobs across
        every store), then wait until each store has indexed what was attached."""
        works: list[_StoreWork] = []
        for change in pending:
            if change.kind is not Kind.VECTOR_STORE or change.action is Action.DELETE:
                continue
            desired_store = self.desired_stores.get(change.name)
            if desired_store is None:
                raise ApplyError(
                    f"{change.address}: the plan writes it but no manifest declares it",
                    hint="the plan is stale: run plan again",
                )
            existing = self.live_stores.get(change.name) if change.action is Action.UPDATE else None
            works.append(_StoreWork(change, desired_store, existing))
        if not works:
            return
        try:
            self.run_parallel(pool, [(w.change.address, _bind(self.write_store, w)) for w in works])
            with self.lock:
                for work in works:
                    self.store_ids[work.desired.name] = work.store_id
            file_jobs = [self.attachment_jobs(work) for work in works]
            self.run_parallel(pool, [job for jobs in file_jobs for job in jobs.clear])
            self.run_parallel(pool, [job for jobs in file_jobs for job in jobs.attach])
            self.run_parallel(pool, [job for jobs in file_jobs for job in jobs.detach])
            self.run_parallel(
                pool, [(w.change.address, _bind(self.wait_for_indexing, w)) for w in works]
            )
        except ApplyError as error:
            finished = {o.address for o in self.outcomes}
            error.done.extend(
                f"{SYMBOLS[w.change.action]} {w.change.address} … {PAST_TENSE[w.change.action]} "
                f"{w.store_id}, files not yet complete"
                for w in works
                if w.store_id is not None and w.change.address not in finished
            )
            raise

    def store_metadata(self, desired_store: DesiredVectorStore) -> dict[str, str]:
        user = dict(desired_store.view.get("metadata") or {})
        return {**user, STACK_KEY: self.owner, NAME_KEY: desired_store.name}

    def write_store(self, work: _StoreWork) -> None:
        work.started = time.monotonic()
        view = work.desired.view
        metadata = self.store_metadata(work.desired)
        if work.live is not None:
            store_id = work.live.id
            store_fields = {"name", "metadata", "expires_after"}
            if not work.change.fields or store_fields & set(work.change.fields):
                self.call(
                    lambda: self.client.vector_stores.update(
                        store_id,
                        name=view.get("name"),
                        metadata=metadata,
                        expires_after=view.get("expires_after"),
                    ),
                    f"update {work.change.address}",
                )
            work.store_id = store_id
            return
        old_id = work.change.id if work.change.action is Action.REPLACE else None
        arguments: dict[str, Any] = {"name": view.get("name"), "metadata": metadata}
        if view.get("expires_after"):
            arguments["expires_after"] = view["expires_after"]

        def recover():
            for store in self.list_all(
                lambda: self.client.vector_stores.list(limit=LIST_LIMIT), "list vector stores"
            ):
                if store.id != old_id and _owned_by(store.metadata, self.owner, work.desired.name):
                    return store
            return None

        created = self.call(
            lambda: self.client.vector_stores.create(**arguments),
            f"create {work.change.address}",
            recover=recover,
            idempotent=False,
        )
        work.store_id = created.id

    def attachment_jobs(self, work: _StoreWork) -> _FileJobs:
        """Compare the store's attachments with the desired (path, sha256) pairs.

        Kept: an attachment whose attributes already say the desired pair. Moved: the same
        upload under a new path (or without attributes, e.g. after import) gets its attributes
        updated, one request each. Everything else desired is attached in file batches of at
        most ``files_per_batch``; everything else attached is detached after the attaches, so a
        store never lacks content it had while it changes.
        """
        desired_pairs = {(f.path, f.sha256): f for f in work.desired.files}
        live_files = list(work.live.files) if work.live is not None else []
        reattach_all = "chunking_strategy" in work.change.fields
        chunking = work.desired.view.get("chunking_strategy")
        kept: set[tuple[str, str]] = set()
        unmatched: list[LiveVectorStoreFile] = []
        for live_file in live_files:
            pair = (
                live_file.attributes.get(PATH_ATTRIBUTE),
                live_file.attributes.get(SHA256_ATTRIBUTE),
            )
            if pair in desired_pairs and pair not in kept and live_file.status != "failed":
                if reattach_all:
                    unmatched.append(live_file)
                else:
                    kept.add(pair)
            else:
                unmatched.append(live_file)
        clear: list[Job] = []
        attach: list[Job] = []
        entries: list[dict[str, Any]] = []
        by_file_id = {f.file_id: f for f in unmatched}
        address = work.change.address
        for pair, desired_file in sorted(desired_pairs.items()):
            if pair in kept:
                continue
            upload_id = self.uploads_by_sha.get(desired_file.sha256)
            if upload_id is None:
                raise ApplyError(
                    f"{address}: {desired_file.path} has not been uploaded",
                    hint="the plan is stale or was made with --target: run plan again",
                )
            attributes = {SHA256_ATTRIBUTE: desired_file.sha256, PATH_ATTRIBUTE: desired_file.path}
            present = by_file_id.pop(upload_id, None)
            label = f"{address} {desired_file.path}"
            if present is not None and present.status != "failed" and not reattach_all:
                attach.append((label, _bind(self.retag, work, upload_id, attributes)))
                continue
            if present is not None:
                clear.append((label, _bind(self.detach, work, upload_id)))
            entry: dict[str, Any] = {"file_id": upload_id, "attributes": attributes}
            if chunking:
                entry["chunking_strategy"] = chunking
            entries.append(entry)
        for start in range(0, len(entries), self.files_per_batch):
            batch = entries[start : start + self.files_per_batch]
            attach.append((address, _bind(self.attach_batch, work, batch)))
        detach = [
            (
                f"{address} {live_file.attributes.get(PATH_ATTRIBUTE) or live_file.file_id}",
                _bind(self.detach, work, live_file.file_id),
            )
            for live_file in by_file_id.values()
        ]
        return _FileJobs(clear, attach, detach)

    def attach_batch(self, work: _StoreWork, entries: list[dict[str, Any]]) -> None:
        """Attach ``entries`` with one file-batch create. A create whose outcome is unknown (5xx,
        dropped connection) may have attached some or all of them, so before it is sent again
        the store's files are listed and only the entries not attached with their attributes
        are sent: nothing is attached twice."""
        what = f"attach {len(entries)} file(s) to {work.change.address}"
        remaining = list(entries)

        def operation() -> bool:
            self.client.vector_stores.file_batches.create(work.store_id, files=remaining)
            return True

        def recover() -> bool | None:
            listed = {item.id: item.attributes for item in self.store_files(work.store_id, what)}
            remaining[:] = [e for e in remaining if listed.get(e["file_id"]) != e["attributes"]]
            return None if remaining else True

        self.call(operation, what, recover=recover, idempotent=False)
        with self.lock:
            work.attached.update(entry["file_id"] for entry in entries)

    def retag(self, work: _StoreWork, upload_id: str, attributes: dict[str, str]) -> None:
        self.call(
            lambda: self.client.vector_stores.files.update(
                upload_id, vector_store_id=work.store_id, attributes=attributes
            ),
            f"update attributes of {attributes[PATH_ATTRIBUTE]} in {work.change.address}",
        )

    def detach(self, work: _StoreWork, file_id: str) -> None:
        self.remove(
            lambda: self.client.vector_stores.files.delete(file_id, vector_store_id=work.store_id),
            f"detach {file_id} from {work.change.address}",
        )

    def store_files(self, store_id: str, what: str, status: str | None = None) -> list[Any]:
        only = {"filter": status} if status is not None else {}
        return self.list_all(
            lambda: self.client.vector_stores.files.list(store_id, limit=LIST_LIMIT, **only),
            f"{what}: list files",
        )

    def wait_for_indexing(self, work: _StoreWork) -> None:
        """Poll until none of the files this run attached is in progress; a failed file fails
        the apply with its path and the API's last_error, and is detached so the next plan
        shows it again instead of hiding it."""
        address = work.change.address
        attached = set(work.attached)
        deadline = time.monotonic() + self.indexing_timeout_s
        interval = 0.05
        while attached:
            waiting = {
                f.id for f in self.store_files(work.store_id, f"index {address}", "in_progress")
            }
            waiting &= attached
            self.reporter.indexing(address, len(attached) - len(waiting), len(attached))
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise ApplyError(
                    f"{address}: {len(waiting)} file(s) still indexing after "
                    f"{self.indexing_timeout_s:.0f}s",
                    hint="run apply again later; indexing goes on in the account",
                )
            time.sleep(interval)
            interval = min(interval * 1.5, 2.0)
        if attached:
            failed = [
                f
                for f in self.store_files(work.store_id, f"index {address}", "failed")
                if f.id in attached
            ]
            if failed:
                for item in failed:
                    self.detach(work, item.id)
                raise ApplyError(
                    f"{address}: indexing failed for "
                    + "; ".join(_describe_failed(item) for item in failed),
                    hint="fix or remove the file in the manifest, then run apply again",
                )
        self.record(
            Outcome(
                address,
                work.change.action,
                work.store_id,
                time.monotonic() - work.started,
                PAST_TENSE[work.change.action],
            )
        )

    # --- phase 3: assistants ------------------------------------------------------------

    def assistant_phase(self, pool: ThreadPoolExecutor, pending: tuple[Change, ...]) -> None:
        writes = [c for c in pending if c.kind is Kind.ASSISTANT and c.action is not Action.DELETE]
        written = {c.name for c in writes}
        jobs = [(c.address, _bind(self.write_assistant, c)) for c in writes]
        for name, assistant in sorted(self.desired_assistants.items()):
            if name in written or name not in self.live_assistants:
                continue
            resources = self.resolve_tool_resources(assistant, strict=False)
            live_data = self.live_assistants[name].data
            if resources is not None and _resource_ids(resources) != _resource_ids(
                live_data.get("tool_resources") or {}
            ):
                jobs.append((f"assistant.{name}", _bind(self.repoint_assistant, name, resources)))
        self.run_parallel(pool, jobs)

    def assistant_body(self, assistant: DesiredAssistant, *, for_update: bool) -> dict[str, Any]:
        view = assistant.view
        body: dict[str, Any] = {}
        for key in ("model", "name", "description", "instructions"):
            if view.get(key) is not None or (for_update and key in view and key != "model"):
                body[key] = view.get(key)
        for key in ("tools", "temperature", "top_p", "response_format", "reasoning_effort"):
            if view.get(key) is not None:
                body[key] = view[key]
        if "tools" not in body and for_update:
            body["tools"] = []
        user = dict(view.get("metadata") or {})
        body["metadata"] = {**user, STACK_KEY: self.owner, NAME_KEY: assistant.name}
        resources = self.resolve_tool_resources(assistant, strict=True)
        if for_update:
            live = self.live_assistants.get(assistant.name)
            live_resources = (live.data.get("tool_resources") or {}) if live else {}
            for key, empty in (
                ("file_search", {"vector_store_ids": []}),
                ("code_interpreter", {"file_ids": []}),
            ):
                if key not in resources and live_resources.get(key):
                    resources[key] = empty
        if resources:
            body["tool_resources"] = resources
        return body

    def resolve_tool_resources(
        self, assistant: DesiredAssistant, *, strict: bool
    ) -> dict[str, Any] | None:
        """Logical names and manifest paths → API ids. With ``strict`` False an unresolvable
        reference gives None (the caller leaves that assistant alone)."""
        view_resources = assistant.view.get("tool_resources") or {}
        resolved: dict[str, Any] = {}
        store_names = (view_resources.get("file_search") or {}).get("vector_stores") or []
        if store_names:
            ids = []
            for name in store_names:
                store_id = self.store_ids.get(name)
                if store_id is None:
                    if not strict:
                        return None
                    raise ApplyError(
                        f"assistant.{assistant.name}: vector store {name!r} does not exist yet",
                        hint=f"apply it too (drop --target, or add --target vector_store/{name})",
                    )
                ids.append(store_id)
            resolved["file_search"] = {"vector_store_ids": ids}
        files = assistant.code_interpreter_files
        if files:
            ids = []
            for desired_file in files:
                upload_id = self.uploads_by_sha.get(desired_file.sha256)
                if upload_id is None:
                    if not strict:
                        return None
                    raise ApplyError(
                        f"assistant.{assistant.name}: {desired_file.path} has not been uploaded",
                        hint="the plan is stale or was made with --target: run plan again",
                    )
                ids.append(upload_id)
            resolved["code_interpreter"] = {"file_ids": ids}
        return resolved

    def write_assistant(self, change: Change) -> None:
        begun = time.monotonic()
        assistant = self.desired_assistants.get(change.name)
        if assistant is None:
            raise ApplyError(
                f"{change.address}: the plan writes it but no manifest declares it",
                hint="the plan is stale: run plan again",
            )
        if change.action is Action.UPDATE:
            live = self.live_assistants.get(change.name)
            assistant_id = change.id or (live.id if live else None)
            if assistant_id is None:
                raise ApplyError(f"{change.address}: not found in the account; run plan again")
            body = self.assistant_body(assistant, for_update=True)
            self.call(
                lambda: self.client.beta.assistants.update(assistant_id, **body),
                f"update {change.address}",
            )
        else:
            old_id = change.id if change.action is Action.REPLACE else None
            body = self.assistant_body(assistant, for_update=False)

            def recover():
                for item in self.list_all(
                    lambda: self.client.beta.assistants.list(limit=LIST_LIMIT),
                    "list assistants",
                ):
                    if item.id != old_id and _owned_by(item.metadata, self.owner, change.name):
                        return item
                return None

            created = self.call(
                lambda: self.client.beta.assistants.create(**body),
                f"create {change.address}",
                recover=recover,
                idempotent=False,
            )
            assistant_id = created.id
        self.record(
            Outcome(
                change.address,
                change.action,
                assistant_id,
                time.monotonic() - begun,
                PAST_TENSE[change.action],
            )
        )

    def repoint_assistant(self, name: str, resources: dict[str, Any]) -> None:
        """An assistant the plan leaves alone still has to follow a store or file that was
        replaced under it (its view names them logically, so the plan sees no change)."""
        begun = time.monotonic()
        assistant_id = self.live_assistants[name].id
        self.call(
            lambda: self.client.beta.assistants.update(assistant_id, tool_resources=resources),
            f"update assistant.{name}",
        )
        self.record(
            Outcome(
                f"assistant.{name}",
                Action.UPDATE,
                assistant_id,
                time.monotonic() - begun,
                "updated references of",
            )
        )

    # --- phase 4: deletes ---------------------------------------------------------------

    def delete_phase(self, pool: ThreadPoolExecutor, pending: tuple[Change, ...]) -> None:
        """Assistants, then vector stores, then uploads that nothing managed uses any more."""
        for kind in (Kind.ASSISTANT, Kind.VECTOR_STORE):
            jobs = []
            for change in pending:
                if change.kind is not kind or change.action not in (Action.DELETE, Action.REPLACE):
                    continue
                resource_id = change.id
                if resource_id is None and change.action is Action.DELETE:
                    resource_id = self.live_id(kind, change.name)
                if resource_id is None:
                    continue
                jobs.append((change.address, _bind(self.delete, change, kind, resource_id)))
            self.run_parallel(pool, jobs)
        referenced = self.referenced_uploads(pending)
        jobs = []
        for change in pending:
            if change.kind is not Kind.FILE or change.action not in (
                Action.DELETE,
                Action.REPLACE,
            ):
                continue
            upload_id = change.id or self.old_upload_id(change)
            if upload_id is None:
                continue
            if upload_id in referenced:
                if change.action is Action.DELETE:
                    self.record(
                        Outcome(change.address, change.action, upload_id, 0.0, "kept, still used:")
                    )
                continue
            jobs.append((change.address, _bind(self.delete, change, Kind.FILE, upload_id)))
        self.run_parallel(pool, jobs)

    def live_id(self, kind: Kind, name: str) -> str | None:
        if kind is Kind.ASSISTANT:
            found = self.live_assistants.get(name)
        else:
            found = self.live_stores.get(name)
        return found.id if found else None

    def old_upload_id(self, change: Change) -> str | None:
        before = change.before or {}
        sha = before.get("sha256")
        for upload in self.live.uploads:
            if upload.owner == self.owner and upload.sha256 == sha:
                return upload.id
        return None

    def referenced_uploads(self, pending: tuple[Change, ...]) -> set[str]:
        """Uploads that must survive: every desired file's content, and whatever a managed
        resource this run did not rewrite or delete still points at."""
        touched = {c.address for c in pending if c.action is not Action.NO_OP}
        referenced = {
            self.uploads_by_sha[f.sha256]
            for f in self.desired.files
            if f.sha256 in self.uploads_by_sha
        }
        return referenced | _used_uploads(
            (s for s in self.live_stores.values() if f"vector_store.{s.name}" not in touched),
            (a for a in self.live_assistants.values() if f"assistant.{a.name}" not in touched),
        )

    def delete(self, change: Change, kind: Kind, resource_id: str) -> None:
        begun = time.monotonic()
        resources = {
            Kind.ASSISTANT: self.client.beta.assistants,
            Kind.VECTOR_STORE: self.client.vector_stores,
            Kind.FILE: self.client.files,
        }
        self.remove(
            lambda: resources[kind].delete(resource_id), f"delete {change.address} ({resource_id})"
        )
        replaced = change.action is Action.REPLACE
        self.record(
            Outcome(
                change.address,
                Action.DELETE if replaced else change.action,
                resource_id,
                time.monotonic() - begun,
                "deleted old" if replaced else "deleted",
                counted=not replaced,
            )
        )


def _preferred_uploads(live: Live) -> dict[str, str]:
    """sha256 → upload id. Where a crash left two uploads of one content, the one already in use
    wins (as in the planner), so nothing is re-pointed needlessly."""
    in_use = _used_uploads(
        (v for v in live.vector_stores if v.owner == live.owner),
        (a for a in live.assistants if a.owner == live.owner),
    )
    preferred: dict[str, str] = {}
    owned = (u for u in live.uploads if u.owner == live.owner)
    for upload in sorted(owned, key=lambda u: (u.id not in in_use, u.id)):
        preferred.setdefault(upload.sha256, upload.id)
    return preferred


def _used_uploads(
    stores: Iterable[LiveVectorStore], assistants: Iterable[LiveAssistant]
) -> set[str]:
    """Upload ids the stores hold and the assistants' code interpreter uses."""
    used = {f.file_id for store in stores for f in store.files}
    for assistant in assistants:
        used.update(_resource_ids(assistant.data.get("tool_resources") or {})[1])
    return used


def _owned_by(metadata: Mapping[str, Any] | None, owner: str, name: str) -> bool:
    return ownership(metadata) == (owner, name)


def _resource_ids(resources: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    file_search = resources.get("file_search") or {}
    code_interpreter = resources.get("code_interpreter") or {}
    return (
        tuple(sorted(file_search.get("vector_store_ids") or [])),
        tuple(sorted(code_interpreter.get("file_ids") or [])),
    )


def _describe_failed(item: Any) -> str:
    attributes = getattr(item, "attributes", None) or {}
    path = attributes.get(PATH_ATTRIBUTE) or item.id
    error = getattr(item, "last_error", None)
    if error is None:
        return f"{path} (no error given)"
    return f"{path} ({error.code}: {error.message})"


def _bind(function: Callable[..., T], *arguments: Any) -> Callable[[], T]:
    return lambda: function(*arguments)


class ConsoleReporter(Reporter):
    """Per-resource lines for people and CI logs; on a TTY a rich progress bar under them.

    Lines go to ``err`` (stderr) or stdout as the caller chooses; in CI (no TTY) indexing
    progress is printed at most every few seconds, so logs stay short.
    """

    def __init__(
        self, *, err: bool = False, tty: bool = False, quiet: bool = False, color: bool = True
    ) -> None:
        self.err = err
        self.quiet = quiet
        self.lock = threading.Lock()
        self.progress = None
        self.overall = None
        self.indexing_tasks: dict[str, Any] = {}
        self.last_indexing_line: dict[str, float] = {}
        if tty and not quiet:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=err, no_color=not color),
                transient=True,
            )

    def echo(self, text: str) -> None:
        import click

        with self.lock:
            if self.progress is not None:
                self.progress.console.print(text, markup=False, highlight=False)
            else:
                click.echo(text, err=self.err)

    def begin(self, total: int) -> None:
        if self.progress is not None and total:
            self.progress.start()
            self.overall = self.progress.add_task("Applying", total=total)

    def finished(self, outcome: Outcome) -> None:
        self.echo(outcome.line())
        if self.progress is not None and self.overall is not None and outcome.counted:
            self.progress.advance(self.overall)

    def note(self, text: str) -> None:
        if not self.quiet:
            self.echo(f"  {text}")

    def indexing(self, address: str, completed: int, total: int) -> None:
        if self.progress is not None:
            with self.lock:
                task = self.indexing_tasks.get(address)
                if task is None:
                    task = self.progress.add_task(f"Indexing {address}", total=total)
                    self.indexing_tasks[address] = task
                self.progress.update(task, completed=completed, total=total)
            return
        now = time.monotonic()
        last = self.last_indexing_line.get(address)
        if self.quiet or (completed < total and last is not None and now - last < 5.0):
            return
        if completed == total and last is None:
            return
        self.last_indexing_line[address] = now
        self.echo(f"  indexing {address}: {completed}/{total} files")

    def end(self) -> None:
        if self.progress is not None:
            self.progress.stop()


# --- import ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What ``adopt`` did: the resource now owned, and its vector-store files by outcome."""

    address: str
    id: str
    already_owned: bool = False
    tagged_files: tuple[str, ...] = ()
    unverified_files: tuple[str, ...] = ()


def adopt(
    client: Any,
    desired: Desired,
    live: Live,
    kind: Kind,
    name: str,
    resource_id: str,
    *,
    policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
) -> ImportResult:
    """Write the ownership keys into an existing assistant or vector store (keeping its user
    metadata), after checking that nothing else claims it or the name.

    A vector store's files are tagged with ``assistctl_sha256``/``assistctl_path`` only when
    their content is known: uploads that assistctl made (the sha256 is in the filename) and that
    match a manifest file of this store. The API does not let anyone download an ``assistants``
    upload, so other files cannot be verified; the next apply attaches verified uploads of the
    manifest files and detaches those.
    """
    address = f"{kind.value}.{name}"
    owner = desired.owner
    if kind is Kind.ASSISTANT:
        declared = {a.name for a in desired.assistants}
        owned = {a.name: a.id for a in live.assistants if a.owner == owner}
    elif kind is Kind.VECTOR_STORE:
        declared = {v.name for v in desired.vector_stores}
        owned = {v.name: v.id for v in live.vector_stores if v.owner == owner}
    else:
        raise ApplyError(
            "only assistants and vector stores can be imported",
            hint="uploads are recognised by content: apply uploads what the manifests need",
        )
    if name not in declared:
        known = ", ".join(sorted(declared)) or "none"
        raise ApplyError(
            f"{address} is not in the manifests (declared {kind.manifest_kind}s: {known})",
            hint="declare it in a manifest first, then import it",
        )
    if name in owned and owned[name] != resource_id:
        raise ApplyError(
            f"{address} is already managed by this stack as {owned[name]}",
            hint="remove that one first (or import this one under another name)",
        )

    def call(operation: Callable[[], T], what: str) -> T:
        return retry.call(operation, what=what, policy=policy)

    resources = client.beta.assistants if kind is Kind.ASSISTANT else client.vector_stores
    resource = call(lambda: resources.retrieve(resource_id), f"read {resource_id}")
    metadata = dict(resource.metadata or {})
    current_owner = metadata.get(STACK_KEY)
    if current_owner and current_owner != owner:
        raise ApplyError(
            f"{resource_id} belongs to stack {current_owner!r} "
            f"(as {metadata.get(NAME_KEY)!r}), not {owner!r}; refusing to take it over",
            hint="remove it from the other stack's manifests (or import it there)",
        )
    if current_owner == owner and metadata.get(NAME_KEY) not in (None, name):
        raise ApplyError(
            f"{resource_id} is already managed by this stack as "
            f"{kind.value}.{metadata.get(NAME_KEY)}"
        )
    already = current_owner == owner and metadata.get(NAME_KEY) == name
    user_keys = [k for k in metadata if k not in (STACK_KEY, NAME_KEY)]
    excess = len(user_keys) + 2 - MAX_METADATA_KEYS
    if excess > 0:
        raise ApplyError(
            f"{resource_id} has {len(user_keys)} metadata keys: the two ownership keys would "
            f"exceed the API's limit of {MAX_METADATA_KEYS}",
            hint=f"remove at least {excess} metadata key(s) from it (and the manifest), "
            "then import",
        )
    if not already:
        metadata.update({STACK_KEY: owner, NAME_KEY: name})
        call(lambda: resources.update(resource_id, metadata=metadata), f"import {address}")
    tagged: list[str] = []
    unverified: list[str] = []
    if kind is Kind.VECTOR_STORE:
        store = next(v for v in desired.vector_stores if v.name == name)
        tagged, unverified = _tag_store_files(client, store, owner, resource_id, call)
    return ImportResult(address, resource_id, already, tuple(tagged), tuple(unverified))


def _tag_store_files(client, store: DesiredVectorStore, owner: str, store_id: str, call):
    paths_by_sha: dict[str, list[str]] = {}
    for desired_file in store.files:
        paths_by_sha.setdefault(desired_file.sha256, []).append(desired_file.path)
    attached = call(
        lambda: list(client.vector_stores.files.list(store_id, limit=LIST_LIMIT)),
        f"list the files of {store_id}",
    )
    tagged: list[str] = []
    unverified: list[str] = []
    for item in attached:
        attributes = dict(item.attributes or {})
        if attributes.get(SHA256_ATTRIBUTE) and attributes.get(PATH_ATTRIBUTE):
            continue
        upload = call(lambda item=item: client.files.retrieve(item.id), f"read {item.id}")
        parsed = parse_upload_filename(upload.filename or "")
        paths = paths_by_sha.get(parsed[1], []) if parsed and parsed[0] == owner else []
        if not paths:
            unverified.append(upload.filename or item.id)
            continue
        path = sorted(paths)[0]
        paths_by_sha[parsed[1]].remove(path)
        attributes.update({SHA256_ATTRIBUTE: parsed[1], PATH_ATTRIBUTE: path})
        call(
            lambda item=item, attributes=attributes: client.vector_stores.files.update(
                item.id, vector_store_id=store_id, attributes=attributes
            ),
            f"tag {path} in {store_id}",
        )
        tagged.append(path)
    return tagged, unverified
