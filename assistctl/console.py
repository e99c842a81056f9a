"""What apply and destroy print: per-resource lines and a progress bar for people, quiet lines
for CI logs, and the ``apply --json`` document.

The executor (``apply.py``) only reports to a ``Reporter``; everything about the console lives
here, so the executor stays the same whether a person, a pipeline or a test is watching.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from assistctl.apply import ApplyResult, Outcome, Reporter


def result_document(stack: str, env: str | None, status: str, **fields: Any) -> dict[str, Any]:
    """The ``apply --json`` document: one envelope for complete, no-changes and failed runs."""
    return {"format_version": 1, "status": status, "stack": stack, "env": env, **fields}


def complete_document(result: ApplyResult) -> dict[str, Any]:
    return result_document(
        result.stack,
        result.env,
        "complete",
        summary=result.counts(),
        seconds=round(result.seconds, 3),
        resources=[o.to_json() for o in result.outcomes],
    )


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
        self.progress: Progress | None = None
        self.overall: TaskID | None = None
        self.indexing_tasks: dict[str, TaskID] = {}
        self.last_indexing_line: dict[str, float] = {}
        if tty and not quiet:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=err, no_color=not color),
                transient=True,
            )

    def echo(self, text: str) -> None:
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
