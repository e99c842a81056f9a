"""The kernel tests need the kernel's packages; the ``sandbox_available`` fixture they use is
tests/local/conftest.py's."""

from __future__ import annotations

import importlib.util

KERNEL_TESTS = ["test_execution.py", "test_escapes.py", "test_lifecycle.py"]

if importlib.util.find_spec("zmq") is None or importlib.util.find_spec("jupyter_client") is None:
    collect_ignore = KERNEL_TESTS
