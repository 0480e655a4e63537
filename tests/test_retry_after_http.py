"""Server-directed waits against a real HTTP server on 127.0.0.1, through requests, httpx
(sync and async) and aiohttp clients decorated with zenoo_retry. Delays are checked
exactly through instant_retries' recorder; nothing asserts on wall-clock time."""
from __future__ import annotations

import aiohttp
import httpx
import pytest
import requests

from ops_http import OK, ScriptedServer, http_date
from zenoo_retry import (
    ExponentialBackoffStrategy,
    FixedDelayStrategy,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryPolicy,
    RetryTimeoutError,
    async_retry,
    retry,
)
from zenoo_retry.classification import ErrorType
from zenoo_retry.retry_after import RetryAfter, parse_retry_after
from zenoo_retry.testing import instant_retries

T0 = 1_800_000_000.0  # a fixed "now" for HTTP-dates


@pytest.fixture(scope="module")
def server():
    with ScriptedServer() as srv:
        yield srv


def plain(max_attempts=4, base=1.0, cap=60.0):
    return ExponentialBackoffStrategy(max_attempts=max_attempts, base_delay=base, max_delay=cap, jitter=False)


def requests_get(url):
    r = requests.get(url, timeout=5)
    r.raise_for_status()
    return r.text


def test_requests_503_retry_after_seconds(server):
    url = server.set("/r503", (503, {"Retry-After": "3"}, b""), (503, {"Retry-After": "3"}, b""), OK)
    fetch = retry(strategy=plain(), respect_retry_after=True)(requests_get)
    with instant_retries() as sleeps:
        assert fetch(url) == "ok"
    assert sleeps.delays == [3.0, 3.0]
    assert server.hits["/r503"] == 3


def test_without_respect_retry_after_the_schedule_is_used(server):
    url = server.set("/plain", (503, {"Retry-After": "3"}, b""), (503, {"Retry-After": "3"}, b""), OK)
    fetch = retry(strategy=plain())(requests_get)
    with instant_retries() as sleeps:
        assert fetch(url) == "ok"
    assert sleeps.delays == [1.0, 2.0]


def test_requests_429_http_date(server):
    url = server.set("/date", (429, {"Retry-After": http_date(T0 + 12)}, b""), OK)
    hint = RetryAfter(clock=lambda: T0)
    fetch = retry(strategy=plain(), respect_retry_after=hint)(requests_get)
    with instant_retries() as sleeps:
        assert fetch(url) == "ok"
    assert sleeps.delays == [12.0]


def test_http_date_in_the_past_means_now(server):
    url = server.set("/past", (503, {"Retry-After": http_date(T0 - 50)}, b""), OK)
    fetch = retry(strategy=plain(), respect_retry_after=RetryAfter(clock=lambda: T0))(requests_get)
    with instant_retries() as sleeps:
        assert fetch(url) == "ok"
    assert sleeps.delays == []  # a zero delay never sleeps
    assert server.hits["/past"] == 2


def test_retry_after_is_clamped_to_max_delay_then_max_hint_delay(server):
    url = server.set("/big", (503, {"Retry-After": "120"}, b""), OK)
    with instant_retries() as sleeps:
        assert retry(strategy=plain(cap=10.0), respect_retry_after=True)(requests_get)(url) == "ok"
    assert sleeps.delays == [10.0]
    server.set("/big", (503, {"Retry-After": "120"}, b""), OK)
    with instant_retries() as sleeps:
        f = retry(strategy=plain(cap=10.0), respect_retry_after=True, max_hint_delay=90.0)(requests_get)
        assert f(url) == "ok"
    assert sleeps.delays == [90.0]


def test_retry_after_beyond_the_total_timeout_gives_up_at_once(server):
    url = server.set("/late", (503, {"Retry-After": "100"}, b""), OK)
    f = retry(strategy=plain(), respect_retry_after=True, max_hint_delay=200.0, timeout=5.0)(requests_get)
    with instant_retries() as sleeps:
        with pytest.raises(RetryTimeoutError) as info:
            f(url)
    assert sleeps.delays == []
    assert isinstance(info.value.last_exception, requests.HTTPError)
    assert server.hits["/late"] == 1


def test_garbage_retry_after_falls_back_to_the_schedule(server):
    url = server.set("/junk", (503, {"Retry-After": "soon-ish"}, b""), OK)
    with instant_retries() as sleeps:
        assert retry(strategy=plain(), respect_retry_after=True)(requests_get)(url) == "ok"
    assert sleeps.delays == [1.0]


def test_rejected_response_result_uses_its_retry_after(server):
    url = server.set("/result", (503, {"Retry-After": "4"}, b""), OK)

    @retry(strategy=plain(), respect_retry_after=True, retry_on_result=lambda r: r.status_code == 503)
    def get():
        return requests.get(url, timeout=5)

    with instant_retries() as sleeps:
        assert get().status_code == 200
    assert sleeps.delays == [4.0]


def test_rate_limit_strategy_for_429_and_backoff_for_503(server):
    url = server.set("/mixed", (429, {}, b""), (503, {}, b""), (429, {}, b""), OK)
    f = retry(strategy=plain(max_attempts=5), retryable_errors=[ErrorType.SERVER, ErrorType.RATE_LIMIT],
              rate_limit_strategy=FixedDelayStrategy(max_attempts=5, delay=30.0))(requests_get)
    with instant_retries() as sleeps:
        assert f(url) == "ok"
    # 429 -> the rate-limit schedule (not capped by the main max_delay), 503 -> backoff
    assert sleeps.delays == [30.0, 2.0, 30.0]


def test_rate_limit_retry_after_beats_the_rate_limit_schedule(server):
    url = server.set("/rl-hint", (429, {"Retry-After": "7"}, b""), OK)
    f = retry(strategy=plain(), respect_retry_after=True,
              rate_limit_strategy=FixedDelayStrategy(delay=30.0))(requests_get)
    with instant_retries() as sleeps:
        assert f(url) == "ok"
    assert sleeps.delays == [7.0]


def test_client_errors_are_permanent(server):
    url = server.set("/404", (404, {}, b""), OK)
    f = retry(strategy=plain(), permanent_errors=[ErrorType.CLIENT])(requests_get)
    with instant_retries() as sleeps:
        with pytest.raises(requests.HTTPError):
            f(url)
    assert sleeps.delays == [] and server.hits["/404"] == 1


def test_retryable_errors_exhausted(server):
    url = server.set("/always", (502, {}, b""))
    f = retry(strategy=plain(max_attempts=3), retryable_errors=["server"])(requests_get)
    with instant_retries() as sleeps:
        with pytest.raises(MaxRetriesExceededError) as info:
            f(url)
    assert sleeps.delays == [1.0, 2.0]
    assert info.value.last_exception.response.status_code == 502


def test_httpx_sync(server):
    url = server.set("/hx", (503, {"Retry-After": "2"}, b""), OK)

    @retry(strategy=plain(), respect_retry_after=True, retryable_errors=["server", "network"])
    def get():
        with httpx.Client(timeout=5) as client:
            r = client.get(url)
            r.raise_for_status()
            return r.text

    with instant_retries() as sleeps:
        assert get() == "ok"
    assert sleeps.delays == [2.0]


async def test_httpx_async(server):
    url = server.set("/hxa", (429, {"Retry-After": "5"}, b""), (503, {}, b""), OK)

    @async_retry(strategy=plain(), respect_retry_after=True)
    async def get():
        async with httpx.AsyncClient(timeout=5) as client:
            r = await client.get(url)
            r.raise_for_status()
            return r.text

    with instant_retries() as sleeps:
        assert await get() == "ok"
    assert sleeps.delays == [5.0, 2.0]


async def test_aiohttp(server):
    url = server.set("/aio", (503, {"Retry-After": http_date(T0 + 8)}, b""), OK)

    @async_retry(strategy=plain(), respect_retry_after=RetryAfter(clock=lambda: T0),
                 retryable_errors=[ErrorType.SERVER])
    async def get():
        async with aiohttp.ClientSession(raise_for_status=True) as session:
            async with session.get(url) as resp:
                return await resp.text()

    with instant_retries() as sleeps:
        assert await get() == "ok"
    assert sleeps.delays == [8.0]


async def test_aiohttp_client_error_is_not_retried(server):
    url = server.set("/aio403", (403, {}, b""), OK)

    @async_retry(strategy=plain(), permanent_errors=["client"])
    async def get():
        async with aiohttp.ClientSession(raise_for_status=True) as session:
            async with session.get(url) as resp:
                return await resp.text()

    with instant_retries():
        with pytest.raises(aiohttp.ClientResponseError) as info:
            await get()
    assert info.value.status == 403 and server.hits["/aio403"] == 1


def test_exception_attribute_retry_after():
    class Throttled(Exception):
        def __init__(self, after):
            self.retry_after = after

    errors = [Throttled(2.5), Throttled("6"), Throttled(None)]

    @retry(strategy=plain(), respect_retry_after=True)
    def op():
        if errors:
            raise errors.pop(0)
        return "done"

    with instant_retries(max_attempts=4) as sleeps:
        assert op() == "done"
    assert sleeps.delays == [2.5, 6.0, 4.0]  # the third has no hint: schedule (attempt 3)


def test_user_delay_hint_is_asked_before_retry_after():
    class E(Exception):
        retry_after = 9

    calls = []
    op = retry(strategy=plain(max_attempts=2), respect_retry_after=True,
               delay_hint=lambda e: calls.append(e) or 1.5)(lambda: (_ for _ in ()).throw(E()))
    with instant_retries() as sleeps:
        with pytest.raises(MaxRetriesExceededError):
            op()
    assert sleeps.delays == [1.5] and len(calls) == 1


@pytest.mark.parametrize(
    "value, expected",
    [("120", 120.0), (" 7 ", 7.0), ("1.5", 1.5), (b"3", 3.0), (4, 4.0), (0, 0.0),
     ("-1", None), ("", None), ("nan", None), ("inf", None), ("soon", None), (None, None), (True, None),
     (http_date(T0 + 30), 30.0), (http_date(T0 - 30), 0.0), ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0)],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=T0) == expected


def test_retry_after_finds_headers_on_every_shape():
    hint = RetryAfter(clock=lambda: T0)

    class Resp:
        headers = {"retry-after": "11"}

    class WithResponse(Exception):
        response = Resp()

    class WithHeaders(Exception):
        headers = {"Retry-After": "12"}

    assert hint(WithResponse()) == 11.0
    assert hint(WithHeaders()) == 12.0
    assert hint(Resp()) == 11.0
    assert hint(ValueError()) is None
    assert RetryAfter(header="X-Wait")(type("R", (), {"headers": {"x-wait": "5"}})()) == 5.0


def test_bad_arguments():
    with pytest.raises(TypeError, match="respect_retry_after"):
        retry(respect_retry_after="yes")
    with pytest.raises(InvalidConfigurationError, match="max_hint_delay") as info:
        retry(max_hint_delay=-1.0)
    assert info.value.parameter == "max_hint_delay"
    with pytest.raises(TypeError, match="max_hint_delay"):
        RetryPolicy(max_hint_delay="1")
    with pytest.raises(TypeError, match="rate_limit_strategy"):
        retry(rate_limit_strategy=30)
    with pytest.raises(TypeError, match="clock"):
        RetryAfter(clock=5)
    with pytest.raises(TypeError, match="header"):
        RetryAfter(header="")
    with pytest.raises(TypeError, match="unexpected keyword"):
        retry(respect_retry_afterr=True)


from hypothesis import given, strategies as st  # noqa: E402


@given(st.integers(min_value=0, max_value=10**12))
def test_delta_seconds_round_trip(n):
    assert parse_retry_after(str(n)) == float(n)


@given(st.one_of(st.text(max_size=40), st.binary(max_size=40), st.floats(allow_nan=True),
                 st.integers(min_value=-10**6, max_value=10**6)),
       st.floats(min_value=0, max_value=4e9))
def test_parse_never_gives_a_bad_delay(value, now):
    out = parse_retry_after(value, now=now)
    assert out is None or (out >= 0 and out == out and out != float("inf"))


@given(st.integers(min_value=-10**6, max_value=10**6), st.integers(min_value=-10**6, max_value=10**6))
def test_http_date_delay_is_the_difference_clamped_at_zero(offset, now_shift):
    now = T0 + now_shift
    assert parse_retry_after(http_date(T0 + offset), now=now) == max(0.0, T0 + offset - now)
