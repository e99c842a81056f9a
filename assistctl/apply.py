"""Execute a Plan against the account: the only module that writes to it, and it never diffs.

Apply runs the plan's operations stage by stage (``stages.stages``), each stage's operations at
once on one bounded thread pool, resolving each ``Ref`` to the id the operation before it
produced. Nothing is written that the plan does not list.

Crash safety comes from identity living in the account, not in memory: every create carries its
ownership keys from the first request (metadata, the upload filename, attachment
``attributes``), and every write whose outcome is unknown looks its result up by those keys
(``assistctl.live``) before it is tried again. A run interrupted at any point leaves resources
the next snapshot recognises, so the next plan converges.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from assistctl import live as account
from assistctl.backends.base import ApiObject, Backend
from assistctl.errors import ApplyError, ApplyInterrupted, AssistctlError
from assistctl.kinds import KINDS, Registry
from assistctl.model import (
    PATH_ATTRIBUTE,
    Action,
    Change,
    Desired,
    DesiredFile,
    Live,
    Operation,
    Plan,
    Ref,
    Verb,
)
from assistctl.stages import stages

DEFAULT_CONCURRENCY = 8
INDEXING_TIMEOUT_S = 600.0
RESUME_HINT = (
    "what completed stays done and is recognised by its ownership keys: "
    "fix the cause and run apply again to continue"
)


@dataclass(frozen=True)
class Outcome:
    """One finished change (or the deletion of the upload a replace left behind). ``counted``
    is False for such follow-ups, so the summary counts each change once."""

    address: str
    action: Action
    id: str | None
    seconds: float
    detail: str
    counted: bool = True

    def line(self) -> str:
        where = f" {self.id}" if self.id else ""
        return f"{self.action.symbol} {self.address} … {self.detail}{where} ({self.seconds:.1f}s)"

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "action": self.action.value,
            "id": self.id,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


def count_outcomes(outcomes: tuple[Outcome, ...] | list[Outcome]) -> dict[str, int]:
    counts = {"created": 0, "updated": 0, "replaced": 0, "deleted": 0}
    for outcome in outcomes:
        if outcome.counted and outcome.action is not Action.NO_OP:
            counts[outcome.action.past_tense] += 1
    return counts


@dataclass(frozen=True)
class ApplyResult:
    stack: str
    env: str | None
    outcomes: tuple[Outcome, ...]
    seconds: float

    def counts(self) -> dict[str, int]:
        return count_outcomes(self.outcomes)

    def summary_line(self) -> str:
        counts = self.counts()
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


def execute(
    plan: Plan,
    desired: Desired,
    live: Live,
    backend: Backend,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    reporter: Reporter | None = None,
    indexing_timeout_s: float = INDEXING_TIMEOUT_S,
    kinds: Registry = KINDS,
) -> ApplyResult:
    """Make the account match ``plan``. Raises ApplyError (with ``done``) when a step fails."""
    if concurrency < 1:
        raise ApplyError(f"--concurrency must be at least 1, not {concurrency}")
    _check_plan(plan, desired, live)
    progress = reporter or Reporter()
    run = _Run(
        plan,
        desired,
        backend.observed(progress.note),
        kinds,
        reporter=progress,
        indexing_timeout_s=indexing_timeout_s,
    )
    started = time.monotonic()
    progress.begin(len(plan.pending))
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="assistctl-apply")
    try:
        for stage in stages(plan.operations, kinds.position):
            run.stage(pool, stage)
    except KeyboardInterrupt:
        # Stop waiting for indexing at once; requests under way finish (their results are
        # recognised by their ownership keys next time), nothing new starts.
        run.stopping.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise ApplyInterrupted(
            "interrupted: nothing more was started",
            hint="run apply again to continue: what finished is recognised in the account",
            done=run.done_lines(),
        ) from None
    except BaseException:
        # Ctrl-C or a failed stage: start nothing new; requests under way finish, and what
        # they made is recognised by its ownership keys on the next run.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        progress.end()
    return ApplyResult(plan.stack, plan.env, tuple(run.outcomes), time.monotonic() - started)


def _check_plan(plan: Plan, desired: Desired, live: Live) -> None:
    """Refuse, before any write, a plan that would touch something this stack does not own."""
    if plan.owner != desired.owner or plan.owner != live.owner:
        raise ApplyError(
            f"the plan is for {plan.owner!r} but the manifests are for {desired.owner!r} "
            f"and the snapshot for {live.owner!r}",
            hint="make the plan again with the same --env",
        )
    owned = {(r.kind, r.id) for r in live.resources}
    changes = {c.address: c for c in plan.changes}
    for change in plan.pending:
        if change.id is not None and (change.kind, change.id) not in owned:
            raise ApplyError(
                f"{change.address}: {change.id} is not owned by {plan.owner!r} in the account; "
                "refusing to change it",
                hint="run plan again; adopt existing resources with `assistctl import`",
            )
    for operation in plan.operations:
        if operation.address not in changes:
            raise ApplyError(
                f"{operation.address}: the plan writes it but lists no change for it",
                hint="the plan is damaged: make it again",
            )
        if isinstance(operation.target, str) and operation.target not in {i for _, i in owned}:
            raise ApplyError(
                f"{operation.address}: {operation.target} is not owned by {plan.owner!r} in the "
                "account; refusing to change it",
                hint="run plan again; adopt existing resources with `assistctl import`",
            )


@dataclass
class _Failure:
    address: str
    error: BaseException


class _Run:
    """The state of one apply: the ids operations produced and the changes finished."""

    def __init__(
        self,
        plan: Plan,
        desired: Desired,
        backend: Backend,
        kinds: Registry,
        *,
        reporter: Reporter,
        indexing_timeout_s: float,
    ) -> None:
        self.plan = plan
        self.desired = desired
        self.backend = backend
        self.kinds = kinds
        self.reporter = reporter
        self.indexing_timeout_s = indexing_timeout_s
        self.owner = plan.owner
        self.lock = threading.Lock()
        self.results: dict[str, str] = {}
        self.outcomes: list[Outcome] = []
        self.changes: dict[str, Change] = {c.address: c for c in plan.changes}
        self.remaining: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.produced: dict[str, str] = {}
        self.stopping = threading.Event()
        for operation in plan.operations:
            if operation.verb is not Verb.DELETE:
                self.remaining[operation.address] = self.remaining.get(operation.address, 0) + 1

    # --- stages -------------------------------------------------------------------------

    def stage(self, pool: ThreadPoolExecutor, operations: tuple[Operation, ...]) -> None:
        """Run every operation; when some fail, let the others finish, then raise one error."""
        futures = [(op, pool.submit(self.perform, op)) for op in operations]
        failures: list[_Failure] = []
        for operation, future in futures:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - collected and re-raised as ApplyError
                failures.append(_Failure(operation.address, exc))
        if failures:
            raise self.failed(failures)

    def failed(self, failures: list[_Failure]) -> ApplyError:
        first = failures[0]
        message = str(first.error) if isinstance(first.error, AssistctlError) else repr(first.error)
        if first.address not in message:
            message = f"{first.address}: {message}"
        others = list(dict.fromkeys(f.address for f in failures[1:] if f.address != first.address))
        if others:
            message += f" (also failed: {', '.join(others)})"
        hint = getattr(first.error, "hint", None) or RESUME_HINT
        return ApplyError(message, hint=hint, done=self.done_lines())

    def done_lines(self) -> list[str]:
        """What finished, and the changes begun but not finished (a store made, its files
        not yet attached or indexed)."""
        with self.lock:
            done = [o.line() for o in self.outcomes]
            finished = {o.address for o in self.outcomes}
            partial = [
                (address, produced)
                for address, produced in self.produced.items()
                if address not in finished
            ]
        for address, produced in partial:
            change = self.changes[address]
            done.append(
                f"{change.action.symbol} {address} … {change.action.past_tense} {produced}, "
                "files not yet complete"
            )
        return done

    def perform(self, operation: Operation) -> None:
        with self.lock:
            self.started.setdefault(operation.address, time.monotonic())
        produced = _VERBS[operation.verb](self, operation)
        with self.lock:
            if produced is not None:
                self.results[operation.key] = produced
                self.produced[operation.address] = produced
        self.finished(operation, produced)

    def finished(self, operation: Operation, produced: str | None) -> None:
        """Report a change once its last write is done; a replace's old upload is reported on
        its own when it is deleted."""
        change = self.changes[operation.address]
        with self.lock:
            seconds = time.monotonic() - self.started[operation.address]
            if operation.verb is Verb.DELETE:
                replaced = change.action is Action.REPLACE
                outcome: Outcome | None = Outcome(
                    change.address,
                    Action.DELETE,
                    self.resolve(operation.target),
                    seconds,
                    "deleted old" if replaced else "deleted",
                    counted=not replaced,
                )
            else:
                self.remaining[operation.address] -= 1
                outcome = None
                if self.remaining[operation.address] == 0:
                    detail = "uploaded" if operation.verb is Verb.UPLOAD else None
                    outcome = Outcome(
                        change.address,
                        change.action,
                        self.produced.get(change.address, change.id),
                        seconds,
                        detail or change.action.past_tense,
                    )
            if outcome is not None:
                self.outcomes.append(outcome)
        if outcome is not None:
            self.reporter.finished(outcome)

    def resolve(self, value: Any) -> Any:
        """``Ref``s replaced by the ids their operations produced."""
        if isinstance(value, Ref):
            return self.results[value.key]
        if isinstance(value, Mapping):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve(item) for item in value]
        return value

    def target(self, operation: Operation) -> str:
        target = self.resolve(operation.target)
        if not isinstance(target, str):
            raise ApplyError(f"{operation.address}: {operation.verb} has no target")
        return target

    # --- one method per verb ------------------------------------------------------------

    def upload(self, operation: Operation) -> str:
        body = operation.body
        desired_file = next((f for f in self.desired.files if f.path == body["path"]), None)
        if desired_file is None:
            raise ApplyError(
                f"{operation.address}: the plan uploads {body['path']} but no manifest uses it",
                hint="the plan is stale: run plan again",
            )
        content = _content(operation, desired_file, str(body["sha256"]))
        file_kind = self.kinds.named(operation.address.kind)
        created = self.backend.upload(
            str(body["filename"]),
            content,
            purpose=str(body["purpose"]),
            recover=lambda: account.find_owned(
                self.backend, file_kind, self.owner, str(body["sha256"])
            ),
            what=f"upload {operation.address}",
        )
        return str(created["id"])

    def create(self, operation: Operation) -> str:
        kind = self.kinds.named(operation.address.kind)
        body = self.resolve(operation.body)
        _, name = kind.identify(body)
        replaced = self.changes[operation.address].id

        def recover() -> ApiObject | None:
            return account.find_owned(
                self.backend, kind, self.owner, name or operation.address.name, not_id=replaced
            )

        created = self.backend.create(
            operation.collection, body, recover=recover, what=f"create {operation.address}"
        )
        return str(created["id"])

    def update(self, operation: Operation) -> None:
        self.backend.update(
            operation.collection,
            self.target(operation),
            self.resolve(operation.body),
            what=f"update {operation.address}",
        )

    def attach(self, operation: Operation) -> None:
        parent = self.target(operation)
        entries = self.resolve(operation.body["files"])
        self.backend.attach(
            operation.collection,
            parent,
            entries,
            recover=lambda: account.missing_children(
                self.backend, operation.collection, parent, entries
            ),
            what=f"attach {len(entries)} file(s) to {operation.address}",
        )

    def retag(self, operation: Operation) -> None:
        body = self.resolve(operation.body)
        self.backend.update_child(
            operation.collection,
            self.target(operation),
            body["file_id"],
            {"attributes": body["attributes"]},
            what=f"update attributes of {operation.summary} in {operation.address}",
        )

    def detach(self, operation: Operation) -> None:
        file_id = self.resolve(operation.body["file_id"])
        self.backend.detach(
            operation.collection,
            self.target(operation),
            file_id,
            what=f"detach {file_id} from {operation.address}",
        )

    def delete(self, operation: Operation) -> None:
        target = self.target(operation)
        self.backend.delete(
            operation.collection, target, what=f"delete {operation.address} ({target})"
        )

    def wait(self, operation: Operation) -> None:
        """Poll until none of the files the plan attached is in progress; a failed file fails
        the apply with its path and the API's last_error (the next plan attaches it again)."""
        parent = self.target(operation)
        attached = set(self.resolve(operation.body["file_ids"]))
        deadline = time.monotonic() + self.indexing_timeout_s
        interval = 0.05
        address = operation.address
        while attached:
            waiting = {
                str(child["id"])
                for child in self.backend.list_children(
                    operation.collection,
                    parent,
                    status="in_progress",
                    what=f"index {address}: list files",
                )
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
            if self.stopping.wait(interval):
                raise ApplyError(f"{address}: stopped waiting for indexing")
            interval = min(interval * 1.5, 2.0)
        failed = [
            child
            for child in self.backend.list_children(
                operation.collection, parent, status="failed", what=f"index {address}: list files"
            )
            if str(child["id"]) in attached
        ]
        if failed:
            raise ApplyError(
                f"{address}: indexing failed for " + "; ".join(_describe_failed(c) for c in failed),
                hint="fix or remove the file in the manifest, then run apply again",
            )


def _content(operation: Operation, desired_file: DesiredFile, sha256: str) -> bytes:
    try:
        content = desired_file.source.read_bytes()
    except OSError as exc:
        raise ApplyError(
            f"{operation.address}: cannot read {desired_file.source}: {exc.strerror}"
        ) from exc
    if hashlib.sha256(content).hexdigest() != sha256:
        raise ApplyError(
            f"{operation.address}: {desired_file.source} changed since the plan was made",
            hint="run plan again",
        )
    return content


def _describe_failed(child: Mapping[str, Any]) -> str:
    attributes = child.get("attributes") or {}
    path = attributes.get(PATH_ATTRIBUTE) or child["id"]
    error = child.get("last_error")
    if not error:
        return f"{path} (no error given)"
    return f"{path} ({error.get('code')}: {error.get('message')})"


_VERBS: dict[Verb, Callable[[_Run, Operation], str | None]] = {
    Verb.UPLOAD: _Run.upload,
    Verb.CREATE: _Run.create,
    Verb.UPDATE: _Run.update,
    Verb.ATTACH: _Run.attach,
    Verb.RETAG: _Run.retag,
    Verb.DETACH: _Run.detach,
    Verb.WAIT: _Run.wait,
    Verb.DELETE: _Run.delete,
}
