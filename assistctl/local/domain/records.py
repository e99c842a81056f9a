"""The vocabulary of stored records: ids shaped like the API's, and timestamps."""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, separator: str = "_") -> str:
    """An id shaped like the API's (``asst_…``, ``file-…``)."""
    return prefix + separator + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def now() -> int:
    return int(time.time())
