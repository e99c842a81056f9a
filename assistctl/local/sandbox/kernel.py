"""The server's end of one kernel: Jupyter messages over ipc sockets, with every wait bounded.

The kernel lives in a network namespace of its own, so TCP on loopback cannot reach it; its
sockets are files in a directory shared with the sandbox. Messages are signed with a key made per
kernel (``jupyter_client``'s ``Session``), so a sandbox cannot speak to another's kernel.

No heartbeat channel: readiness is a ``kernel_info`` answered on the shell channel *and* seen on
iopub (a slow kernel is only slow, and iopub is known to be connected before code runs), and
liveness is the sandbox process itself.

Everything the kernel sends is untrusted (code in the sandbox holds the key too), so the server's
memory and time are bounded whatever arrives: inbound messages over ``MAX_MESSAGE_BYTES`` are
refused by zmq (the connection drops and reconnects), at most ``IOPUB_QUEUE`` of them wait, a
message's content is decoded only when there is still room for it, each poll takes at most
``MAX_BATCH`` messages before the deadline is checked again, and malformed messages are dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from jupyter_client.session import Session

from .bwrap import RUNTIME_DIR
from .launcher import CONNECTION_NAME

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
IOPUB_QUEUE = 16
MAX_IMAGES = 16
MAX_BATCH = 64
POLL_MS = 100
IDLE_GRACE_SECONDS = 1.0
KERNEL_INFO_RETRY_SECONDS = 0.25
RESUBSCRIBE_SECONDS = 10.0
SOCKET_PATH_MAX = 107
PORTS = {"shell": 1, "iopub": 2, "stdin": 3, "control": 4, "hb": 5}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class KernelDied(Exception):
    """The sandbox process ended while we waited for the kernel."""


class KernelStartTimeout(Exception):
    """The kernel did not answer within the start-up time."""


@dataclass(frozen=True)
class Message:
    """One message from the kernel: its type, the request it answers, its encoded content."""

    kind: str
    parent: str
    content: bytes


@dataclass
class CappedLog:
    """The text of one execution, kept up to ``cap`` UTF-8 bytes."""

    cap: int
    parts: list[str] = field(default_factory=list)
    kept: int = 0
    seen: int = 0
    cut: bool = False

    def add(self, text: str) -> None:
        size = len(text.encode("utf-8", "surrogatepass"))
        self.seen += size
        room = self.cap - self.kept
        if room <= 0 or self.cut:
            return
        if size > room:
            text = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
            size = len(text.encode("utf-8", "surrogatepass"))
            self.cut = True
        self.parts.append(text)
        self.kept += size

    @property
    def full(self) -> bool:
        return self.cut or self.kept >= self.cap

    def add_unseen(self, size: int) -> None:
        """Counts text that arrived once the log was full, without decoding it."""
        self.seen += max(size, 1)

    @property
    def truncated(self) -> bool:
        return self.seen > self.kept

    def text(self) -> str:
        joined = "".join(self.parts)
        if self.truncated:
            joined += f"\n[output truncated after {self.kept} bytes]"
        return joined


@dataclass
class Run:
    """What came back from one ``execute_request``."""

    log: CappedLog
    images: list[bytes] = field(default_factory=list)
    images_dropped: int = 0
    reply_status: str | None = None
    idle: bool = False
    timed_out: bool = False
    died: bool = False
    output_lost: bool = False

    @property
    def finished(self) -> bool:
        return self.reply_status is not None and self.idle


class KernelConnection:
    """Sockets and signing key for one kernel, made before the kernel starts; ``owner`` is the
    sandbox uid that must read the connection file."""

    def __init__(
        self, context: zmq.Context[zmq.Socket[bytes]], runtime_dir: Path, owner: int | None
    ) -> None:
        prefix = str(runtime_dir / "kernel")
        if len(f"{prefix}-{max(PORTS.values())}") > SOCKET_PATH_MAX:
            raise ValueError(f"socket path too long for a unix socket: {prefix}")
        key = secrets.token_hex(32)
        self.session = Session(key=key.encode(), signature_scheme="hmac-sha256")
        info = {
            "transport": "ipc",
            "ip": f"{RUNTIME_DIR}/kernel",
            "key": key,
            "signature_scheme": "hmac-sha256",
            "kernel_name": "python3",
            **{f"{name}_port": port for name, port in PORTS.items()},
        }
        self.connection_file = runtime_dir / CONNECTION_NAME
        descriptor = os.open(self.connection_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        if owner is not None:
            os.fchown(descriptor, owner, owner)
        with open(descriptor, "w") as file:
            json.dump(info, file)
        self.shell = self._connect(context, zmq.DEALER, f"{prefix}-{PORTS['shell']}")
        self.context = context
        self.iopub_path = f"{prefix}-{PORTS['iopub']}"
        self.iopub = self._subscribe()
        self.poller = zmq.Poller()
        self.poller.register(self.shell, zmq.POLLIN)
        self.poller.register(self.iopub, zmq.POLLIN)

    def _subscribe(self) -> zmq.Socket[bytes]:
        socket = self._connect(self.context, zmq.SUB, self.iopub_path)
        socket.setsockopt(zmq.SUBSCRIBE, b"")
        return socket

    def _resubscribe(self, alive: Callable[[], bool]) -> bool:
        """A fresh iopub connection, once it carries messages again; False if it does not.

        zmq drops a connection that delivered a message over ``MAX_MESSAGE_BYTES`` and, that
        being a protocol error, never reconnects it: every later output would be lost.
        """
        self.poller.unregister(self.iopub)
        self.iopub.close(linger=0)
        self.iopub = self._subscribe()
        self.poller.register(self.iopub, zmq.POLLIN)
        try:
            self.wait_ready(time.monotonic() + RESUBSCRIBE_SECONDS, alive)
        except (KernelDied, KernelStartTimeout):
            return False
        return True

    @staticmethod
    def _connect(
        context: zmq.Context[zmq.Socket[bytes]], kind: int, path: str
    ) -> zmq.Socket[bytes]:
        socket = context.socket(kind)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        socket.setsockopt(zmq.RCVHWM, IOPUB_QUEUE)
        socket.connect(f"ipc://{path}")
        return socket

    def close(self) -> None:
        for socket in (self.shell, self.iopub):
            socket.close(linger=0)

    def _send(self, kind: str, content: dict[str, Any]) -> str:
        message = self.session.send(self.shell, kind, content)
        assert message is not None
        return str(message["header"]["msg_id"])

    def _receive(self, socket: zmq.Socket[bytes]) -> list[Message]:
        """Up to ``MAX_BATCH`` waiting messages, signature checked, content left encoded."""
        messages: list[Message] = []
        while len(messages) < MAX_BATCH:
            try:
                _, raw = self.session.recv(socket, mode=zmq.NOBLOCK, content=False)
            except Exception:  # whatever a hostile kernel makes of a message: drop it
                continue
            if raw is None:
                break
            parent = raw.get("parent_header")
            messages.append(
                Message(
                    kind=str(raw.get("msg_type")),
                    parent=str(parent.get("msg_id")) if isinstance(parent, dict) else "",
                    content=bytes(raw.get("content") or b"{}"),
                )
            )
        return messages

    def content(self, message: Message) -> dict[str, Any]:
        """A message's content decoded; anything but a JSON object reads as empty."""
        try:
            decoded = self.session.unpack(message.content)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}

    def _poll(self, deadline: float) -> list[tuple[zmq.Socket[bytes], Message]]:
        timeout = max(0, min(POLL_MS, int((deadline - time.monotonic()) * 1000)))
        ready = dict(self.poller.poll(timeout))
        found = []
        for socket in (self.shell, self.iopub):
            if socket in ready:
                found += [(socket, message) for message in self._receive(socket)]
        return found

    def wait_ready(self, deadline: float, alive: Callable[[], bool]) -> None:
        """Returns once the kernel answers ``kernel_info`` and its iopub reaches us."""
        requests = {self._send("kernel_info_request", {})}
        sent_at = time.monotonic()
        answered = False
        while True:
            for socket, message in self._poll(deadline):
                if message.parent not in requests:
                    continue
                if socket is self.shell:
                    answered = True
                else:
                    if answered:
                        return
                    requests.add(self._send("kernel_info_request", {}))
                    sent_at = time.monotonic()
            now = time.monotonic()
            if not alive():
                raise KernelDied
            if now >= deadline:
                raise KernelStartTimeout
            if answered and now - sent_at > KERNEL_INFO_RETRY_SECONDS:
                requests.add(self._send("kernel_info_request", {}))
                sent_at = now

    def execute(
        self, code: str, *, deadline: float, output_bytes: int, alive: Callable[[], bool]
    ) -> Run:
        """Runs ``code`` and gathers its output until the kernel is idle again, the deadline
        passes or the sandbox dies. The caller decides what to do with a kernel left busy."""
        request = self._send(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        run = Run(log=CappedLog(output_bytes))
        replied_at = 0.0
        while not run.finished:
            for socket, message in self._poll(deadline):
                if message.parent != request:
                    continue
                if socket is self.shell:
                    run.reply_status = str(self.content(message).get("status", "error"))
                    replied_at = time.monotonic()
                else:
                    self._take_output(run, message)
            now = time.monotonic()
            if run.finished:
                break
            if run.reply_status is not None and now - replied_at > IDLE_GRACE_SECONDS:
                run.output_lost = True
                run.died = not self._resubscribe(alive)
                break
            if not alive():
                run.died = True
                break
            if now >= deadline:
                run.timed_out = True
                break
        return run

    def _take_output(self, run: Run, message: Message) -> None:
        """Adds one iopub message to the run, in order: text to the log, PNGs to the images.
        Text arriving after the log is full, and images past the limit, are not decoded."""
        if message.kind == "status":
            run.idle = run.idle or self.content(message).get("execution_state") == "idle"
        elif message.kind in ("stream", "error"):
            if run.log.full:
                run.log.add_unseen(len(message.content))
                return
            content = self.content(message)
            if message.kind == "stream":
                run.log.add(str(content.get("text", "")))
            else:
                run.log.add(traceback_text(content))
        elif message.kind in ("execute_result", "display_data"):
            if run.log.full and len(run.images) >= MAX_IMAGES:
                run.log.add_unseen(len(message.content))
                return
            data = self.content(message).get("data")
            data = data if isinstance(data, dict) else {}
            image = data.get("image/png")
            if isinstance(image, str):
                take_image(run, image)
            elif "text/plain" in data:
                run.log.add(str(data["text/plain"]) + "\n")


def traceback_text(content: dict[str, Any]) -> str:
    """An error's traceback as plain text (IPython colours it with ANSI escapes)."""
    lines = content.get("traceback")
    if not isinstance(lines, list) or not lines:
        name, value = content.get("ename"), content.get("evalue")
        if not isinstance(name, str) or not isinstance(value, str):
            return ""
        lines = [f"{name}: {value}"]
    return ANSI_ESCAPE.sub("", "\n".join(str(line) for line in lines)) + "\n"


def take_image(run: Run, encoded: str) -> None:
    if len(run.images) >= MAX_IMAGES:
        run.images_dropped += 1
        return
    try:
        run.images.append(base64.b64decode(encoded, validate=False))
    except (binascii.Error, ValueError):
        run.images_dropped += 1
