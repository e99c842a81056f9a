"""Smoke-test verdicts: what N attempts of a conversation prove, and when repeating can stop.

Pure arithmetic on counts of passed attempts, standard library only. A test's attempts give a
pass rate and a Clopper–Pearson confidence interval for the assistant's true pass rate; the
verdict is PASS when the interval's lower bound is at or above ``pass_threshold``, FAIL when its
upper bound is below, INCONCLUSIVE otherwise.

Clopper–Pearson rather than Wilson because a deploy gate needs a guarantee, not an average: its
coverage is at least the nominal level for every true rate and every N, where Wilson's dips
below it for small N and rates near 1, the usual case here. Its bounds are also exactly the
one-sided binomial tests, which is what lets a sequential rule's error be computed exactly.

An interval verdict is wrong with probability at most ``(1 - confidence) / 2`` (2.5% at the
default 0.95): a false PASS can only happen when the true rate is below the threshold, a false
FAIL only when it is at or above, and each side gets half the interval's miss. That assumes the
attempts are independent trials with one pass rate (fresh threads do that; an outage that fails
several at once does not).

Looking after every attempt and stopping once decided would inflate that error (each look is
another chance to cross by luck: checking the plain 95% interval after each of 30 attempts gives
a false FAIL 6.5% of the time), so a sequential rule checks a wider interval. Its per-look tail
levels are the largest that keep the exact probability of a false verdict, over every look and
every sequence of outcomes, within the budget: one level for all looks (Pocock-style), found by
dynamic programming at the threshold, the worst case. That guarantee needs outcomes fed in an
order that does not depend on them: attempt order, not completion order (a failing attempt that
times out would otherwise arrive last).

``pass_threshold`` 1.0 is the exception: no interval's lower bound reaches 1.0, so it keeps
today's meaning, every attempt must pass (PASS once all ``max`` passed, FAIL at the first
failure), a requirement rather than a statistical claim.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache

DEFAULT_CONFIDENCE = 0.95
# Halvings of [0, 1] when solving for an interval bound: past float resolution.
BOUND_BISECTIONS = 64


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Interval:
    """Bounds on the true pass rate. ``confidence`` is the two-sided level they hold at: the one
    asked for with a fixed number of attempts, higher for a sequential rule, which checks the
    interval after every attempt."""

    lower: float
    upper: float
    confidence: float


@dataclass(frozen=True)
class Judgement:
    """What a test's attempts so far prove."""

    passes: int
    attempts: int
    threshold: float
    interval: Interval
    verdict: Verdict

    @property
    def rate(self) -> float:
        return self.passes / self.attempts

    @property
    def flaky(self) -> bool:
        """Some attempts passed and some failed: the same conversation gets different answers."""
        return 0 < self.passes < self.attempts

    @property
    def decided(self) -> bool:
        return self.verdict is not Verdict.INCONCLUSIVE


@dataclass(frozen=True)
class OperatingCharacteristic:
    """What a rule does to an assistant whose attempts pass independently with a fixed rate."""

    pass_probability: float
    fail_probability: float
    inconclusive_probability: float
    expected_attempts: float


@dataclass(frozen=True)
class Rule:
    """When a repeated test stops and what its attempts prove, as boundaries on the pass count.

    Built by ``sequential_rule`` or ``count_rule``. At look ``n`` (every attempt from
    ``min_attempts`` on) the verdict is PASS with at least ``least_passes_to_pass[n]`` passes
    (``n + 1``: not at this look) and FAIL with at most ``most_passes_to_fail[n]`` (``-1``: not
    at this look). ``pass_tail`` and ``fail_tail`` are the one-sided levels of the interval the
    boundaries are equivalent to; ``worst_false_pass`` / ``worst_false_fail`` are the exact
    largest probabilities of a PASS for a true rate below the threshold and of a FAIL for one at
    or above it.
    """

    threshold: float
    confidence: float
    min_attempts: int
    max_attempts: int
    pass_tail: float
    fail_tail: float
    least_passes_to_pass: tuple[int, ...]
    most_passes_to_fail: tuple[int, ...]
    worst_false_pass: float
    worst_false_fail: float

    @property
    def pass_reachable(self) -> bool:
        """Whether any sequence of outcomes can reach PASS within ``max_attempts``."""
        return any(least <= n for n, least in enumerate(self.least_passes_to_pass))

    def verdict(self, passes: int, attempts: int) -> Verdict:
        _check_counts(passes, attempts)
        if attempts > self.max_attempts:
            raise ValueError(f"{attempts} attempts is more than this rule's {self.max_attempts}")
        if passes >= self.least_passes_to_pass[attempts]:
            return Verdict.PASS
        if passes <= self.most_passes_to_fail[attempts]:
            return Verdict.FAIL
        return Verdict.INCONCLUSIVE

    def stops(self, passes: int, attempts: int) -> bool:
        """Whether to run no more attempts: the verdict is decided, or ``max_attempts`` ran."""
        return (
            attempts >= self.max_attempts or self.verdict(passes, attempts) != Verdict.INCONCLUSIVE
        )

    def judge(self, passes: int, attempts: int) -> Judgement:
        return Judgement(
            passes=passes,
            attempts=attempts,
            threshold=self.threshold,
            interval=_interval(passes, attempts, self.pass_tail, self.fail_tail),
            verdict=self.verdict(passes, attempts),
        )


def clopper_pearson(passes: int, attempts: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """The exact (Clopper–Pearson) two-sided interval for a binomial rate."""
    _check_counts(passes, attempts)
    _check_confidence(confidence)
    miss = (1 - confidence) / 2
    return _interval(passes, attempts, miss, miss)


def judge_fixed(
    passes: int, attempts: int, threshold: float, confidence: float = DEFAULT_CONFIDENCE
) -> Judgement:
    """The verdict on a fixed number of attempts: the sequential rule with its only look at the
    end, whose interval is the plain Clopper–Pearson one at ``confidence``."""
    return sequential_rule(threshold, attempts, attempts, confidence).judge(passes, attempts)


def required_passes(repeat: int, threshold: float) -> int:
    """How many of ``repeat`` attempts today's count rule needs: ``ceil(threshold × repeat)``,
    except that a product less than 0.05 above a whole number counts as that number, because
    thresholds are written rounded (``0.67`` of 3 means two of three)."""
    return max(0, min(repeat, math.ceil(threshold * repeat - 0.05)))


def count_rule(repeat: int, threshold: float, confidence: float = DEFAULT_CONFIDENCE) -> Rule:
    """Today's rule, kept for the tests that use it: run all ``repeat`` attempts, PASS when at
    least ``required_passes`` passed. It makes no statistical claim: its ``worst_false_*``
    show how often it misjudges an assistant right at the threshold, and the interval it reports
    (at ``confidence``) shows how little a few attempts prove."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1; got {repeat}")
    _check_threshold(threshold)
    _check_confidence(confidence)
    required = required_passes(repeat, threshold)
    least = tuple(n + 1 for n in range(repeat)) + (required,)
    most = (-1,) * repeat + (required - 1,)
    return _rule(threshold, confidence, repeat, repeat, least, most)


@lru_cache(maxsize=256)
def sequential_rule(
    threshold: float,
    min_attempts: int,
    max_attempts: int,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Rule:
    """The interval verdict checked after every attempt from ``min_attempts`` to
    ``max_attempts``, with per-look levels calibrated so that a false PASS and a false FAIL each
    stay within ``(1 - confidence) / 2`` over all the looks together.

    ``min_attempts == max_attempts`` is a fixed number of attempts. Each side's calibration runs
    a dozen or so O(max²) dynamic programs (about 40 ms at max 100), so rules are cached.
    """
    if not 1 <= min_attempts <= max_attempts:
        raise ValueError(f"need 1 ≤ min ≤ max attempts; got min {min_attempts}, max {max_attempts}")
    _check_threshold(threshold)
    _check_confidence(confidence)
    budget = (1 - confidence) / 2
    looks = range(max_attempts + 1)
    if threshold <= 0:  # every rate is at or above 0: nothing to prove
        least = tuple(0 if n >= min_attempts else n + 1 for n in looks)
        most = (-1,) * (max_attempts + 1)
        return _rule(threshold, confidence, min_attempts, max_attempts, least, most)
    if threshold >= 1:
        least = tuple(n + 1 for n in range(max_attempts)) + (max_attempts,)
        most = tuple(n - 1 if n >= min_attempts else -1 for n in looks)
        return _rule(threshold, confidence, min_attempts, max_attempts, least, most)
    pass_tail, least = _calibrate(threshold, min_attempts, max_attempts, budget, strict=False)
    fail_tail, least_failures = _calibrate(
        1 - threshold, min_attempts, max_attempts, budget, strict=True
    )
    most = tuple(n - failures for n, failures in zip(looks, least_failures, strict=True))
    return _rule(
        threshold, confidence, min_attempts, max_attempts, least, most, pass_tail, fail_tail
    )


def judge_sequentially(rule: Rule, outcomes: Iterable[bool]) -> Judgement:
    """Feed attempt outcomes (True: passed) in attempt order until the rule stops, taking no
    more from ``outcomes`` than that; judge what was seen."""
    passes = attempts = 0
    for passed in outcomes:
        attempts += 1
        passes += passed
        if rule.stops(passes, attempts):
            break
    if attempts == 0:
        raise ValueError("no outcomes to judge")
    return rule.judge(passes, attempts)


def operating_characteristic(rule: Rule, pass_rate: float) -> OperatingCharacteristic:
    """Exact verdict probabilities and expected attempts for a true pass rate, by dynamic
    programming over the pass count at every look."""
    if not 0 <= pass_rate <= 1:
        raise ValueError(f"pass_rate must be in [0, 1]; got {pass_rate!r}")
    mass = [1.0]  # mass[k]: probability of k passes so far with no verdict yet
    passed = failed = expected = 0.0
    for n in range(1, rule.max_attempts + 1):
        mass = _one_more_attempt(mass, pass_rate)
        if n < rule.min_attempts:
            continue
        fail_below = max(0, rule.most_passes_to_fail[n] + 1)
        pass_from = rule.least_passes_to_pass[n]
        stopped_fail = math.fsum(mass[:fail_below])
        stopped_pass = math.fsum(mass[pass_from:])
        passed += stopped_pass
        failed += stopped_fail
        expected += n * (stopped_pass + stopped_fail)
        mass = [0.0] * fail_below + mass[fail_below:pass_from]
    undecided = math.fsum(mass)
    return OperatingCharacteristic(
        pass_probability=passed,
        fail_probability=failed,
        inconclusive_probability=undecided,
        expected_attempts=expected + rule.max_attempts * undecided,
    )


class UnreachablePass(ValueError):
    """A sequential repeat whose ``max`` is too small for any outcome to reach PASS."""


def check_reachable(
    threshold: float, max_attempts: int, confidence: float = DEFAULT_CONFIDENCE
) -> None:
    """Refuse a repeat whose ``max`` can never PASS, naming the ``max`` it needs."""
    needed = minimum_max_attempts(threshold, confidence)
    if max_attempts < needed:
        raise UnreachablePass(
            f"max {max_attempts} can never reach PASS at pass_threshold {threshold:g} and "
            f"confidence {confidence:g}: even with every attempt passing it needs max ≥ {needed}"
        )


def minimum_max_attempts(threshold: float, confidence: float = DEFAULT_CONFIDENCE) -> int:
    """The fewest attempts that can PASS, sequential or fixed: the least n with
    ``threshold ** n <= (1 - confidence) / 2``, when n passes out of n just puts the lower bound
    at the threshold (1 for the thresholds 0 and 1, which need no interval).

    No rule whose false PASS stays within the bound can do better, since n passes in a row
    happen with probability ``threshold ** n`` right at the threshold. A sequential rule with
    this ``max`` reaches it: no earlier look can PASS anything within the budget (even all
    passing is likelier than that), so its only PASS is all ``max`` passing, which fits. A
    larger ``max`` stays reachable; ``min`` plays no part.
    """
    _check_threshold(threshold)
    _check_confidence(confidence)
    if threshold <= 0 or threshold >= 1:
        return 1
    budget = (1 - confidence) / 2
    # The same all-pass probability the rules' tails use, so validation and rules agree.
    needed = max(1, math.ceil(math.log(budget) / math.log(threshold)) - 1)
    while _probability(needed, needed, threshold) > budget:
        needed += 1
    return needed


# --- binomial arithmetic ---------------------------------------------------------------------


def _check_threshold(threshold: float) -> None:
    if not 0 <= threshold <= 1:
        raise ValueError(f"pass_threshold must be in [0, 1]; got {threshold!r}")


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1; got {confidence!r}")


def _check_counts(passes: int, attempts: int) -> None:
    if not 0 <= passes <= attempts or attempts < 1:
        raise ValueError(f"need 0 ≤ passes ≤ attempts and attempts ≥ 1; got {passes}/{attempts}")


def _probability(n: int, k: int, rate: float) -> float:
    """P(exactly k of n attempts pass), in logs so that large n does not overflow."""
    if rate <= 0:
        return 1.0 if k == 0 else 0.0
    if rate >= 1:
        return 1.0 if k == n else 0.0
    log_ways = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return math.exp(log_ways + k * math.log(rate) + (n - k) * math.log1p(-rate))


def _upper_tails(n: int, rate: float) -> list[float]:
    """P(at least j of n pass) for j = 0..n+1, summed from the top so small tails stay exact."""
    tails = [0.0] * (n + 2)
    for k in range(n, -1, -1):
        tails[k] = tails[k + 1] + _probability(n, k, rate)
    return tails


def _upper_tail(n: int, k: int, rate: float) -> float:
    """P(at least k of n pass), for 0 < rate < 1: one logarithmic term, then its neighbours by
    their ratio, cheap enough to solve for interval bounds by bisection."""
    term = _probability(n, k, rate)
    odds = rate / (1 - rate)
    terms = [term]
    for j in range(k, n):
        term *= (n - j) / (j + 1) * odds
        terms.append(term)
    return math.fsum(terms)


def _lower_bound(passes: int, attempts: int, tail: float) -> float:
    """The rate at which ``passes`` or more of ``attempts`` has probability ``tail``: rates below
    it make what was seen less likely than that."""
    if passes == 0 or tail <= 0:
        return 0.0
    if passes == attempts:
        return float(tail ** (1 / attempts))
    low, high = 0.0, 1.0
    for _ in range(BOUND_BISECTIONS):
        middle = (low + high) / 2
        if _upper_tail(attempts, passes, middle) < tail:
            low = middle
        else:
            high = middle
    return low


@lru_cache(maxsize=4096)
def _interval(passes: int, attempts: int, pass_tail: float, fail_tail: float) -> Interval:
    return Interval(
        lower=_lower_bound(passes, attempts, pass_tail),
        upper=1 - _lower_bound(attempts - passes, attempts, fail_tail),
        confidence=1 - pass_tail - fail_tail,
    )


# --- sequential calibration ------------------------------------------------------------------


def _one_more_attempt(mass: list[float], rate: float) -> list[float]:
    following = [0.0] * (len(mass) + 1)
    for k, probability in enumerate(mass):
        following[k] += probability * (1 - rate)
        following[k + 1] += probability * rate
    return following


def _boundary(
    tails: list[list[float]], min_attempts: int, level: float, strict: bool
) -> tuple[int, ...]:
    """At each look, the least count whose upper tail is within ``level`` (``n + 1``: none)."""
    least = list(range(1, min_attempts + 1))
    for n, tail in enumerate(tails, start=min_attempts):
        k = n + 1
        while k > 0 and (tail[k - 1] < level if strict else tail[k - 1] <= level):
            k -= 1
        least.append(k)
    return tuple(least)


def _crossing_probability(rate: float, min_attempts: int, least: tuple[int, ...]) -> float:
    """P(the count reaches ``least[n]`` at some look n), the other boundary ignored: dropping
    it only adds paths, so a budget met here is met by the two-sided rule too."""
    mass = [1.0]
    crossed = 0.0
    for n in range(1, len(least)):
        mass = _one_more_attempt(mass, rate)
        if n >= min_attempts:
            crossed += math.fsum(mass[least[n] :])
            del mass[least[n] :]
    return crossed


def _calibrate(
    rate: float, min_attempts: int, max_attempts: int, budget: float, strict: bool
) -> tuple[float, tuple[int, ...]]:
    """The largest per-look tail level (and its boundary) whose exact crossing probability at
    ``rate`` stays within ``budget``.

    The crossing probability only grows with the level, and only changes where the level meets
    one of the tails, so the search is a bisection over those tail values. ``strict`` boundaries
    (FAIL: the upper bound strictly below the threshold) take the float just above a tail.
    """
    tails = [_upper_tails(n, rate) for n in range(min_attempts, max_attempts + 1)]
    capped = _boundary(tails, min_attempts, budget, strict)
    if _crossing_probability(rate, min_attempts, capped) <= budget:
        return budget, capped
    candidates = sorted({value for tail in tails for value in tail if 0 < value < budget})
    levels = [math.nextafter(value, 1.0) if strict else value for value in candidates]

    def over_budget(level: float) -> bool:
        least = _boundary(tails, min_attempts, level, strict)
        return _crossing_probability(rate, min_attempts, least) > budget

    first_over = bisect.bisect_left(levels, True, key=over_budget)
    level = levels[first_over - 1] if first_over else 0.0
    return level, _boundary(tails, min_attempts, level, strict)


def _rule(
    threshold: float,
    confidence: float,
    min_attempts: int,
    max_attempts: int,
    least: tuple[int, ...],
    most: tuple[int, ...],
    pass_tail: float | None = None,
    fail_tail: float | None = None,
) -> Rule:
    """The rule with its exact worst-case error rates, found at the threshold itself: with
    boundaries monotone in the pass count, P(PASS) only grows and P(FAIL) only shrinks with the
    true rate. Tails default to the plain interval's, half the miss on each side."""
    miss = (1 - confidence) / 2
    rule = Rule(
        threshold=threshold,
        confidence=confidence,
        min_attempts=min_attempts,
        max_attempts=max_attempts,
        pass_tail=miss if pass_tail is None else pass_tail,
        fail_tail=miss if fail_tail is None else fail_tail,
        least_passes_to_pass=least,
        most_passes_to_fail=most,
        worst_false_pass=0.0,
        worst_false_fail=0.0,
    )
    at_threshold = operating_characteristic(rule, threshold)
    return replace(
        rule,
        # Below a threshold of 0 there is no rate a PASS could be false for.
        worst_false_pass=at_threshold.pass_probability if threshold > 0 else 0.0,
        worst_false_fail=at_threshold.fail_probability,
    )
