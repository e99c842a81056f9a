"""Verdicts through the runner: repeats against a fake assistant whose pass probability is known
and seeded, so the conversations spent, the attempts cancelled and the share of false verdicts
can be counted exactly."""

from __future__ import annotations

import math

import pytest

from assistctl.errors import AccountError, SmokeTestError
from assistctl.smoketest import runner
from assistctl.smoketest.repeats import Repeat
from assistctl.smoketest.verdicts import (
    Verdict,
    judge_sequentially,
    operating_characteristic,
    sequential_rule,
)
from tests.smoketest.fakes import DESIRED, FakeBackend, passes, smoke_test

SEQUENTIAL = {"repeat": {"min": 3, "max": 30}, "pass_threshold": 0.8}


def run(backend, *tests, **options):
    return runner.run_suite(backend, DESIRED, tests, **options)


def test_a_clearly_good_assistant_passes_after_the_fewest_attempts_that_prove_it():
    backend = FakeBackend(1.0)
    result = run(backend, smoke_test("good", **SEQUENTIAL), parallel=1)
    (test,) = result.tests
    assert (test.verdict, test.passes, len(test.counted)) == (Verdict.PASS, 19, 19)
    assert backend.attempts_of("good") == list(range(1, 20))  # not one conversation more
    assert test.stopped_early and not test.flaky
    assert test.judgement.interval.lower >= 0.8
    assert result.exit_code == 0


def test_a_clearly_broken_assistant_fails_after_four_attempts():
    backend = FakeBackend(0.0)
    result = run(backend, smoke_test("broken", **SEQUENTIAL), parallel=1)
    (test,) = result.tests
    assert (test.verdict, test.passes, len(test.counted)) == (Verdict.FAIL, 0, 4)
    assert backend.attempts_of("broken") == [1, 2, 3, 4]
    assert test.judgement.interval.upper < 0.8
    assert result.exit_code == 2


def test_an_assistant_near_the_threshold_is_inconclusive_and_flaky():
    backend = FakeBackend(decide=lambda test, index: index % 4 != 0)  # 0.75, every 4th fails
    result = run(backend, smoke_test("near", **SEQUENTIAL), parallel=3)
    (test,) = result.tests
    assert test.verdict is Verdict.INCONCLUSIVE and test.outcome == "inconclusive"
    assert (test.passes, len(test.counted)) == (23, 30)
    assert test.flaky and not test.stopped_early
    assert test.judgement.interval.lower < 0.8 <= test.judgement.interval.upper
    assert result.exit_code == 2
    allowed = run(backend, smoke_test("near", **SEQUENTIAL), allow_inconclusive=True)
    assert allowed.exit_code == 0 and allowed.tests[0].outcome == "inconclusive"


def test_threshold_one_keeps_every_attempt_must_pass():
    backend = FakeBackend(decide=lambda test, index: index != 4)
    spec = {"repeat": {"min": 1, "max": 10}, "pass_threshold": 1.0}
    result = run(backend, smoke_test("strict", **spec), parallel=1)
    (test,) = result.tests
    assert (test.verdict, len(test.counted)) == (Verdict.FAIL, 4)  # at the first failure
    assert backend.attempts_of("strict") == [1, 2, 3, 4]
    always = run(FakeBackend(1.0), smoke_test("strict", **spec), parallel=1).tests[0]
    assert (always.verdict, len(always.counted)) == (Verdict.PASS, 10)  # all of max


def test_the_default_is_one_attempt_that_must_pass():
    good = run(FakeBackend(1.0), smoke_test("once")).tests[0]
    bad = run(FakeBackend(0.0), smoke_test("once")).tests[0]
    assert (good.verdict, good.outcome, len(good.attempts)) == (Verdict.PASS, "passed", 1)
    assert (bad.verdict, bad.outcome, len(bad.attempts)) == (Verdict.FAIL, "failed", 1)
    assert not good.repeat.repeated


def test_a_whole_number_repeat_keeps_the_count_rule_and_its_cost():
    backend = FakeBackend(decide=lambda test, index: index != 2)
    result = run(backend, smoke_test("count", repeat=3, pass_threshold=0.67), parallel=2)
    (test,) = result.tests
    assert (test.outcome, test.passes, test.required, len(test.counted)) == ("passed", 2, 2, 3)
    assert backend.attempts_of("count") == [1, 2, 3]
    assert test.flaky and test.judgement.interval.confidence == pytest.approx(0.95)
    assert test.judgement.rate == pytest.approx(2 / 3)


def test_outcomes_are_judged_in_attempt_order_whatever_order_they_finish_in():
    """Failing attempts take longer, so they finish last; the verdict must still be the rule
    applied to attempts 1, 2, 3… in order, exactly as if they had run one by one."""
    tests = [smoke_test(f"t{n}", **SEQUENTIAL) for n in range(12)]
    rates = {f"t{n}": 0.55 + 0.04 * n for n in range(12)}
    backend = FakeBackend(
        decide=lambda test, index: passes(7, test, index, rates[test]),
        delay=lambda index, passed: 0.0 if passed else 0.004,
    )
    result = run(backend, *tests, parallel=6)
    rule = sequential_rule(0.8, 3, 30)
    for test in result.tests:
        outcomes = (passes(7, test.name, index, rates[test.name]) for index in range(1, 31))
        expected = judge_sequentially(rule, outcomes)
        assert (test.verdict, test.passes, len(test.counted)) == (
            expected.verdict,
            expected.passes,
            expected.attempts,
        ), test.name
        assert [a.index for a in test.counted] == list(range(1, expected.attempts + 1))


def test_attempts_in_flight_are_cancelled_once_decided_and_never_beyond_max():
    """Attempts past the verdict (18 and on) would take 30 s each: they must be cancelled as
    soon as attempt 17 decides, their conversations closed, and none launched past max."""
    backend = FakeBackend(1.0, delay=lambda index, passed: 30.0 if index > 17 else 0.01)
    spec = {"repeat": {"min": 3, "max": 20}, "pass_threshold": 0.8}
    result = run(backend, smoke_test("good", **spec), parallel=4)
    (test,) = result.tests
    assert (test.verdict, len(test.counted)) == (Verdict.PASS, 17)
    started = backend.attempts_of("good")
    # Up to three run ahead of the verdict (fewer when it lands before their slots refill, as on
    # a loaded machine), and none past max.
    assert started == list(range(1, len(started) + 1)) and 17 <= len(started) <= 20
    ahead = [a.outcome for a in test.attempts if a.index > 17]
    assert ahead == ["cancelled"] * (len(started) - 17)
    assert not backend.open_threads  # every conversation was closed, cancelled ones too
    assert backend.most_open <= 4
    assert result.duration_s < 10


def test_slots_spread_over_tests_instead_of_running_ahead_of_one():
    backend = FakeBackend(1.0, delay=lambda index, passed: 0.01)
    spec = {"repeat": {"min": 3, "max": 20}, "pass_threshold": 0.8}
    result = run(backend, smoke_test("a", **spec), smoke_test("b", **spec), parallel=4)
    assert [len(t.counted) for t in result.tests] == [17, 17]
    assert set(backend.opened_labels[:4]) == {"a#1", "a#2", "b#1", "b#2"}


def test_an_account_error_stops_the_test_as_an_error():
    def decide(test: str, index: int) -> bool:
        if index == 5:
            raise AccountError("the account answered 500")
        return True

    backend = FakeBackend(decide=decide)
    result = run(backend, smoke_test("broken", **SEQUENTIAL), parallel=1)
    (test,) = result.tests
    assert test.outcome == "error" and test.verdict is None
    assert backend.attempts_of("broken") == [1, 2, 3, 4, 5]
    assert result.exit_code == 1


def test_a_max_that_cannot_pass_at_the_chosen_confidence_is_refused_before_any_conversation():
    backend = FakeBackend(1.0)
    test = smoke_test("short", repeat={"min": 3, "max": 20}, pass_threshold=0.8)
    run(backend, test, confidence=0.95)  # 17 attempts are enough at 95%
    backend.opened_labels.clear()
    with pytest.raises(SmokeTestError) as raised:
        run(backend, test, confidence=0.99)
    assert raised.value.message.startswith("tests/short.yaml:1: spec.repeat.max: max 20 can never")
    assert "needs max ≥ 24" in raised.value.message
    assert backend.opened_labels == []


@pytest.mark.parametrize(
    ("rate", "wrong"),
    [(0.8, Verdict.FAIL), (0.79, Verdict.PASS)],
    ids=["at the threshold: FAIL is false", "just below: PASS is false"],
)
def test_false_verdicts_stay_within_the_documented_bound(rate, wrong):
    """Sequential {3, 30} at threshold 0.8: the false verdict happens at most (1-0.95)/2 of
    the time. 1,200 tests over three seeds; the measured share must sit within the bound (plus
    three standard errors of sampling), and agree with the rule's exact error rate."""
    rule = sequential_rule(0.8, 3, 30)
    exact = operating_characteristic(rule, rate)
    exact_wrong = exact.fail_probability if wrong is Verdict.FAIL else exact.pass_probability
    assert exact_wrong <= 0.025
    verdicts = []
    for seed in (11, 12, 13):
        backend = FakeBackend(rate, seed=seed)
        tests = [smoke_test(f"s{seed}-{n}", **SEQUENTIAL) for n in range(400)]
        verdicts += [t.verdict for t in run(backend, *tests, parallel=8).tests]
    measured = verdicts.count(wrong) / len(verdicts)
    error = math.sqrt(0.025 * 0.975 / len(verdicts))
    assert measured <= 0.025 + 3 * error
    assert abs(measured - exact_wrong) <= 4 * math.sqrt(exact_wrong * (1 - exact_wrong) / 1200)


def test_repeat_settings_read_from_the_spec():
    assert Repeat.of({"repeat": {"min": 3, "max": 30}, "pass_threshold": 0.8}).shown == (
        "{min: 3, max: 30}"
    )
    count = Repeat.of({"repeat": 5})
    assert (count.sequential, count.max_attempts, count.threshold, count.rule_name) == (
        False,
        5,
        1.0,
        "count",
    )
    assert Repeat.of({"repeat": {"min": 9, "max": 5}}).problem(0.95) == (
        ("repeat", "min"),
        "must not exceed max (5)",
    )
    assert Repeat.of({"repeat": {"min": 1, "max": 5}, "pass_threshold": 0.9}).problem(0.95)[0] == (
        "repeat",
        "max",
    )
    assert Repeat.of({"repeat": 5, "pass_threshold": 0.99}).problem(0.95) is None


def test_a_slow_attempt_is_waited_for_not_judged_around():
    """Attempt 3 fails and comes back last: the rule must not count 1, 2, 4, 5 … in its place.
    It used to, stopped the test, cancelled attempt 3 and ended with two counted attempts."""
    spec = {"repeat": {"min": 3, "max": 30}, "pass_threshold": 0.5}
    backend = FakeBackend(
        decide=lambda test, index: index != 3,
        delay=lambda index, passed: 0.5 if index == 3 else 0.0,
    )
    result = run(backend, smoke_test("slow", **spec), parallel=4)
    (test,) = result.tests
    assert [attempt.index for attempt in test.counted][:3] == [1, 2, 3]
    assert test.counted[2].outcome == "failed"
    assert test.verdict is Verdict.PASS


def test_results_are_handed_on_in_the_reports_order_whatever_the_parallelism():
    """Tests in order, attempts in order, only those the report counts: what a serial run
    prints, line for line."""
    tests = [
        smoke_test("first", **SEQUENTIAL),
        smoke_test("second", repeat=3, pass_threshold=0.6),
        smoke_test("third", **SEQUENTIAL),
    ]

    def reported(parallel: int) -> list[tuple[str, int, str]]:
        seen: list[tuple[str, int, str]] = []
        backend = FakeBackend(0.9, seed=7, delay=lambda index, passed: 0.0 if index % 2 else 0.02)
        run(
            backend,
            *tests,
            parallel=parallel,
            on_result=lambda test, attempt: seen.append(
                (test.name, attempt.index, attempt.outcome)
            ),
        )
        return seen

    serial = reported(1)
    assert [name for name, _, _ in serial] == sorted(
        (name for name, _, _ in serial), key=["first", "second", "third"].index
    )
    assert reported(8) == serial
