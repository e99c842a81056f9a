"""Verdicts on plain numbers: interval arithmetic, boundaries, the count rule kept for today's
tests, and sequential stopping whose false-verdict rate stays within its documented bound, both
exactly and on a simulated assistant."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from assistctl.smoketest import verdicts
from assistctl.smoketest.verdicts import (
    Rule,
    UnreachablePass,
    Verdict,
    check_reachable,
    clopper_pearson,
    count_rule,
    judge_fixed,
    judge_sequentially,
    minimum_max_attempts,
    operating_characteristic,
    required_passes,
    sequential_rule,
)

BUDGET = (1 - verdicts.DEFAULT_CONFIDENCE) / 2  # the documented bound on each false verdict


# --- intervals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("passes", "attempts", "lower", "upper"),
    [  # R: binom.test(passes, attempts)$conf.int
        (5, 10, 0.1870860, 0.8129140),
        (0, 10, 0.0, 0.3084971),
        (10, 10, 0.6915029, 1.0),
        (2, 3, 0.0942993, 0.9915962),
        (1, 1, 0.025, 1.0),
        (27, 30, 0.7347115, 0.9788829),
    ],
)
def test_clopper_pearson_matches_reference_values(passes, attempts, lower, upper):
    interval = clopper_pearson(passes, attempts)
    assert interval.lower == pytest.approx(lower, abs=1e-6)
    assert interval.upper == pytest.approx(upper, abs=1e-6)
    assert interval.confidence == 0.95


def test_higher_confidence_widens_the_interval():
    narrow, wide = clopper_pearson(8, 10, 0.8), clopper_pearson(8, 10, 0.99)
    assert wide.lower < narrow.lower < 0.8 < narrow.upper < wide.upper


# --- the fixed-N verdict ----------------------------------------------------------------------


def test_verdict_is_the_interval_against_the_threshold():
    thresholds = [round(0.05 * i, 2) for i in range(1, 20)] + [0.67, 0.34]
    for attempts in range(1, 26):
        for passes in range(attempts + 1):
            interval = clopper_pearson(passes, attempts)
            for threshold in thresholds:
                if min(abs(interval.lower - threshold), abs(interval.upper - threshold)) < 1e-9:
                    continue  # a tie is decided by the exact binomial tail, not the rounded bound
                expected = (
                    Verdict.PASS
                    if interval.lower >= threshold
                    else Verdict.FAIL
                    if interval.upper < threshold
                    else Verdict.INCONCLUSIVE
                )
                judgement = judge_fixed(passes, attempts, threshold)
                assert judgement.verdict == expected, (passes, attempts, threshold)
                assert judgement.interval == interval


@pytest.mark.parametrize("attempts", [1, 2, 3, 5, 17, 30])
def test_all_pass_and_all_fail_boundaries(attempts):
    lowest_rate_for_all_passing = BUDGET ** (1 / attempts)
    below, above = lowest_rate_for_all_passing - 1e-9, lowest_rate_for_all_passing + 1e-9
    assert judge_fixed(attempts, attempts, below).verdict == Verdict.PASS
    assert judge_fixed(attempts, attempts, above).verdict == Verdict.INCONCLUSIVE
    highest_rate_for_all_failing = 1 - lowest_rate_for_all_passing
    below, above = highest_rate_for_all_failing - 1e-9, highest_rate_for_all_failing + 1e-9
    assert judge_fixed(0, attempts, above).verdict == Verdict.FAIL
    assert judge_fixed(0, attempts, below).verdict == Verdict.INCONCLUSIVE


def test_tiny_n_decides_only_extreme_thresholds():
    assert judge_fixed(1, 1, 0.02).verdict == Verdict.PASS  # lower bound 0.025
    assert judge_fixed(1, 1, 0.5).verdict == Verdict.INCONCLUSIVE
    assert judge_fixed(0, 1, 0.5).verdict == Verdict.INCONCLUSIVE
    assert judge_fixed(0, 1, 0.98).verdict == Verdict.FAIL  # upper bound 0.975
    assert judge_fixed(3, 3, 0.67).verdict == Verdict.INCONCLUSIVE  # 3/3 proves only ≥ 0.29


def test_threshold_one_requires_every_attempt_and_still_reports_the_interval():
    for attempts in (1, 3, 30):
        all_passed = judge_fixed(attempts, attempts, 1.0)
        assert all_passed.verdict == Verdict.PASS
        assert all_passed.interval.lower < 1.0
        assert judge_fixed(attempts - 1, attempts, 1.0).verdict == Verdict.FAIL


def test_threshold_zero_always_passes():
    assert all(judge_fixed(k, 4, 0.0).verdict == Verdict.PASS for k in range(5))


def test_judgement_rate_and_flakiness():
    assert judge_fixed(7, 10, 0.5).rate == 0.7
    assert judge_fixed(7, 10, 0.5).flaky
    assert not judge_fixed(10, 10, 0.5).flaky
    assert not judge_fixed(0, 10, 0.5).flaky
    assert judge_fixed(0, 10, 0.5).decided and not judge_fixed(5, 10, 0.5).decided


@pytest.mark.parametrize(
    "call",
    [
        lambda: judge_fixed(3, 2, 0.5),
        lambda: judge_fixed(0, 0, 0.5),
        lambda: judge_fixed(1, 2, 1.5),
        lambda: judge_fixed(1, 2, 0.5, confidence=1.0),
        lambda: clopper_pearson(-1, 2),
        lambda: sequential_rule(0.8, 5, 4),
        lambda: sequential_rule(0.8, 3, 30).verdict(1, 31),
        lambda: count_rule(0, 0.5),
        lambda: judge_sequentially(sequential_rule(0.8, 3, 30), []),
    ],
)
def test_nonsense_is_refused(call):
    with pytest.raises(ValueError):
        call()


# --- today's count rule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repeat", "threshold", "required"),
    [(1, 1.0, 1), (3, 0.67, 2), (3, 0.34, 1), (4, 0.5, 2), (10, 0.9, 9), (10, 0.95, 10)],
)
def test_count_rule_keeps_todays_outcomes(repeat, threshold, required):
    assert required_passes(repeat, threshold) == required
    rule = count_rule(repeat, threshold)
    assert [rule.verdict(k, repeat) for k in range(repeat + 1)] == (
        [Verdict.FAIL] * required + [Verdict.PASS] * (repeat + 1 - required)
    )
    assert not any(rule.stops(n, n) for n in range(1, repeat))  # runs every attempt, as today
    assert rule.judge(required, repeat).interval == clopper_pearson(required, repeat)


def test_count_rule_errors_are_what_make_verdicts_flip():
    """Two of three at 0.67 passes an assistant that is exactly at the threshold 3 times in 4."""
    rule = count_rule(3, 0.67)
    assert rule.worst_false_pass == pytest.approx(3 * 0.67**2 * 0.33 + 0.67**3)
    assert rule.worst_false_fail == pytest.approx(1 - rule.worst_false_pass)


def test_count_and_interval_verdicts_agree_at_the_extremes():
    for repeat in range(1, 21):
        for threshold in (0.0, 1.0):
            rule = count_rule(repeat, threshold)
            for passes in range(repeat + 1):
                assert (
                    rule.verdict(passes, repeat) == judge_fixed(passes, repeat, threshold).verdict
                )


# --- sequential rules: exact error rates ------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "min_attempts", "max_attempts"),
    [(0.3, 1, 20), (0.5, 3, 30), (0.67, 3, 30), (0.8, 3, 30), (0.8, 1, 60), (0.9, 3, 60)],
)
def test_false_verdicts_stay_within_the_bound_over_all_looks(threshold, min_attempts, max_attempts):
    rule = sequential_rule(threshold, min_attempts, max_attempts)
    assert rule.pass_reachable
    assert rule.worst_false_pass <= BUDGET
    assert rule.worst_false_fail <= BUDGET
    for rate in (threshold - 0.1, threshold - 0.01):
        assert operating_characteristic(rule, rate).pass_probability <= rule.worst_false_pass
    for rate in (threshold, threshold + 0.01, min(1.0, threshold + 0.1)):
        assert operating_characteristic(rule, rate).fail_probability <= rule.worst_false_fail


def test_exact_probabilities_agree_with_enumerating_every_outcome_sequence():
    rule = sequential_rule(0.6, 2, 10)
    for rate in (0.3, 0.55, 0.6, 0.75):
        totals = dict.fromkeys(Verdict, 0.0)
        attempts = 0.0
        for outcomes in itertools.product((True, False), repeat=rule.max_attempts):
            # Each full sequence weighs what it would; those sharing a stopped prefix add up to it.
            weight = rate ** sum(outcomes) * (1 - rate) ** (len(outcomes) - sum(outcomes))
            judgement = judge_sequentially(rule, outcomes)
            totals[judgement.verdict] += weight
            attempts += weight * judgement.attempts
        exact = operating_characteristic(rule, rate)
        assert exact.pass_probability == pytest.approx(totals[Verdict.PASS])
        assert exact.fail_probability == pytest.approx(totals[Verdict.FAIL])
        assert exact.inconclusive_probability == pytest.approx(totals[Verdict.INCONCLUSIVE])
        assert exact.expected_attempts == pytest.approx(attempts)


def test_plain_repeated_checks_would_break_the_bound():
    """Checking the plain 95% interval after every attempt crosses by luck far too often."""
    threshold, first, last = 0.8, 3, 30
    least, most = [n + 1 for n in range(last + 1)], [-1] * (last + 1)
    for n in range(first, last + 1):
        verdicts_at_n = [judge_fixed(k, n, threshold).verdict for k in range(n + 1)]
        least[n] = next((k for k, v in enumerate(verdicts_at_n) if v == Verdict.PASS), n + 1)
        most[n] = max((k for k, v in enumerate(verdicts_at_n) if v == Verdict.FAIL), default=-1)
    naive = Rule(threshold, 0.95, first, last, BUDGET, BUDGET, tuple(least), tuple(most), 0, 0)
    assert operating_characteristic(naive, threshold).fail_probability > 2 * BUDGET
    calibrated = sequential_rule(threshold, first, last)
    assert calibrated.worst_false_fail <= BUDGET
    assert calibrated.judge(30, 30).interval.confidence > 0.95  # wider, to pay for the looks


@pytest.mark.parametrize(("threshold", "max_attempts"), [(0.5, 30), (0.8, 30), (0.9, 60)])
def test_a_sequential_verdict_is_its_reported_interval_against_the_threshold(
    threshold, max_attempts
):
    """Checked on both sides of each boundary; bounds only grow with the pass count."""
    rule = sequential_rule(threshold, 3, max_attempts)
    for attempts in range(3, max_attempts + 1):
        least, most = rule.least_passes_to_pass[attempts], rule.most_passes_to_fail[attempts]
        for passes in {least - 1, least, most, most + 1} & set(range(attempts + 1)):
            judgement = rule.judge(passes, attempts)
            lower, upper = judgement.interval.lower, judgement.interval.upper
            if min(abs(lower - threshold), abs(upper - threshold)) < 1e-9:
                continue
            assert (judgement.verdict == Verdict.PASS) == (lower >= threshold)
            assert (judgement.verdict == Verdict.FAIL) == (upper < threshold)


def test_a_single_look_is_the_fixed_verdict():
    rule = sequential_rule(0.8, 30, 30)
    assert (rule.pass_tail, rule.fail_tail) == (BUDGET, BUDGET)
    for passes in range(31):
        assert rule.judge(passes, 30) == judge_fixed(passes, 30, 0.8)


# --- sequential rules: stopping ---------------------------------------------------------------


def test_clear_cases_stop_early_and_near_ones_run_to_max():
    rule = sequential_rule(0.8, 3, 30)
    all_pass = judge_sequentially(rule, itertools.repeat(True))
    assert (all_pass.verdict, all_pass.attempts) == (Verdict.PASS, 19)
    assert all_pass.interval.lower >= 0.8
    all_fail = judge_sequentially(rule, itertools.repeat(False))
    assert (all_fail.verdict, all_fail.attempts) == (Verdict.FAIL, 4)
    assert all_fail.interval.upper < 0.8
    at_threshold = judge_sequentially(rule, itertools.cycle([True, True, True, True, False]))
    assert (at_threshold.verdict, at_threshold.attempts) == (Verdict.INCONCLUSIVE, 30)
    assert at_threshold.flaky


def test_no_verdict_before_min_attempts():
    rule = sequential_rule(0.5, 10, 30)
    assert [rule.verdict(0, n) for n in range(1, 10)] == [Verdict.INCONCLUSIVE] * 9
    assert judge_sequentially(rule, itertools.repeat(False)).attempts == 10


def test_sequential_threshold_one_fails_at_the_first_failure_and_passes_only_at_max():
    rule = sequential_rule(1.0, 3, 30)
    assert judge_sequentially(rule, itertools.repeat(True)).attempts == 30
    assert judge_sequentially(rule, itertools.repeat(True)).verdict == Verdict.PASS
    late_failure = judge_sequentially(rule, [True] * 5 + [False] + [True] * 30)
    assert (late_failure.verdict, late_failure.attempts) == (Verdict.FAIL, 6)
    early_failure = judge_sequentially(rule, [False] + [True] * 30)
    assert (early_failure.verdict, early_failure.attempts) == (Verdict.FAIL, 3)  # min first
    assert rule.worst_false_fail == 0.0 and rule.worst_false_pass == 1.0  # a rule, not a claim


def test_outcomes_are_taken_only_until_the_rule_stops():
    taken: list[bool] = []

    def attempts():
        while True:
            taken.append(True)
            yield True

    judgement = judge_sequentially(sequential_rule(0.5, 3, 30), attempts())
    assert judgement.verdict == Verdict.PASS
    assert len(taken) == judgement.attempts < 30


def test_running_out_of_outcomes_leaves_the_test_inconclusive():
    judgement = judge_sequentially(sequential_rule(0.8, 3, 30), [True] * 5)
    assert (judgement.verdict, judgement.attempts) == (Verdict.INCONCLUSIVE, 5)


# --- sequential rules: a simulated assistant --------------------------------------------------


def fake_assistant(pass_rate: float, seed: int):
    """Attempt outcomes of an assistant that passes each conversation with ``pass_rate``."""
    rng = random.Random(seed)
    return iter(lambda: rng.random() < pass_rate, None)


SEEDS = (1, 2, 3)
RUNS_PER_SEED = 1000


@pytest.mark.parametrize(
    ("threshold", "min_attempts", "max_attempts"), [(0.8, 3, 30), (0.9, 3, 60)]
)
@pytest.mark.parametrize(
    ("below_threshold", "false_verdict"), [(0.01, Verdict.PASS), (0.0, Verdict.FAIL)]
)
def test_simulated_false_verdict_rate_stays_within_the_bound(
    threshold, min_attempts, max_attempts, below_threshold, false_verdict
):
    """Just below the threshold only a PASS is false, at it only a FAIL. Each seed's rate is
    within sampling error of the exact one the rule was calibrated with, and all seeds together
    within the bound."""
    rule = sequential_rule(threshold, min_attempts, max_attempts)
    rate = threshold - below_threshold
    exact = operating_characteristic(rule, rate)
    expected = exact.pass_probability if false_verdict == Verdict.PASS else exact.fail_probability
    assert expected <= BUDGET
    wrong = []
    for seed in SEEDS:
        assistant = fake_assistant(rate, seed)
        judgements = [judge_sequentially(rule, assistant) for _ in range(RUNS_PER_SEED)]
        wrong.append(sum(j.verdict == false_verdict for j in judgements))
        spread = math.sqrt(expected * (1 - expected) / RUNS_PER_SEED)
        assert abs(wrong[-1] / RUNS_PER_SEED - expected) <= 4 * spread, (seed, wrong, expected)
    runs = RUNS_PER_SEED * len(SEEDS)
    assert sum(wrong) / runs <= BUDGET + 3 * math.sqrt(BUDGET * (1 - BUDGET) / runs), wrong


# --- reachability -----------------------------------------------------------------------------


def test_max_too_small_to_ever_pass_is_refused_with_the_minimum():
    with pytest.raises(UnreachablePass, match="max ≥ 36"):
        check_reachable(0.9, 30)
    with pytest.raises(UnreachablePass, match="max ≥ 17"):
        check_reachable(0.8, 16)
    check_reachable(0.9, 36)
    check_reachable(0.8, 30)
    check_reachable(1.0, 1)
    check_reachable(0.0, 1)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.67, 0.8, 0.9, 0.95])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_minimum_max_is_what_a_fixed_test_needs_and_what_rules_reach(threshold, confidence):
    needed = minimum_max_attempts(threshold, confidence)
    miss = (1 - confidence) / 2
    assert threshold**needed <= miss < threshold ** (needed - 1)
    for first in (1, 3):
        assert sequential_rule(threshold, first, max(first, needed), confidence).pass_reachable
        if needed - 1 >= first:
            assert not sequential_rule(threshold, first, needed - 1, confidence).pass_reachable
    assert sequential_rule(threshold, 1, needed + 10, confidence).pass_reachable
    check_reachable(threshold, needed, confidence)
