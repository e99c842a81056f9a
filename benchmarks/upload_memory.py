"""Server memory while a large file is uploaded (target: growth <= 64 MB for 512 MB).

Run: python benchmarks/upload_memory.py [--mb 100 512]
(with ASSISTCTL_LOCAL_DATABASE=postgresql://… the servers keep the bytes in PostgreSQL)

Each size runs against a fresh `assistctl local serve` subprocess. The client streams the
multipart body a megabyte at a time (it holds one chunk), so what grows is the server's own
memory: the table shows its resident size before the upload, its peak during it (VmHWM, kept
by the kernel) and the difference, and the upload's wall time.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.local.tools import memory_kib, served_subprocess, stream_upload  # noqa: E402

TARGET_GROWTH_MB = 64


def measure(size_mb: int) -> tuple[float, float, float, float]:
    """(RSS before, peak, growth in MB; seconds) for one upload of ``size_mb`` MB."""
    with tempfile.TemporaryDirectory() as scratch:
        process, url = served_subprocess(Path(scratch) / "data")
        try:
            stream_upload(url, 1024)  # warm-up: the upload path's modules are loaded
            before = memory_kib(process.pid, "VmRSS")
            started = time.perf_counter()
            stream_upload(url, size_mb * 1024 * 1024)
            seconds = time.perf_counter() - started
            peak = memory_kib(process.pid, "VmHWM")
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    return before / 1024, peak / 1024, (peak - before) / 1024, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[100, 512], help="upload sizes")
    args = parser.parse_args()
    print(f"{'upload':>8} {'RSS before':>11} {'peak':>9} {'growth':>9} {'seconds':>8}")
    worst = 0.0
    for size in args.mb:
        before, peak, growth, seconds = measure(size)
        worst = max(worst, growth)
        print(f"{size:>5} MB {before:>8.1f} MB {peak:>6.1f} MB {growth:>6.1f} MB {seconds:>8.1f}")
    verdict = "ok" if worst <= TARGET_GROWTH_MB else "OVER"
    print(f"largest growth {worst:.1f} MB (target <= {TARGET_GROWTH_MB} MB): {verdict}")
    return 0 if worst <= TARGET_GROWTH_MB else 1


if __name__ == "__main__":
    sys.exit(main())
