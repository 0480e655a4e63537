"""Error classification: built-ins, our errors, HTTP statuses, and the real exceptions of
requests / httpx / aiohttp (connection refused on a closed port, read timeouts against a
slow handler on 127.0.0.1); the registry; error-type lists on policies."""
from __future__ import annotations

import asyncio
import errno
import socket
import sqlite3
import urllib.error

import aiohttp
import httpx
import pytest
import requests

from ops_http import ScriptedServer, closed_port
from zenoo_retry import (
    CircuitBreakerOpenError,
    ExponentialBackoffStrategy,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryPolicy,
    RetryTimeoutError,
    async_retry,
    retry,
)
from zenoo_retry.classification import (
    ErrorClassifier,
    ErrorType,
    classify,
    classify_status,
    default_classifier,
    error_types,
    register_error_type,
)
from zenoo_retry.testing import instant_retries


def status_error(status):
    e = Exception(f"HTTP {status}")
    e.status_code = status
    return e


@pytest.mark.parametrize(
    "exc, kind",
    [
        (ConnectionRefusedError(), ErrorType.NETWORK),
        (ConnectionResetError(), ErrorType.NETWORK),
        (BrokenPipeError(), ErrorType.NETWORK),
        (TimeoutError(), ErrorType.TIMEOUT),
        (socket.timeout(), ErrorType.TIMEOUT),
        (asyncio.TimeoutError(), ErrorType.TIMEOUT),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), ErrorType.NETWORK),
        (OSError(errno.ECONNRESET, "reset"), ErrorType.NETWORK),
        (OSError(errno.EHOSTUNREACH, "no route"), ErrorType.NETWORK),
        (OSError(errno.ENETUNREACH, "unreachable"), ErrorType.NETWORK),
        (OSError(errno.ETIMEDOUT, "timed out"), ErrorType.TIMEOUT),
        (OSError(errno.EAGAIN, "again"), ErrorType.TRANSIENT),
        (OSError(errno.EBUSY, "busy"), ErrorType.TRANSIENT),
        (FileNotFoundError(errno.ENOENT, "nope"), ErrorType.PERMANENT),
        (PermissionError(errno.EACCES, "denied"), ErrorType.PERMANENT),
        (OSError("no errno"), ErrorType.UNKNOWN),
        (ValueError(), ErrorType.PERMANENT),
        (KeyError("k"), ErrorType.PERMANENT),
        (TypeError(), ErrorType.PERMANENT),
        (RuntimeError(), ErrorType.UNKNOWN),
        (Exception(), ErrorType.UNKNOWN),
        (status_error(429), ErrorType.RATE_LIMIT),
        (status_error(408), ErrorType.TIMEOUT),
        (status_error(500), ErrorType.SERVER),
        (status_error(503), ErrorType.SERVER),
        (status_error(400), ErrorType.CLIENT),
        (status_error(404), ErrorType.CLIENT),
        (urllib.error.HTTPError("http://x", 502, "bad gateway", {}, None), ErrorType.SERVER),
        (CircuitBreakerOpenError(name="db"), ErrorType.CIRCUIT_BREAKER),
        (RetryTimeoutError(timeout=1.0), ErrorType.TIMEOUT),
        (InvalidConfigurationError("x"), ErrorType.PERMANENT),
        (MaxRetriesExceededError(), ErrorType.UNKNOWN),
        (sqlite3.OperationalError("database is locked"), ErrorType.TRANSIENT),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), ErrorType.PERMANENT),
        (requests.exceptions.ChunkedEncodingError(), ErrorType.TRANSIENT),
        (requests.exceptions.MissingSchema(), ErrorType.PERMANENT),
        (requests.exceptions.TooManyRedirects(), ErrorType.PERMANENT),
        (httpx.RemoteProtocolError("peer closed"), ErrorType.TRANSIENT),
        (httpx.UnsupportedProtocol("ftp"), ErrorType.PERMANENT),
        (httpx.PoolTimeout("pool"), ErrorType.TIMEOUT),
        (aiohttp.ServerDisconnectedError(), ErrorType.NETWORK),
        (aiohttp.ClientPayloadError("truncated"), ErrorType.TRANSIENT),
        (aiohttp.InvalidURL("x"), ErrorType.PERMANENT),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_default_classification(exc, kind):
    assert classify(exc) is kind


def test_classify_status_table():
    assert [classify_status(s) for s in (200, 301, 404, 408, 429, 500, 599)] == [
        None, None, ErrorType.CLIENT, ErrorType.TIMEOUT, ErrorType.RATE_LIMIT, ErrorType.SERVER, ErrorType.SERVER]


def test_status_on_the_response_a_library_error_carries():
    class Resp:
        status_code = 503

    e = requests.HTTPError("boom", response=Resp())
    assert classify(e) is ErrorType.SERVER


# --- real client exceptions --------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with ScriptedServer() as srv:
        yield srv


def raised(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the point is to look at it
        return exc
    raise AssertionError("did not raise")


async def araised(coro_fn):
    try:
        await coro_fn()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("did not raise")


def test_connection_refused_real_clients():
    url = f"http://127.0.0.1:{closed_port()}/"
    e = raised(lambda: requests.get(url, timeout=2))
    assert isinstance(e, requests.ConnectionError) and classify(e) is ErrorType.NETWORK
    e = raised(lambda: httpx.get(url, timeout=2))
    assert isinstance(e, httpx.ConnectError) and classify(e) is ErrorType.NETWORK
    s = socket.socket()
    e = raised(lambda: s.connect(("127.0.0.1", closed_port())))
    s.close()
    assert isinstance(e, ConnectionRefusedError) and classify(e) is ErrorType.NETWORK


async def test_connection_refused_aiohttp():
    url = f"http://127.0.0.1:{closed_port()}/"

    async def get():
        async with aiohttp.ClientSession() as session:
            async with session.get(url):
                pass

    e = await araised(get)
    assert isinstance(e, aiohttp.ClientConnectorError) and classify(e) is ErrorType.NETWORK


def test_read_timeouts_real_clients(server):
    url = server.set("/slow", ("sleep", 2.0))
    e = raised(lambda: requests.get(url, timeout=0.2))
    assert isinstance(e, requests.ReadTimeout) and classify(e) is ErrorType.TIMEOUT
    e = raised(lambda: httpx.get(url, timeout=0.2))
    assert isinstance(e, httpx.ReadTimeout) and classify(e) is ErrorType.TIMEOUT


async def test_read_timeout_aiohttp(server):
    url = server.set("/slow-aio", ("sleep", 2.0))

    async def get():
        timeout = aiohttp.ClientTimeout(sock_read=0.2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url) as resp:
                await resp.text()

    e = await araised(get)
    assert classify(e) is ErrorType.TIMEOUT


def test_network_errors_retried_then_exhausted():
    url = f"http://127.0.0.1:{closed_port()}/"
    strategy = ExponentialBackoffStrategy(max_attempts=3, base_delay=0.5, jitter=False)
    get = retry(strategy=strategy, retryable_errors=[ErrorType.NETWORK, ErrorType.TIMEOUT])(
        lambda: requests.get(url, timeout=2))
    with instant_retries() as sleeps:
        with pytest.raises(MaxRetriesExceededError) as info:
            get()
    assert sleeps.delays == [0.5, 1.0]
    assert isinstance(info.value.last_exception, requests.ConnectionError)


async def test_async_network_errors_not_in_retryable_stop_at_once():
    url = f"http://127.0.0.1:{closed_port()}/"
    calls = []

    @async_retry(max_attempts=5, retryable_errors=[ErrorType.SERVER])
    async def get():
        calls.append(1)
        async with httpx.AsyncClient() as client:
            await client.get(url)

    with instant_retries():
        with pytest.raises(httpx.ConnectError):
            await get()
    assert len(calls) == 1


# --- registry and options -----------------------------------------------------------


class QuotaExceeded(Exception):
    pass


class HardQuota(QuotaExceeded):
    pass


def test_registry_most_specific_class_wins():
    c = ErrorClassifier()
    c.register(QuotaExceeded, ErrorType.RATE_LIMIT)
    assert c.classify(HardQuota()) is ErrorType.RATE_LIMIT
    c.register(HardQuota, "permanent")
    assert c.classify(HardQuota()) is ErrorType.PERMANENT
    assert c.classify(QuotaExceeded()) is ErrorType.RATE_LIMIT
    c.unregister(HardQuota)
    assert c.classify(HardQuota()) is ErrorType.RATE_LIMIT
    assert classify(QuotaExceeded()) is ErrorType.UNKNOWN  # the default one is untouched


def test_registered_function_first():
    c = ErrorClassifier()
    c.register_function(lambda e: ErrorType.TRANSIENT if "flaky" in str(e) else None)
    assert c.classify(ValueError("flaky thing")) is ErrorType.TRANSIENT
    assert c.classify(ValueError("bad")) is ErrorType.PERMANENT
    c.register_function(lambda e: "nope")
    with pytest.raises(TypeError, match="must return an ErrorType"):
        c.classify(ValueError())


def test_default_registry_and_policy_classifier():
    class Locked(Exception):
        pass

    register_error_type(Locked, ErrorType.TRANSIENT)
    try:
        assert classify(Locked()) is ErrorType.TRANSIENT
        errors = [Locked(), Locked()]

        @retry(max_attempts=3, retryable_errors=["transient"])
        def op():
            if errors:
                raise errors.pop(0)
            return "ok"

        with instant_retries():
            assert op() == "ok"
    finally:
        default_classifier.unregister(Locked)

    own = ErrorClassifier()
    own.register(Locked, ErrorType.PERMANENT)
    calls = []

    @retry(max_attempts=3, retryable_errors=["transient"], classifier=own)
    def op2():
        calls.append(1)
        raise Locked()

    with instant_retries():
        with pytest.raises(Locked):
            op2()
    assert calls == [1]


def test_seed_002_custom_configuration_lists():
    """Seed 002's example: retry transient/timeout/network/rate-limit, never permanent/client."""
    policy = RetryPolicy(
        ExponentialBackoffStrategy(max_attempts=5, base_delay=0.2, multiplier=1.5, jitter=False),
        retryable_exceptions=Exception,
        retryable_errors=[ErrorType.TRANSIENT, ErrorType.TIMEOUT, ErrorType.NETWORK, ErrorType.RATE_LIMIT],
        permanent_errors=[ErrorType.PERMANENT, ErrorType.CLIENT],
    )
    seen = []

    def run(*errors):
        errs = list(errors)

        @retry(policy)
        def op():
            seen.append(1)
            if errs:
                raise errs.pop(0)
            return "ok"

        return op()

    with instant_retries() as sleeps:
        assert run(TimeoutError(), ConnectionResetError(), status_error(429)) == "ok"
        assert len(seen) == 4 and sleeps.delays == pytest.approx([0.2, 0.3, 0.45])
        seen.clear()
        with pytest.raises(Exception, match="HTTP 404"):
            run(status_error(404))
        assert len(seen) == 1
        seen.clear()
        with pytest.raises(RuntimeError):  # unknown is not in the retryable list
            run(RuntimeError())
        assert len(seen) == 1
    assert policy.copy().retryable_errors == policy.retryable_errors


def test_error_type_lists_compose_with_retry_condition():
    decided = []

    def condition(exc, attempt):
        decided.append(attempt.number)
        return attempt.number < 2

    op_errors = [TimeoutError(), TimeoutError(), TimeoutError()]

    @retry(max_attempts=5, retryable_errors=["timeout"], retry_condition=condition)
    def op():
        raise op_errors.pop(0)

    with instant_retries():
        with pytest.raises(TimeoutError):
            op()
    assert decided == [1, 2]


def test_cancellation_is_never_classified_into_a_retry():
    calls = []

    @async_retry(max_attempts=5, retryable_errors=list(ErrorType))
    async def op():
        calls.append(1)
        raise asyncio.CancelledError()

    async def main():
        with pytest.raises(asyncio.CancelledError):
            await op()

    with instant_retries():
        asyncio.run(main())
    assert calls == [1]


def test_bad_arguments():
    with pytest.raises(InvalidConfigurationError, match="retryable_errors") as info:
        retry(retryable_errors=["networkk"])
    assert info.value.parameter == "retryable_errors" and info.value.value == "networkk"
    with pytest.raises(TypeError, match="permanent_errors"):
        retry(permanent_errors=42)
    with pytest.raises(InvalidConfigurationError, match="permanent_errors"):
        RetryPolicy(permanent_errors=[ErrorType.CLIENT, 3])
    with pytest.raises(TypeError, match="classifier"):
        retry(classifier=classify)
    with pytest.raises(TypeError, match="exc_type"):
        ErrorClassifier().register("Quota", ErrorType.RATE_LIMIT)
    with pytest.raises(InvalidConfigurationError, match="error_type"):
        ErrorClassifier().register(QuotaExceeded, "slow")
    with pytest.raises(TypeError, match="exc must be an exception"):
        classify("boom")
    with pytest.raises(TypeError, match="fn must be callable"):
        ErrorClassifier().register_function(3)
    assert error_types("x", "RATE-LIMIT") == {ErrorType.RATE_LIMIT}
    assert str(ErrorType.SERVER) == "server"


from hypothesis import given, strategies as st  # noqa: E402


@given(st.integers(min_value=100, max_value=599))
def test_any_status_on_an_error_classifies_like_the_status_table(status):
    expected = classify_status(status)
    assert classify(status_error(status)) is (expected if expected is not None else ErrorType.UNKNOWN)
