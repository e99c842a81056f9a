"""Conversations spent to reach a verdict: sequential repeats versus a fixed `repeat: 30`.

Run: python benchmarks/sequential_repeats.py [--runs 5000] [--seed 1] [--confidence 0.95]

A fake assistant passes each conversation independently with a known rate (0.5, 0.8, 0.95, 1.0);
no account is involved, since what is measured is how many conversations a rule asks for. Per
threshold, three rules judge the same seeded outcomes:

- ``sequential``: ``repeat: {min: 3, max: M}``, stopping once the verdict is decided (M = 30 at
  threshold 0.8; 60 at 0.9, which needs at least 36 attempts to ever PASS at 95%);
- ``fixed 30``: the same interval verdict on all of 30 attempts;
- ``count 30``: today's rule, PASS when at least ceil(threshold × 30) of 30 pass (it never says
  INCONCLUSIVE, and misjudges assistants near the threshold freely).

Columns: conversations to the verdict (mean, median, 90th percentile), the exact expected count
from the rule's operating characteristic (a check on the simulation), the share of each
verdict, and how many times fewer conversations than 30 the rule spent on average.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

from assistctl.smoketest.verdicts import (
    Rule,
    Verdict,
    count_rule,
    judge_sequentially,
    minimum_max_attempts,
    operating_characteristic,
    sequential_rule,
)

PASS_RATES = (0.5, 0.8, 0.95, 1.0)
SETUPS = ((0.8, 3, 30), (0.9, 3, 60))  # threshold, sequential min, sequential max
FIXED = 30
COLUMNS = (
    "threshold", "true rate", "rule", "mean", "p50", "p90", "exact mean",
    "PASS", "FAIL", "INCONCLUSIVE", "30 ÷ mean",
)  # fmt: skip


@dataclass(frozen=True)
class Measurement:
    """Conversations one rule spent on simulated tests of one assistant, and its verdicts."""

    spent: tuple[int, ...]  # sorted
    shares: dict[Verdict, float]
    exact_mean: float

    @property
    def mean(self) -> float:
        return sum(self.spent) / len(self.spent)

    def percentile(self, share: float) -> int:
        return self.spent[round(share * (len(self.spent) - 1))]


def measure(rule: Rule, pass_rate: float, runs: int, seed: str) -> Measurement:
    rng = random.Random(seed)
    spent = []
    counts = dict.fromkeys(Verdict, 0)
    for _ in range(runs):
        judgement = judge_sequentially(rule, iter(lambda: rng.random() < pass_rate, None))
        spent.append(judgement.attempts)
        counts[judgement.verdict] += 1
    return Measurement(
        spent=tuple(sorted(spent)),
        shares={verdict: count / runs for verdict, count in counts.items()},
        exact_mean=operating_characteristic(rule, pass_rate).expected_attempts,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5000, help="simulated tests per row")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--confidence", type=float, default=0.95)
    options = parser.parse_args()

    print(f"{options.runs} simulated tests per row, seed {options.seed}, ", end="")
    print(f"confidence {options.confidence:g}\n")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for threshold, first, last in SETUPS:
        rules = {
            f"sequential {first}–{last}": sequential_rule(
                threshold, first, last, options.confidence
            ),
            f"fixed {FIXED}": sequential_rule(threshold, FIXED, FIXED, options.confidence),
            f"count {FIXED}": count_rule(FIXED, threshold, options.confidence),
        }
        for pass_rate in PASS_RATES:
            for name, rule in rules.items():
                # Every rule sees the same outcomes: one seed per threshold and rate.
                seed = f"{options.seed}:{threshold}:{pass_rate}"
                row = measure(rule, pass_rate, options.runs, seed)
                cells = (
                    f"{threshold:g}", f"{pass_rate:g}", name, f"{row.mean:.1f}",
                    str(row.percentile(0.5)), str(row.percentile(0.9)), f"{row.exact_mean:.1f}",
                    *(f"{row.shares[verdict]:.1%}" for verdict in Verdict),
                    f"{FIXED / row.mean:.1f}×",
                )  # fmt: skip
                print("| " + " | ".join(cells) + " |")
    print()
    for threshold, first, last in SETUPS:
        rule = sequential_rule(threshold, first, last, options.confidence)
        bound = (1 - options.confidence) / 2
        fewest = minimum_max_attempts(threshold, options.confidence)
        print(
            f"threshold {threshold:g}: a false PASS or FAIL at most {bound:.1%} each "
            f"(sequential {first}–{last}, exact worst case: PASS {rule.worst_false_pass:.2%}, "
            f"FAIL {rule.worst_false_fail:.2%}); no rule with that bound can PASS in fewer "
            f"than {fewest} attempts"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
