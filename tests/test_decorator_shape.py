"""Decorated objects keep their metadata, bind as methods, and nest with classmethod etc."""
import asyncio
import functools
import inspect

import pytest

from zenoo_retry import async_retry, database_retry, network_retry, quick_retry, retry


def sample(a, b: int = 2, *, c=3) -> int:
    """Adds things."""
    return a + b + c


async def asample(x: str) -> str:
    """Echo."""
    return x


def test_metadata_is_kept():
    g = retry(max_attempts=2)(sample)
    assert g.__name__ == "sample" and g.__doc__ == "Adds things." and g.__wrapped__ is sample
    assert g.__qualname__ == "sample" and g.__module__ == sample.__module__
    assert inspect.signature(g) == inspect.signature(sample)
    assert g(1) == 6


def test_async_wrapper_is_a_coroutine_function():
    g = async_retry(max_attempts=2)(asample)
    assert inspect.iscoroutinefunction(g) and asyncio.iscoroutinefunction(g)
    assert inspect.signature(g) == inspect.signature(asample) and g.__doc__ == "Echo."
    assert not inspect.iscoroutinefunction(retry(sample))


def test_bare_and_called_forms():
    assert retry(sample)(1) == 6
    assert retry()(sample)(1) == 6


class Service:
    def __init__(self):
        self.n = 0

    @retry(max_attempts=3, delay=0)
    def method(self, x):
        self.n += 1
        if self.n < 2:
            raise ConnectionError
        return (self, x)

    @retry(max_attempts=2, delay=0)
    @classmethod
    def cm(cls):
        return cls

    @classmethod
    @retry(max_attempts=2, delay=0)
    def cm2(cls):
        return cls

    @retry(max_attempts=2)
    @staticmethod
    def sm(x):
        return x * 2

    @async_retry(max_attempts=2, delay=0)
    async def amethod(self):
        return self


def test_methods_classmethods_staticmethods():
    s = Service()
    assert s.method(5) == (s, 5) and s.n == 2
    assert Service.cm() is Service and s.cm() is Service
    assert Service.cm2() is Service
    assert Service.sm(2) == 4 and s.sm(3) == 6
    assert asyncio.run(s.amethod()) is s
    assert inspect.iscoroutinefunction(s.amethod)
    bound = s.method
    assert bound.__self__ is s


def test_works_on_partials_and_callable_objects():
    p = functools.partial(sample, 10)
    assert retry(p)(1) == 14

    class C:
        def __call__(self, v):
            return v

    assert retry(C())(9) == 9


def test_convenience_decorators_pick_sync_or_async():
    @network_retry(max_attempts=2, base_delay=0.0)
    def sync_call():
        return "s"

    @database_retry(max_attempts=2, base_delay=0.0, max_delay=1.0)
    async def async_call():
        return "a"

    @quick_retry(max_attempts=2)
    async def quick():
        return "q"

    assert sync_call() == "s" and asyncio.run(async_call()) == "a" and asyncio.run(quick()) == "q"
    assert inspect.iscoroutinefunction(async_call)
    assert sync_call.retry_spec.max_attempts == 2 and sync_call.retry_spec.timeout == 120.0


def test_wrapper_does_not_share_state_between_decorations():
    a = retry(max_attempts=2)(sample)
    b = retry(max_attempts=5)(sample)
    assert a.retry_spec.max_attempts == 2 and b.retry_spec.max_attempts == 5


def test_policy_mutation_after_decoration_does_not_leak_in():
    from zenoo_retry import RetryPolicy, ExponentialBackoffStrategy

    pol = RetryPolicy(ExponentialBackoffStrategy(max_attempts=2))
    g = retry(pol)(sample)
    pol.strategy = ExponentialBackoffStrategy(max_attempts=9)
    assert g.retry_spec.max_attempts == 2


@pytest.mark.parametrize("deco", [retry, async_retry])
def test_repr_mentions_function(deco):
    assert "sample" in repr(deco(sample))
