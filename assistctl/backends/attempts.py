"""What every smoke-test conversation does with its requests, whichever API family it speaks.

Each request is one logical request of the backend (``Caller``: retried, SDK failures
translated), named after the attempt in errors; none starts once the suite is stopped (Ctrl-C),
except the cleanup, which runs however the attempt ended and reports a failure instead of
raising it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import openai

from assistctl.backends.base import Caller
from assistctl.backends.sdk_collections import ignore_missing
from assistctl.conversation import Interrupted
from assistctl.errors import AccountError

T = TypeVar("T")


class AttemptRequests:
    """The request plumbing conversations share: the SDK ``client``, the ``labels`` the attempt
    tags what it makes with, and ``what``, the attempt's name in errors."""

    def __init__(
        self,
        client: openai.OpenAI,
        labels: Mapping[str, str],
        *,
        what: str,
        stop: threading.Event,
        call: Caller,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.labels = dict(labels)
        self.label = what
        self.stop = stop
        self.call = call
        self.clock = clock

    def _request(
        self,
        operation: Callable[[], T],
        what: str,
        *,
        idempotent: bool = True,
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        if self.stop.is_set():
            raise Interrupted()
        return self.call(operation, f"{self.label}: {what}", idempotent=idempotent, recover=recover)

    def _delete(self, operation: Callable[[], object], what: str) -> str | None:
        """A cleanup request (what is gone already counts as deleted); its failure, as text."""
        try:
            self.call(lambda: ignore_missing(operation), f"{self.label}: {what}")
        except AccountError as exc:
            return exc.message
        return None
