"""A fake model server for graded expectations: chat completions, Responses and embeddings over
real HTTP (``http.server``), as a grader account.

Grading is deterministic by default: a rubric passes when the reply contains every phrase the
criteria put in double quotes (any case). It reads assistctl's prompt (``<criteria>`` /
``<reply>``) and promptfoo's ``llm-rubric`` prompt (``<Rubric>`` / ``<Output>``) alike. With
``pass_probability`` it passes at random instead, from a seeded generator, for tests of flaky
assistants. Embeddings are bags of words hashed into 64 dimensions, so similar texts are near.
``answer`` and ``status`` force a raw answer or an HTTP error; every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIMENSIONS = 64
QUOTED = re.compile(r'"([^"]+)"')


def embedding(text: str) -> list[float]:
    vector = [0.0] * DIMENSIONS
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[digest[0] % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def between(text: str, opening: str, closing: str) -> str | None:
    """The last tagged section: promptfoo's grading prompt shows examples before the real one."""
    found = re.findall(re.escape(opening) + r"\s*(.*?)\s*" + re.escape(closing), text, re.DOTALL)
    return found[-1] if found else None


class FakeModels:
    def __init__(self, *, pass_probability: float | None = None, seed: int = 0) -> None:
        self.pass_probability = pass_probability
        self.random = random.Random(seed)
        self.answer: str | None = None
        self.status: int | None = None
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""

    # --- decisions -------------------------------------------------------------------------

    def grade(self, prompt: str) -> tuple[bool, str]:
        criteria = between(prompt, "<criteria>", "</criteria>") or between(
            prompt, "<Rubric>", "</Rubric>"
        )
        reply = between(prompt, "<reply>", "</reply>")
        if reply is None:
            reply = between(prompt, "<Output>", "</Output>") or ""
        if self.pass_probability is not None:
            with self.lock:
                passed = self.random.random() < self.pass_probability
            return passed, "the coin said so"
        phrases = QUOTED.findall(criteria or "")
        missing = [p for p in phrases if p.lower() not in reply.lower()]
        if missing:
            return False, f'the reply does not mention "{missing[0]}"'
        return True, "the reply mentions " + ", ".join(f'"{p}"' for p in phrases)

    def answer_for(self, body: dict[str, Any], prompt: str) -> str:
        if self.answer is not None:
            return self.answer
        passed, reason = self.grade(prompt)
        if "assistctl_grade" in json.dumps(body):
            return json.dumps({"pass": passed, "reason": reason})
        return json.dumps({"reason": reason, "pass": passed, "score": 1.0 if passed else 0.0})

    # --- HTTP --------------------------------------------------------------------------------

    def handle(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        with self.lock:
            self.requests.append({"path": path, "body": body, "headers": headers})
        if self.status is not None:
            return self.status, {"error": {"message": "the fake says no", "type": "fake"}}
        model = body.get("model", "fake")
        if path.endswith("/chat/completions"):
            prompt = "\n".join(str(m.get("content")) for m in body.get("messages", []))
            content = self.answer_for(body, prompt)
            return 200, {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        if path.endswith("/responses"):
            prompt = f"{body.get('instructions', '')}\n{body.get('input', '')}"
            content = self.answer_for(body, prompt)
            return 200, {
                "id": "resp_fake",
                "object": "response",
                "created_at": 0,
                "status": "completed",
                "model": model,
                "output": [
                    {
                        "type": "message",
                        "id": "msg_fake",
                        "status": "completed",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": content, "annotations": []}],
                    }
                ],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
            }
        if path.endswith("/embeddings"):
            inputs = body.get("input")
            texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
            return 200, {
                "object": "list",
                "model": model,
                "data": [
                    {"object": "embedding", "index": i, "embedding": embedding(t)}
                    for i, t in enumerate(texts)
                ],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        return 404, {"error": {"message": f"no route {path}", "type": "fake"}}

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]


@contextmanager
def serve(models: FakeModels) -> Iterator[FakeModels]:
    """Serve ``models`` on a free loopback port; ``models.url`` is its ``…/v1`` base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            status, payload = models.handle(
                self.path, json.loads(raw or b"{}"), {k.lower(): v for k, v in self.headers.items()}
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    models.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield models
    finally:
        server.shutdown()
        server.server_close()
