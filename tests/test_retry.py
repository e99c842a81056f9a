"""Retries: honour retry-after, back off, and never repeat a create that may have committed."""

from __future__ import annotations

import random
import time

import httpx2
import openai
import pytest

from assistctl import retry
from assistctl.backends.sdk import translated
from assistctl.errors import AccountError, AssistctlError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def policy(clock: FakeClock, **kwargs) -> retry.RetryPolicy:
    return retry.RetryPolicy(sleep=clock.sleep, clock=clock, **kwargs)


def status_error(status: int, path: str = "/v1/assistants", headers=None, message="boom"):
    request = httpx2.Request("POST", f"http://127.0.0.1:9/v1{path.removeprefix('/v1')}")
    response = httpx2.Response(status, headers=headers or {}, request=request)
    body = {"error": {"message": message, "type": "x", "param": None, "code": None}}
    cls = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        404: openai.NotFoundError,
        429: openai.RateLimitError,
    }.get(status, openai.InternalServerError)
    return cls(message, response=response, body=body)


def call(operation, *, what, **options):
    """``retry.call`` around an SDK call, as a backend makes it."""
    return retry.call(translated(operation, what), what=what, **options)


def failing(*errors, result="ok"):
    """An operation that raises each error in turn, then returns ``result``."""
    pending = list(errors)
    calls = []

    def operation():
        calls.append(1)
        if pending:
            raise pending.pop(0)
        return result

    operation.calls = calls
    return operation


def test_retry_after_header_is_honoured():
    clock = FakeClock()
    op = failing(status_error(429, headers={"retry-after": "3"}))
    assert call(op, what="list assistants", policy=policy(clock)) == "ok"
    (slept,) = clock.sleeps
    assert 3.0 <= slept <= 3.75  # at least what the server asked, spread by up to a quarter
    assert len(op.calls) == 2


def test_retry_after_ms_takes_precedence():
    clock = FakeClock()
    op = failing(status_error(429, headers={"retry-after-ms": "250", "retry-after": "9"}))
    call(op, what="x", policy=policy(clock))
    (slept,) = clock.sleeps
    assert 0.25 <= slept <= 0.3125


def test_workers_throttled_together_do_not_wake_together():
    """retry-after-ms used to be honoured exactly: every throttled worker came back at once."""
    clock = FakeClock()
    rng = random.Random(7)
    for _ in range(8):
        op = failing(status_error(429, headers={"retry-after-ms": "1000"}))
        call(op, what="x", policy=policy(clock, rng=rng))
    assert min(clock.sleeps) >= 1.0
    assert len(set(clock.sleeps)) == 8 and max(clock.sleeps) - min(clock.sleeps) > 0.05


def test_throttling_is_bounded_by_the_deadline_not_the_attempts():
    """With a rate limit, apply used to give up "after 8 attempts in 0.2s"."""
    clock = FakeClock()
    storm = [status_error(429, headers={"retry-after-ms": "10"}) for _ in range(200)]
    op = failing(*storm)
    assert call(op, what="x", policy=policy(clock, attempts=8)) == "ok"
    assert len(op.calls) == 201
    endless = failing(*[status_error(429, headers={"retry-after": "1"}) for _ in range(500)])
    with pytest.raises(AccountError, match="gave up"):
        call(endless, what="x", policy=policy(FakeClock(), deadline_s=120))


def test_the_pacer_halves_while_throttled_and_grows_back():
    pacer = retry.Pacer(ceiling=8)
    pacer.throttled()
    pacer.throttled()
    assert pacer.limit == 2
    for _ in range(2 + 3):
        pacer.succeeded()
    assert pacer.limit == 4
    for _ in range(20):
        pacer.throttled()
    assert pacer.limit == 1


def test_the_429s_of_one_episode_halve_the_pacer_once():
    now = [100.0]
    pacer = retry.Pacer(ceiling=8, clock=lambda: now[0])
    for _ in range(8):  # the whole first wave comes back throttled
        pacer.throttled(0.5)
    assert pacer.limit == 4
    now[0] += 0.6  # the wait has passed: a new 429 is a new signal
    pacer.throttled(0.5)
    assert pacer.limit == 2


def test_nobody_starts_a_request_before_the_servers_wait_has_passed():
    """Workers that were not throttled themselves wait too, instead of drawing more 429s."""
    pacer = retry.Pacer(ceiling=8)
    pacer.throttled(0.3)
    started = time.monotonic()
    with pacer.slot():
        waited = time.monotonic() - started
    assert waited >= 0.29


def test_backoff_without_header_is_bounded_and_grows():
    clock = FakeClock()
    op = failing(*[status_error(503) for _ in range(4)])
    call(op, what="x", policy=policy(clock, base_delay_s=1.0, max_delay_s=3.0))
    assert len(clock.sleeps) == 4
    for attempt, slept in enumerate(clock.sleeps, start=1):
        assert 0 <= slept <= min(3.0, 2**attempt)


def test_unknown_outcome_create_is_recovered_not_repeated():
    clock = FakeClock()
    op = failing(status_error(500))
    found = call(
        op, what="create assistant", idempotent=False, recover=lambda: "found", policy=policy(clock)
    )
    assert found == "found"
    assert len(op.calls) == 1


def test_unknown_outcome_create_is_repeated_only_when_lookup_finds_nothing():
    clock = FakeClock()
    op = failing(openai.APIConnectionError(request=httpx2.Request("POST", "http://h/v1/files")))
    looked = []
    result = call(
        op,
        what="upload",
        idempotent=False,
        recover=lambda: looked.append(1),
        policy=policy(clock),
    )
    assert result == "ok" and looked == [1] and len(op.calls) == 2


def test_create_without_recovery_is_not_repeated():
    op = failing(status_error(502))
    with pytest.raises(AccountError):
        call(op, what="create", idempotent=False, policy=policy(FakeClock()))
    assert len(op.calls) == 1


def test_throttled_create_is_repeated_without_lookup():
    clock = FakeClock()
    op = failing(status_error(429, headers={"retry-after": "1"}))

    def never():
        raise AssertionError("a 429 never committed: no lookup needed")

    assert call(op, what="c", idempotent=False, recover=never, policy=policy(clock)) == "ok"


def test_client_errors_are_not_retried_and_read_well():
    op = failing(status_error(400, message="Invalid 'temperature'"))
    with pytest.raises(AccountError, match="create assistant.*400.*Invalid 'temperature'"):
        call(op, what="create assistant", policy=policy(FakeClock()))
    assert len(op.calls) == 1


def test_gives_up_after_attempts_naming_the_resource():
    clock = FakeClock()
    op = failing(*[status_error(503) for _ in range(10)])
    with pytest.raises(AccountError, match=r"vector_store.handbook.*gave up after 3 attempts"):
        call(op, what="vector_store.handbook", policy=policy(clock, attempts=3))


def test_deadline_stops_retrying():
    clock = FakeClock()
    op = failing(*[status_error(429, headers={"retry-after": "30"}) for _ in range(10)])
    with pytest.raises(AccountError, match=r"gave up after [23] attempts"):
        call(op, what="x", policy=policy(clock, deadline_s=70))
    assert sum(clock.sleeps) <= 70


def test_unauthorised_gets_a_key_hint_without_the_key():
    op = failing(status_error(401, message="Incorrect API key provided: sk-sec***"))
    with pytest.raises(AccountError) as caught:
        call(op, what="list", policy=policy(FakeClock()))
    assert "ASSISTCTL_API_KEY" in caught.value.hint


def refused(path: str = "/v1/assistants") -> openai.APIConnectionError:
    request = httpx2.Request("GET", f"http://127.0.0.1:9{path}")
    error = openai.APIConnectionError(request=request)
    error.__cause__ = httpx2.ConnectError("[Errno 111] Connection refused", request=request)
    return error


def test_an_account_that_refuses_connections_fails_fast():
    """Nothing listens there: a few quick tries, not the whole deadline."""
    clock = FakeClock()
    op = failing(*[refused() for _ in range(10)])
    with pytest.raises(AccountError, match="cannot reach the account"):
        call(op, what="list assistants", policy=policy(clock))
    assert len(op.calls) == 3
    assert sum(clock.sleeps) < 5


def test_a_refused_create_was_never_sent_so_it_is_retried_without_lookup():
    clock = FakeClock()
    op = failing(refused("/v1/files"))

    def never():
        raise AssertionError("a refused connection never reached the server")

    assert call(op, what="c", idempotent=False, recover=never, policy=policy(clock)) == "ok"


def test_the_write_policy_takes_its_base_delay_from_the_environment():
    assert retry.policy_from_environment({}) is retry.DEFAULT_POLICY
    policy = retry.policy_from_environment({retry.BASE_DELAY_ENV: "0.5"})
    assert (policy.base_delay_s, policy.max_delay_s, policy.attempts) == (0.5, 8.0, 30)
    with pytest.raises(AssistctlError, match="ASSISTCTL_RETRY_BASE_DELAY='soon' is not a number"):
        retry.policy_from_environment({retry.BASE_DELAY_ENV: "soon"})
