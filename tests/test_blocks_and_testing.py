"""The block form (for/async for attempt in attempts(...)) and the testing helpers."""
import asyncio

import pytest

from zenoo_retry import (
    ExponentialBackoffStrategy,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryTimeoutError,
    async_retry,
    attempts,
    retry,
)
from zenoo_retry.testing import instant_retries

from helpers import FakeClock

NOJ = ExponentialBackoffStrategy(jitter=False)


def test_block_retries_then_succeeds():
    slept, numbers = [], []
    for attempt in attempts(max_attempts=4, delay=0.5, strategy=NOJ, sleep=slept.append):
        with attempt:
            numbers.append(attempt.number)
            if attempt.number < 3:
                raise ConnectionError
    assert numbers == [1, 2, 3] and slept == [0.5, 1.0]


def test_block_gives_up_with_the_same_errors_as_decorators():
    with pytest.raises(MaxRetriesExceededError) as ei:
        for attempt in attempts(max_attempts=2, delay=0):
            with attempt:
                raise OSError("x")
    assert ei.value.attempts == 2 and isinstance(ei.value.__cause__, OSError)
    with pytest.raises(KeyError):
        for attempt in attempts(max_attempts=5, delay=0, exceptions=OSError):
            with attempt:
                raise KeyError("not retried")


def test_block_deadline_uses_fake_clock():
    clock = FakeClock()
    with pytest.raises(RetryTimeoutError):
        for attempt in attempts(max_attempts=9, strategy=ExponentialBackoffStrategy(max_attempts=9, jitter=False),
                                timeout=5.0, sleep=clock.sleep, clock=clock):
            with attempt:
                raise OSError
    assert clock.sleeps == [1.0, 2.0]


def test_block_never_swallows_base_exceptions():
    with pytest.raises(KeyboardInterrupt):
        for attempt in attempts(max_attempts=3, delay=0, exceptions=BaseException):
            with attempt:
                raise KeyboardInterrupt


def test_block_refuses_fallback_and_unused_attempts():
    from zenoo_retry import RetryPolicy
    from zenoo_retry.blocks import Attempts

    with pytest.raises(InvalidConfigurationError, match="fallback"):
        Attempts(RetryPolicy().compile(fallback=None))
    with pytest.raises(RuntimeError, match="context manager"):
        for _ in attempts(max_attempts=2):
            pass


async def test_async_block():
    numbers = []
    hooks = []

    async def on_retry(a):
        hooks.append(a.number)

    async for attempt in attempts(max_attempts=3, delay=0.001, strategy=NOJ, on_retry=on_retry):
        with attempt:
            numbers.append(attempt.number)
            await asyncio.sleep(0)
            if attempt.number < 3:
                raise TimeoutError
    assert numbers == [1, 2, 3] and hooks == [1, 2]


def test_instant_retries_records_and_caps():
    calls = {"n": 0}

    @retry(max_attempts=6, delay=2.0, strategy=NOJ)
    def always_fails():
        calls["n"] += 1
        raise ConnectionError

    with instant_retries() as rec:
        with pytest.raises(MaxRetriesExceededError):
            always_fails()
    assert rec.delays == [2.0, 4.0, 8.0, 16.0, 32.0] and rec.total == 62.0 and calls["n"] == 6
    calls["n"] = 0
    with instant_retries(max_attempts=2) as rec:
        with pytest.raises(MaxRetriesExceededError):
            always_fails()
    assert calls["n"] == 2 and len(rec) == 1
    with pytest.raises(TypeError):
        with instant_retries(max_attempts="3"):
            pass


async def test_instant_retries_covers_async_loop_sleep():
    @async_retry(max_attempts=3, delay=20.0, strategy=NOJ)
    async def fails():
        raise ConnectionError

    with instant_retries() as rec:
        with pytest.raises(MaxRetriesExceededError):
            await fails()
    assert rec.delays == [20.0, 40.0]


def test_pytest_fixture(instant_retries):
    @retry(max_attempts=3, delay=10.0, strategy=NOJ)
    def fails():
        raise OSError

    with pytest.raises(MaxRetriesExceededError):
        fails()
    assert instant_retries.delays == [10.0, 20.0]
