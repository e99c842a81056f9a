"""Fakes for the smoke-test runner: an assistant that passes each conversation with a known,
seeded probability, behind a ``Backend`` whose conversations the runner drives like real ones.

Whether attempt N of a test passes depends only on (seed, test name, N), never on the order
threads finish in, so a parallel run is as reproducible as a serial one; a failing attempt can
be made slower than a passing one (``delay(index, passed)``), to prove that outcomes are judged
in attempt order.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from assistctl.conversation import Interrupted, Reply, StepOutcome, StepRequest
from assistctl.model import NAME_KEY, STACK_KEY, Desired, DesiredSmokeTest, Location
from assistctl.smoketest.runner import TEST_KEY

OWNER = "fake"
ASSISTANT = "bot"
GOOD = "a good answer"
BAD = "a bad answer"


def passes(seed: int | str, test: str, index: int, rate: float) -> bool:
    """Whether attempt ``index`` of ``test`` passes for an assistant of pass rate ``rate``."""
    return random.Random(f"{seed}:{test}:{index}").random() < rate


class FakeConversation:
    def __init__(self, backend: FakeBackend, labels: Mapping[str, str], stop: threading.Event):
        self.backend = backend
        self.label = labels[TEST_KEY]
        self.stop = stop
        self.thread_id: str | None = None

    @property
    def handle(self) -> str | None:
        return self.thread_id

    def open(self) -> None:
        if self.stop.is_set():
            raise Interrupted()
        self.thread_id = self.backend.opened(self.label)

    def step(self, request: StepRequest) -> StepOutcome:
        name, _, index = self.label.rpartition("#")
        passed = self.backend.decide(name, int(index))
        if self.stop.wait(self.backend.delay(int(index), passed)):
            raise Interrupted()
        text = GOOD if passed else BAD
        return StepOutcome(Reply("completed", text, latency_s=0.0), run_id=f"run_{self.label}")

    def close(self) -> str | None:
        if self.thread_id is not None:
            self.backend.closed(self.thread_id)
        return None


class FakeBackend:
    """An account with one deployed assistant whose answers pass at ``rate`` (or as ``decide``
    says). It counts conversations opened and closed, and the most open at once."""

    family = "assistants"

    def __init__(
        self,
        rate: float = 1.0,
        *,
        seed: int | str = 0,
        decide: Callable[[str, int], bool] | None = None,
        delay: Callable[[int, bool], float] = lambda index, passed: 0.0,
    ) -> None:
        self.rate = rate
        self.seed = seed
        self.decider = decide
        self.delay = delay
        self.lock = threading.Lock()
        self.open_threads: set[str] = set()
        self.opened_labels: list[str] = []
        self.most_open = 0

    def decide(self, test: str, index: int) -> bool:
        if self.decider is not None:
            return self.decider(test, index)
        return passes(self.seed, test, index, self.rate)

    def opened(self, label: str) -> str:
        with self.lock:
            thread_id = f"thread_{len(self.opened_labels) + 1}"
            self.opened_labels.append(label)
            self.open_threads.add(thread_id)
            self.most_open = max(self.most_open, len(self.open_threads))
            return thread_id

    def closed(self, thread_id: str) -> None:
        with self.lock:
            self.open_threads.discard(thread_id)

    def attempts_of(self, test: str) -> list[int]:
        return sorted(
            int(label.rpartition("#")[2])
            for label in self.opened_labels
            if label.rpartition("#")[0] == test
        )

    # --- the Backend protocol, as far as the runner uses it ----------------------------------

    def observed(self, on_retry: Callable[[str], None]) -> FakeBackend:
        return self

    def list(self, collection: str, query: Mapping[str, str] | None = None) -> Iterator[Any]:
        if collection == "assistants":
            yield {
                "id": "asst_fake",
                "object": "assistant",
                "created_at": 0,
                "name": "Bot",
                "description": None,
                "model": "gpt-4o-mini",
                "instructions": "",
                "tools": [],
                "tool_resources": {},
                "metadata": {STACK_KEY: OWNER, NAME_KEY: ASSISTANT},
                "temperature": 1.0,
                "top_p": 1.0,
                "response_format": "auto",
            }

    def list_children(self, collection: str, parent_id: str, **_: Any) -> list[Any]:
        return []

    def conversation(
        self, target_id: str, labels: Mapping[str, str], what: str, stop: threading.Event
    ) -> FakeConversation:
        return FakeConversation(self, labels, stop)


DESIRED = Desired(stack=OWNER, env=None, root=Path("."))


def smoke_test(name: str, **spec: Any) -> DesiredSmokeTest:
    """A one-step test that passes when the assistant gives its good answer."""
    full = {
        "assistant": ASSISTANT,
        "steps": [{"user": "How are you?", "expect": [{"contains": GOOD}]}],
        **spec,
    }
    return DesiredSmokeTest(name, ASSISTANT, full, Location(f"tests/{name}.yaml", 1))
