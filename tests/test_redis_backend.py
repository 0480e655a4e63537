"""RedisBackend plumbing against a real redis-server: rounds, NOSCRIPT after a restart,
outages logged once, reconnection, the background thread and the asyncio task.

The members here are minimal stand-ins for the breaker/budget links: they ask for one
BREAKER_SYNC per round and record what they get back.
"""
from __future__ import annotations

import gc
import logging
import math
import threading

import pytest

from redis_server import RedisServer
from zenoo_retry import FixedDelayStrategy, InvalidConfigurationError
from zenoo_retry.backends import RedisBackend
from zenoo_retry.backends import _redis_lua as lua

WAIT = 10.0  # generous upper bound for background events; never asserted as a duration


@pytest.fixture(scope="module")
def server():
    with RedisServer() as s:
        yield s


@pytest.fixture
def client(server):
    import redis

    server.start()
    c = redis.Redis(host="127.0.0.1", port=server.port)
    c.flushall()
    c.script_flush()
    yield c
    c.close()


class Member:
    """Reports `fail` failures (and a trip when asked) for breaker `name`; records replies."""

    def __init__(self, backend: RedisBackend, name: str = "svc", trip: bool = False) -> None:
        self.backend, self.name, self.trip = backend, name, trip
        self.replies: list = []
        self.failures = 0
        self.got = threading.Event()

    def _redis_request(self):
        event = lua.EVENT_TRIPPED if self.trip else lua.EVENT_NONE
        return ("breaker_sync", [self.backend.key(self.name, "breaker")],
                [self.backend.host_id, 0, 0, 0, event, 0, 5, 10_000, 1, 10_000, 1000, 1, 60_000, 0])

    def _redis_apply(self, reply) -> None:
        self.replies.append([int(x) for x in reply])
        self.got.set()

    def _redis_failed(self) -> None:
        self.failures += 1


def zr_records(caplog, level):
    return [r for r in caplog.records if r.name == "zenoo_retry" and r.levelno == level]


def test_one_round_syncs_every_member_in_one_pipeline(client):
    b = RedisBackend(client, autostart=False, prefix="zrtest")
    m1, m2 = Member(b, "one", trip=True), Member(b, "two")
    b.attach(m1)
    b.attach(m2)
    assert b.sync_now()
    assert m1.replies[0][0] == lua.OPEN and m2.replies[0][0] == lua.CLOSED
    assert sorted(client.keys("zrtest:*")) == [b"zrtest:{one}:breaker", b"zrtest:{two}:breaker"]
    assert (b.rounds, b.failed_rounds, b.healthy) == (1, 0, True)
    b.close()


def test_scripts_are_loaded_on_demand_and_again_after_a_restart(server, client):
    b = RedisBackend(client, autostart=False)
    m = Member(b)
    b.attach(m)
    assert b.sync_now()                      # NOSCRIPT on a fresh server: loaded, re-run
    assert client.script_exists(b._shas["breaker_sync"]) == [True]
    server.restart()                         # scripts and data are gone
    results = [b.sync_now() for _ in range(3)]
    assert results[-1] is True and len(m.replies) >= 2
    b.close()


def test_an_outage_is_logged_once_and_the_backend_reconnects(server, client, caplog):
    caplog.set_level(logging.DEBUG, logger="zenoo_retry")
    b = RedisBackend(client, autostart=False)
    m = Member(b)
    b.attach(m)
    assert b.sync_now()
    server.stop()
    assert [b.sync_now() for _ in range(4)] == [False] * 4
    assert m.failures == 4 and not b.healthy and b.failed_rounds == 4
    warnings = zr_records(caplog, logging.WARNING)
    assert len(warnings) == 1 and "local state" in warnings[0].getMessage()
    server.start()
    assert b.sync_now() and b.healthy
    assert len(zr_records(caplog, logging.INFO)) == 1
    assert len(zr_records(caplog, logging.WARNING)) == 1
    b.close()


def test_a_paused_redis_fails_the_round_instead_of_hanging(server, client):
    b = RedisBackend(client, autostart=False, timeout=0.2)
    m = Member(b)
    b.attach(m)
    assert b.sync_now()
    server.pause()
    try:
        assert b.sync_now() is False
    finally:
        server.resume()
    server.restart()  # drop the half-read connection state on the server side
    assert any(b.sync_now() for _ in range(3))
    b.close()


def test_reconnect_delays_follow_the_strategy(client):
    b = RedisBackend(client, autostart=False, staleness=0.2,
                     reconnect=FixedDelayStrategy(max_attempts=100, delay=0.7, jitter=False))
    assert b.interval == pytest.approx(0.1) and b.retry_delay() == pytest.approx(0.1)
    b._fail_streak = 3
    assert b.retry_delay() == pytest.approx(0.7)
    b.close()


def test_the_background_thread_syncs_and_survives_a_restart(server, client):
    b = RedisBackend(client, staleness=0.05)
    m = Member(b, trip=True)
    b.attach(m)
    assert m.got.wait(WAIT)
    server.restart()
    m.got.clear()
    n = len(m.replies)
    assert m.got.wait(WAIT) and len(m.replies) > n
    assert client.hget(b.key("svc", "breaker"), "state") == b"1"  # re-created after restart
    b.close()
    assert b._thread is None


def test_members_are_dropped_when_their_object_dies(client):
    from zenoo_retry.circuit_breaker import CircuitBreaker

    b = RedisBackend(client, autostart=False)
    m = Member(b)
    b.attach(m)
    cb = b.share(CircuitBreaker(name="gone"))
    assert len(b.members()) == 2 and b.link(cb) is not None
    del cb
    gc.collect()
    assert b.members() == [m] and b.sync_now()
    b.detach(m)
    assert b.members() == []
    b.close()


async def test_asyncio_client_syncs_on_the_running_loop(server):
    import redis.asyncio as aioredis

    server.start()
    client = aioredis.Redis(host="127.0.0.1", port=server.port)
    async with RedisBackend(client, staleness=0.05) as b:
        assert b.is_async
        m = Member(b, name="async-svc", trip=True)
        b.attach(m)
        import asyncio

        for _ in range(int(WAIT / 0.01)):
            if m.replies:
                break
            await asyncio.sleep(0.01)
        assert m.replies and m.replies[0][0] == lua.OPEN
        with pytest.raises(TypeError, match="async_sync_now"):
            b.sync_now()
        assert await b.async_sync_now()
    assert b._task is None
    await client.aclose()


async def test_asyncio_outage_is_logged_once(server, caplog):
    import redis.asyncio as aioredis

    caplog.set_level(logging.INFO, logger="zenoo_retry")
    server.start()
    client = aioredis.Redis(host="127.0.0.1", port=server.port)
    b = RedisBackend(client, autostart=False)
    m = Member(b)
    b.attach(m)
    assert await b.async_sync_now()
    server.stop()
    assert [await b.async_sync_now() for _ in range(3)] == [False] * 3
    server.start()
    assert await b.async_sync_now()
    assert len(zr_records(caplog, logging.WARNING)) == 1
    assert len(zr_records(caplog, logging.INFO)) == 1
    await b.aclose()
    await client.aclose()


@pytest.mark.parametrize("value", [0, -1, math.nan, math.inf, 61])
def test_bad_staleness_is_named(client, value):
    with pytest.raises(InvalidConfigurationError) as info:
        RedisBackend(client, staleness=value)
    assert info.value.parameter == "staleness" and repr(value) in str(info.value)


@pytest.mark.parametrize("kwargs, match", [
    ({"staleness": "fast"}, "staleness must be a number"),
    ({"timeout": True}, "timeout must be a number"),
    ({"host_id": ""}, "host_id"),
    ({"reconnect": 3}, "reconnect must be a RetryStrategy"),
])
def test_bad_arguments_are_named(client, kwargs, match):
    with pytest.raises(TypeError, match=match):
        RedisBackend(client, **kwargs)


def test_bad_clients_and_prefixes(client):
    with pytest.raises(TypeError, match="needs a client"):
        RedisBackend()
    with pytest.raises(TypeError, match="client must be"):
        RedisBackend(object())
    with pytest.raises(InvalidConfigurationError, match="prefix"):
        RedisBackend(client, prefix="a{b}")
