"""Conversations `assistctl test` spends to reach a verdict: sequential repeats versus a fixed
`repeat: 30`, through the real runner.

Run: python benchmarks/smoke_verdicts.py [--tests 400] [--seed 1] [--confidence 0.95]

Each simulated test is one SmokeTest run by ``runner.run_suite`` against a fake assistant that
passes each conversation independently with a known rate (0.5, 0.8, 0.95, 1.0), so what is
measured is the runner itself: how many conversations its verdict counts, and how many it
starts at ``--parallel 4``, cancelled ones included. In a suite the free slots spread over the
tests, so a test rarely has more than one conversation in flight when its verdict arrives; a
test run alone keeps all four busy and may start up to three that are then cancelled.
``benchmarks/sequential_repeats.py`` measures the rules alone, without the runner.

Rules per threshold: ``sequential {min: 3, max: M}`` (M = 30, or 60 at 0.9, which needs 36
attempts to ever PASS at 95%) against today's count rule with ``repeat: 30``, which always runs
30 conversations and judges ``ceil(threshold × 30)`` passes (it never says INCONCLUSIVE).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake assistant lives with the tests

from assistctl.smoketest import runner  # noqa: E402
from assistctl.smoketest.verdicts import Verdict  # noqa: E402
from tests.smoketest.fakes import DESIRED, FakeBackend, smoke_test  # noqa: E402

PASS_RATES = (0.5, 0.8, 0.95, 1.0)
SETUPS = ((0.5, 30), (0.8, 30), (0.9, 60))  # threshold, sequential max
FIXED = 30
PARALLEL = 4
ALONE = 100  # tests run one per suite, for the "started alone" column
COLUMNS = (
    "threshold", "true rate", "rule", "counted", "started in a suite", "started alone",
    "PASS", "FAIL", "INCONCLUSIVE", "30 ÷ started in a suite",
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    counted: float  # mean conversations the verdict counted, per test
    in_suite: float  # mean conversations started per test, the tests run as one suite
    alone: float  # mean conversations started per test, each test run on its own
    shares: dict[Verdict, float]


def measure(spec: dict, rate: float, tests: int, seed: str, confidence: float) -> Row:
    backend = FakeBackend(rate, seed=seed)
    suite = [smoke_test(f"t{n}", **spec) for n in range(tests)]
    result = runner.run_suite(backend, DESIRED, suite, parallel=PARALLEL, confidence=confidence)
    alone = FakeBackend(rate, seed=seed)
    for test in suite[:ALONE]:
        runner.run_suite(alone, DESIRED, [test], parallel=PARALLEL, confidence=confidence)
    return Row(
        counted=sum(len(t.counted) for t in result.tests) / tests,
        in_suite=len(backend.opened_labels) / tests,
        alone=len(alone.opened_labels) / min(tests, ALONE),
        shares={v: sum(t.verdict is v for t in result.tests) / tests for v in Verdict},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=400, help="simulated tests per row")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--confidence", type=float, default=0.95)
    options = parser.parse_args()

    print(f"{options.tests} simulated tests per row (the first {ALONE} also alone), ", end="")
    print(f"--parallel {PARALLEL}, seed {options.seed}, confidence {options.confidence:g}\n")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for threshold, most in SETUPS:
        rules = {
            f"sequential {{3, {most}}}": {
                "repeat": {"min": 3, "max": most},
                "pass_threshold": threshold,
            },
            f"repeat: {FIXED}": {"repeat": FIXED, "pass_threshold": threshold},
        }
        for rate in PASS_RATES:
            for name, spec in rules.items():
                # Every rule meets the same assistants: one seed per threshold and rate.
                seed = f"{options.seed}:{threshold}:{rate}"
                row = measure(spec, rate, options.tests, seed, options.confidence)
                cells = (
                    f"{threshold:g}", f"{rate:g}", name, f"{row.counted:.1f}",
                    f"{row.in_suite:.1f}", f"{row.alone:.1f}",
                    *(f"{row.shares[verdict]:.1%}" for verdict in Verdict),
                    f"{FIXED / row.in_suite:.1f}×",
                )  # fmt: skip
                print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
