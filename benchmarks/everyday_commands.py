"""How fast the everyday commands are, as ratios taken in one run (issue 14, item 26).

Run: python benchmarks/everyday_commands.py [--runs N] [--baseline DIR]

Goals:
- `assistctl --help`                 <= 1.3x `python -c "import click"` (any click CLI pays that)
- `assistctl plan` of the quickstart <= 3x `assistctl validate` of it (embedded local account)
- `assistctl validate` of a 1,000-assistant stack <= 0.6x the same command of an older
  assistctl: --baseline names a checkout of it (``git worktree add /tmp/old fd108c6`` is the
  tree before the redesign); without it the row shows this checkout's time only.

Every command runs as a fresh process. A and B run in turn (A B A B ...) and each ratio is the
median of the pairs' ratios, so a machine whose speed drifts during the run still gives a
meaningful ratio. The generated stack repeats one function tool, as template-built stacks do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"
ENTRY = "from assistctl.cli import main; main()"

ASSISTANT = """apiVersion: assistctl/v1
kind: Assistant
metadata:
  name: bot-{index}
spec:
  model: gpt-4o-mini
  name: Bot {index}
  instructions_file: prompts/support.md
  tools:
    - type: file_search
    - type: function
      function:
        name: get_order
        description: Look up the status of a customer order by its order id.
        parameters_file: tools/get_order.json
  tool_resources:
    file_search:
      vector_stores: [handbook]
  temperature: 0.2
"""


def seconds(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return elapsed


def paired(
    a: list[str], b: list[str], cwd: Path, runs: int, env_a: dict[str, str], env_b: dict[str, str]
) -> tuple[float, float, float]:
    """Median seconds of A, of B, and the median of the pair-by-pair ratios A/B."""
    seconds(a, cwd, env_a)
    seconds(b, cwd, env_b)
    times_a, times_b = [], []
    for _ in range(runs):
        times_a.append(seconds(a, cwd, env_a))
        times_b.append(seconds(b, cwd, env_b))
    ratios = [x / y for x, y in zip(times_a, times_b, strict=True)]
    return statistics.median(times_a), statistics.median(times_b), statistics.median(ratios)


def large_stack(directory: Path, assistants: int) -> Path:
    stack = directory / "large"
    stack.mkdir()
    for part in ("docs", "prompts", "tools"):
        shutil.copytree(QUICKSTART / part, stack / part)
    for part in ("handbook.yaml", "stack.yaml"):
        shutil.copy(QUICKSTART / part, stack / part)
    documents = "---\n".join(ASSISTANT.format(index=index) for index in range(assistants))
    (stack / "bots.yaml").write_text(documents)
    return stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="pairs per row (default 11)")
    parser.add_argument("--assistants", type=int, default=1000, help="size of the large stack")
    parser.add_argument("--baseline", type=Path, help="checkout of an older assistctl")
    args = parser.parse_args()

    python = sys.executable
    entry = [python, "-c", ENTRY]
    here = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    here.pop("ASSISTCTL_ACCOUNT", None)
    rows: list[tuple[str, str, float | None, float | None, float | None, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        quickstart = directory / "quickstart"
        shutil.copytree(QUICKSTART, quickstart, ignore=shutil.ignore_patterns(".assistctl"))

        a, b, ratio = paired(
            [*entry, "--help"], [python, "-c", "import click"], directory, args.runs, here, here
        )
        rows.append(("assistctl --help", "python -c 'import click'", a, b, ratio, 1.3))

        a, b, ratio = paired(
            [*entry, "plan", "."], [*entry, "validate", "."], quickstart, args.runs, here, here
        )
        rows.append(("plan quickstart", "validate quickstart", a, b, ratio, 3.0))

        stack = large_stack(directory, args.assistants)
        label = f"validate {args.assistants} assistants"
        if args.baseline is not None:
            old = dict(here, PYTHONPATH=str(args.baseline.resolve()))
            command = [*entry, "validate", "."]
            a, b, ratio = paired(command, command, stack, max(3, args.runs // 3), here, old)
            rows.append((label, f"the same, {args.baseline}", a, b, ratio, 0.6))
        else:
            alone = statistics.median(
                seconds([*entry, "validate", "."], stack, here) for _ in range(3)
            )
            rows.append((label, "(no --baseline)", alone, None, None, 0.6))

    width_a = max(len(row[0]) for row in rows)
    width_b = max(len(row[1]) for row in rows)
    print(f"{'A':<{width_a}}  {'B':<{width_b}}  {'A ms':>8}  {'B ms':>8}  {'A/B':>5}  goal   ")
    missed = 0
    for label_a, label_b, a_seconds, b_seconds, ratio, goal in rows:
        shown_a = f"{a_seconds * 1000:8.0f}" if a_seconds is not None else f"{'':8}"
        shown_b = f"{b_seconds * 1000:8.0f}" if b_seconds is not None else f"{'-':>8}"
        if ratio is None:
            shown_ratio, verdict = f"{'-':>5}", "not compared"
        else:
            met = ratio <= goal
            missed += not met
            shown_ratio, verdict = f"{ratio:5.2f}", "met" if met else "MISSED"
        print(
            f"{label_a:<{width_a}}  {label_b:<{width_b}}  {shown_a}  {shown_b}  {shown_ratio}  "
            f"<= {goal:<3}  {verdict}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
