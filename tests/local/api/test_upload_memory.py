"""An upload is streamed to storage in bounded memory. Measured as the server process's peak
resident size (``VmHWM``, kept by the kernel), so the test counts bytes, not seconds: a
100 MB upload may raise the peak by at most 64 MB (holding the file once would be 100 MB
on its own), on each engine. The 512 MB figure is benchmarks/upload_memory.py's."""

from __future__ import annotations

import signal
import sys

import openai
import pytest

from tests.local.tools import memory_kib, served_subprocess, stream_upload

UPLOAD_BYTES = 100 * 1024 * 1024
MAX_GROWTH_KIB = 64 * 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/status")
def test_a_100_mb_upload_stays_in_bounded_memory(tmp_path, database):
    process, url = served_subprocess(tmp_path / "data", database)
    try:
        client = openai.OpenAI(api_key="k", base_url=url, max_retries=0)
        client.files.list()  # warmed up: every module of the upload path is loaded
        stream_upload(url, 1024)
        before = memory_kib(process.pid, "VmRSS")
        uploaded = stream_upload(url, UPLOAD_BYTES)
        growth = memory_kib(process.pid, "VmHWM") - before
        assert uploaded["bytes"] == UPLOAD_BYTES
        assert growth <= MAX_GROWTH_KIB, f"peak grew by {growth // 1024} MB"
        content = client.files.retrieve(uploaded["id"])
        assert content.bytes == UPLOAD_BYTES
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
