"""How long `assistctl --help` takes to start, against a bare interpreter (target: <= 2x).

Run: python benchmarks/startup.py [--runs N]

Every command runs in a fresh subprocess; the table shows the median of N runs. `validate` is
measured too (it must stay network-free and light), on the quickstart example when present.
The `import click` row is the floor: any click CLI pays it before its first line runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0


def median_seconds(command: list[str], runs: int) -> float:
    """Median wall time of ``runs`` fresh processes (one warm-up run first, for the disk cache)."""
    subprocess.run(command, capture_output=True, check=False, cwd=ROOT)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False, cwd=ROOT)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs per command (default 21)")
    args = parser.parse_args()

    python = sys.executable
    entry = [python, "-c", "from assistctl.cli import main; main()"]
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import click' (floor)": [python, "-c", "import click"],
        "assistctl --help": [*entry, "--help"],
        "assistctl --version": [*entry, "--version"],
    }
    quickstart = ROOT / "examples" / "quickstart"
    if quickstart.is_dir():
        commands["assistctl validate examples/quickstart"] = [*entry, "validate", str(quickstart)]

    baseline = None
    rows = []
    for label, command in commands.items():
        seconds = median_seconds(command, args.runs)
        baseline = baseline or seconds
        rows.append((label, seconds, seconds / baseline))

    width = max(len(label) for label, _, _ in rows)
    print(f"{'command':<{width}}  {'median ms':>9}  {'x python':>8}")
    for label, seconds, ratio in rows:
        print(f"{label:<{width}}  {seconds * 1000:>9.1f}  {ratio:>8.2f}")
    help_ratio = rows[2][2]
    verdict = "OK" if help_ratio <= TARGET_RATIO else "OVER TARGET"
    print(
        f"\n--help is {help_ratio:.2f}x a bare interpreter "
        f"(target <= {TARGET_RATIO:.0f}x): {verdict}"
    )
    return 0 if help_ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
