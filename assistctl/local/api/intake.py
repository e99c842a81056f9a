"""What a request may carry before any route sees it: the Host and Origin it comes with, its
Content-Type and its size.

A server on loopback trusts its machine, not every web page its browser opens: a page can
POST ``text/plain`` (no CORS preflight) and, through DNS rebinding, reach the port under a
foreign host name. So on loopback the Host must name the loopback, an ``Origin`` (which browsers
send and the SDK does not) must be the server's own, and bodies are JSON only as
``application/json`` (multipart where the API takes files). Sizes are bounded everywhere:
a declared ``Content-Length`` over the limit is a 413 before any byte is read, and a body sent
without one is cut off at the limit.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import Message, Receive

from assistctl.local.api.errors import ApiError

MIB = 1024 * 1024
MAX_JSON_BODY_BYTES = 32 * MIB
MAX_UPLOAD_BYTES = 512 * MIB
MULTIPART_OVERHEAD_BYTES = 1 * MIB
BODY_METHODS = ("POST", "PUT", "PATCH")
JSON_TYPE = "application/json"
MULTIPART_TYPE = "multipart/form-data"


def is_loopback_name(host: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_and_port(authority: str, default_port: int) -> tuple[str, int] | None:
    """``host[:port]`` (IPv6 in brackets) split, or None when it is not an authority."""
    try:
        parts = urlsplit(f"//{authority}")
        return parts.hostname or "", parts.port or default_port
    except ValueError:
        return None


@functools.lru_cache(maxsize=256)
def _is_loopback_authority(host: str) -> bool:
    """Whether a Host header names loopback (remembered: a server sees a handful of them)."""
    address = _host_and_port(host, 80)
    return address is not None and is_loopback_name(address[0])


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def body_limit(content_type: str) -> int:
    """The most bytes a body of this type may have."""
    if _media_type(content_type) == MULTIPART_TYPE:
        return MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES
    return MAX_JSON_BODY_BYTES


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"Request too large: the body exceeds the maximum of {limit} bytes.",
        code="request_too_large",
    )


@dataclass(frozen=True)
class Intake:
    """The checks for one server; ``loopback`` says it listens on loopback only."""

    loopback: bool

    def check(self, method: str, headers: dict[str, str]) -> int:
        """Raise the ApiError a request's headers earn; else the most body bytes it may send."""
        if self.loopback:
            self._check_host(headers.get("host", ""))
            self._check_origin(headers)
        content_type = headers.get("content-type", "")
        limit = body_limit(content_type)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise ApiError(400, f"Invalid Content-Length header: {declared!r}.")
            if int(declared) > limit:
                raise too_large(limit)
        if method in BODY_METHODS:
            has_body = declared is None and "transfer-encoding" in headers
            has_body = has_body or (declared is not None and int(declared) > 0)
            if has_body or content_type:
                self._check_content_type(content_type)
        return limit

    def _check_host(self, host: str) -> None:
        if not _is_loopback_authority(host):
            raise ApiError(
                403,
                f"Invalid Host header {host!r}: this server listens on loopback and answers "
                "only requests addressed to localhost, 127.0.0.1 or [::1].",
                code="invalid_host",
            )

    def _check_origin(self, headers: dict[str, str]) -> None:
        origin = headers.get("origin")
        if origin is None:
            return
        parts = urlsplit(origin)
        default_port = 443 if parts.scheme == "https" else 80
        served = _host_and_port(headers.get("host", ""), 80)
        try:
            claimed = (parts.hostname or "", parts.port or default_port)
        except ValueError:
            claimed = None
        if (
            parts.scheme not in ("http", "https")
            or claimed is None
            or served is None
            or not is_loopback_name(claimed[0])
            or claimed[1] != served[1]
        ):
            raise ApiError(
                403,
                f"Cross-origin request refused (Origin {origin!r}): a web page cannot drive "
                "this account.",
                code="invalid_origin",
            )

    @staticmethod
    def _check_content_type(content_type: str) -> None:
        if _media_type(content_type) not in (JSON_TYPE, MULTIPART_TYPE):
            shown = content_type or "none"
            raise ApiError(
                400,
                f"Invalid Content-Type header ({shown}): request bodies must be "
                f"{JSON_TYPE} (or {MULTIPART_TYPE} where the API takes files).",
            )


def bounded(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises the 413 once more than ``limit`` body bytes have arrived."""
    received = 0

    async def receive_bounded() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(limit)
        return message

    return receive_bounded
