"""The RetryAwaitable's lifetime: what a call holds and when it lets go.

Each async retrying function keeps one idle awaitable that the next call reuses in place
when nobody can observe it any more (the success path then allocates nothing). These tests
pin down the rules that make that invisible: an awaitable someone still references (or
weakly references) is never reused, a finished call drops its arguments and its function,
decorated functions are freed by reference counting, and cycles are still collected.
"""
import asyncio
import gc
import sys
import weakref

import pytest

from zenoo_retry import async_retry


class Arg:
    """A weak-referenceable argument."""


async def ident(x=None):
    return x


def test_an_awaitable_still_referenced_is_never_reused():
    f = async_retry(max_attempts=2, delay=0)(ident)

    async def main():
        a = f(1)
        assert await a == 1
        b = f(2)  # `a` is still referenced: a new object
        assert b is not a
        assert await b == 2
        with pytest.raises(RuntimeError, match="cannot reuse already awaited"):
            await a  # a finished call stays finished
        return a, b

    a, b = asyncio.run(main())
    assert a.attempt == 1 and b.attempt == 1


def test_a_weakly_referenced_finished_awaitable_is_not_recycled():
    f = async_retry(max_attempts=2, delay=0)(ident)

    async def main():
        aw = f(1)
        ref = weakref.ref(aw)
        assert await aw == 1
        del aw
        nxt = f(2)
        # the weak reference never sees another call's state
        assert ref() is None or (ref() is not nxt and ref().attempt == 1)
        assert await nxt == 2

    asyncio.run(main())


def test_sequential_calls_reuse_one_object_and_keep_results_apart():
    f = async_retry(max_attempts=2, delay=0)(ident)

    async def main():
        ids = set()
        for i in range(50):
            aw = f(i)
            ids.add(id(aw))
            assert await aw == i
            del aw
        return ids

    ids = asyncio.run(main())
    assert len(ids) <= 2  # the idle object (plus at most the first one) serves every call


def test_a_finished_call_releases_its_arguments():
    f = async_retry(max_attempts=2, delay=0)(ident)

    async def main():
        arg = Arg()
        ref = weakref.ref(arg)
        aw = f(arg)
        assert await aw is arg
        del arg
        gc.disable()
        try:
            assert ref() is None  # released at completion, while `aw` is still alive
        finally:
            gc.enable()
        return aw

    asyncio.run(main())


def test_keyword_and_many_arguments_are_released_after_failure_path():
    calls = []

    async def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) < 2:
            raise ConnectionError("once")
        return len(args) + len(kwargs)

    f = async_retry(max_attempts=3, delay=0)(flaky)
    args = [Arg() for _ in range(9)]
    refs = [weakref.ref(a) for a in args]

    async def main():
        aw = f(*args[:7], a=args[7], b=args[8])
        assert await aw == 9
        return aw

    gc.disable()
    try:
        aw = asyncio.run(main())
        del args
        assert all(r() is None for r in refs)
        assert aw.attempt == 2
    finally:
        gc.enable()


def test_decorated_function_freed_by_refcount_after_calls():
    async def work(x):
        return x

    f = async_retry(max_attempts=2, delay=0)(work)
    ref = weakref.ref(f)

    async def main():
        for i in range(3):
            assert await f(i) == i

    asyncio.run(main())
    gc.disable()
    try:
        del f
        assert ref() is None  # no cycle between the function and its idle awaitable
    finally:
        gc.enable()


def test_temporary_decorated_function_awaited_once():
    async def main():
        return await async_retry(max_attempts=2, delay=0)(ident)("x")

    assert asyncio.run(main()) == "x"


def test_unawaited_awaitable_in_a_cycle_is_collected():
    f = async_retry(max_attempts=2, delay=0)(ident)
    holder = Arg()
    aw = f(holder)  # holder -> aw -> holder
    holder.aw = aw
    ref = weakref.ref(holder)
    del holder, aw
    gc.collect()
    assert ref() is None


def test_unawaited_awaitables_with_atomic_args_in_a_cycle_through_a_closure():
    # f -> work -> cell -> box -> awaitables -> f: collected once nothing else holds them,
    # both for the idle awaitable and for one made while the idle one is busy
    box = []

    async def work(x):
        return box

    f = async_retry(max_attempts=2, delay=0)(work)
    box.append(f(1))
    box.append(f(2))
    ref = weakref.ref(f)
    del f, work, box
    gc.collect()
    assert ref() is None


def _finished_call():
    """An awaitable of `ident` whose call has completed (result 1)."""
    f = async_retry(max_attempts=2, delay=0)(ident)

    async def main():
        aw = f(1)
        assert await aw == 1
        return aw

    return asyncio.run(main())


def test_names_survive_the_end_of_the_call():
    aw = _finished_call()
    assert aw.__qualname__ == "ident" and aw.__name__ == "ident"


def test_throw_into_finished_call_reraises_it():
    aw = _finished_call()
    with pytest.raises(KeyError):
        aw.throw(KeyError("k"))
    aw.close()  # closing a finished call is a no-op


def test_recursive_calls_each_get_their_own_awaitable():
    @async_retry(max_attempts=2, delay=0)
    async def depth(n):
        return 0 if n == 0 else 1 + await depth(n - 1)

    assert asyncio.run(depth(30)) == 30


def test_reentrant_call_from_an_argument_destructor():
    f = async_retry(max_attempts=2, delay=0)(ident)
    seen = []

    class Reenter:
        def __del__(self):
            seen.append(f(5))  # a call made while the previous one releases its arguments

    async def main():
        assert await f(Reenter()) is not None
        assert len(seen) == 1
        assert await seen.pop() == 5

    asyncio.run(main())


def test_concurrent_calls_keep_their_own_arguments():
    f = async_retry(max_attempts=3, delay=0)(ident)

    async def slow(x):
        await asyncio.sleep(0)
        return x

    g = async_retry(max_attempts=3, delay=0)(slow)

    async def main():
        pending = [f(i) for i in range(20)] + [g(i) for i in range(20)]
        return await asyncio.gather(*pending)

    assert asyncio.run(main()) == list(range(20)) * 2


@pytest.mark.skipif(not hasattr(sys, "getrefcount"), reason="needs reference counts")
def test_reuse_leaves_reference_counts_unchanged():
    f = async_retry(max_attempts=2, delay=0)(ident)
    token = object()

    async def main():
        for _ in range(100):
            await f(token)

    asyncio.run(main())
    before = sys.getrefcount(token), sys.getrefcount(f)
    asyncio.run(main())
    assert (sys.getrefcount(token), sys.getrefcount(f)) == before


def test_callable_object_without_vectorcall_returning_coroutines():
    class Factory:
        def __init__(self):
            self.calls = 0

        def __call__(self, x):
            self.calls += 1
            if self.calls == 1:
                async def boom():
                    raise ConnectionError("first")
                return boom()
            return ident(x)

    fac = Factory()
    f = async_retry(max_attempts=3, delay=0)(fac)
    assert asyncio.run(f(4)) == 4 and fac.calls == 2
    assert asyncio.run(f(5)) == 5 and fac.calls == 3
