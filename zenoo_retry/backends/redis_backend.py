"""RedisBackend: one connection, one background syncer, many breakers and budgets per host.

The user's calls never touch Redis. Each breaker or budget attached to the backend keeps
deciding in C on its local state; a background thread (sync client) or task (asyncio
client) syncs every attached object with Redis every ``staleness / 2`` seconds, in one
pipelined round trip for all of them:

* it sends what happened locally since the last sync (counters batched from the C object's
  own totals, and the local transition, if any),
* a Lua script applies it to the fleet's state atomically with the server's clock,
* and the reply — the fleet's state — is adopted by the local object.

So a change made on one host reaches every other host within ``staleness`` (plus one round
trip). When Redis is unreachable or slow, the rounds fail, the objects simply keep running
on their local state, the problem is logged once on the ``zenoo_retry`` logger, and the
backend retries with jittered exponential backoff until Redis answers again (then it logs
that too). Counters of a failed round are not re-sent (at most once: a long outage does not
dump stale failures on the fleet when Redis comes back).

``redis`` (redis-py >= 4.2) is imported lazily: install the ``zenoo_retry[redis]`` extra.
"""
from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from ..exceptions import InvalidConfigurationError
from ..strategies import ExponentialBackoffStrategy, RetryStrategy
from . import _redis_lua

__all__ = ["RedisBackend", "SyncRequest"]

logger = logging.getLogger("zenoo_retry")

#: (script name in _redis_lua.SCRIPTS, keys, args) — one EVALSHA of a round
SyncRequest = Tuple[str, Sequence[str], Sequence[Any]]


class _Member(Protocol):
    """What an object attached to a backend provides (the breaker and budget links)."""

    def _redis_request(self) -> Optional[SyncRequest]:
        """This round's script call, or None to skip the round (nothing to say or ask)."""

    def _redis_apply(self, reply: Any) -> None:
        """Adopt the script's reply (the fleet's state)."""

    def _redis_failed(self) -> None:
        """The round failed: keep going on local state."""

    # optional: def _redis_alive(self) -> bool -- False once the synced object is gone


def _check_positive(name: str, value: object, upper: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    v = float(value)
    if not (0.0 < v <= upper):  # also rejects NaN
        raise InvalidConfigurationError(
            f"{name} must be > 0 and <= {upper:g} seconds, got {value!r}",
            parameter=name, value=value)
    return v


def check_name(name: object, parameter: str = "name") -> str:
    """A breaker/budget name usable in a Redis key (raises naming the bad value)."""
    if not isinstance(name, str):
        raise TypeError(f"{parameter} must be a str, got {name!r}")
    if not (1 <= len(name) <= 200) or any(c in name for c in "{}") or not name.isprintable():
        raise InvalidConfigurationError(
            f"{parameter} must be 1-200 printable characters without '{{' or '}}', got {name!r}",
            parameter=parameter, value=name)
    return name


def _redis_modules(is_async: bool) -> Tuple[Any, Any]:
    """(redis package, redis.asyncio or None), imported lazily with a helpful error."""
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "RedisBackend needs redis-py: pip install 'zenoo_retry[redis]'") from exc
    aio = None
    if is_async:
        import redis.asyncio as aio
    return redis, aio


def _is_async_client(client: Any) -> bool:
    try:
        import redis.asyncio
    except ImportError:  # pragma: no cover
        return False
    return isinstance(client, redis.asyncio.Redis)


def _own_client(client: Any, timeout: float, is_async: bool) -> Any:
    """A client with the same connection settings as ``client`` but its own small pool,
    ``timeout`` on connect and on every reply, and no hidden retries: a paused or
    unreachable Redis fails a round within ``timeout`` and our reconnect backoff takes over.
    """
    redis, _ = _redis_modules(is_async)
    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs)
    kwargs["socket_timeout"] = timeout
    kwargs["socket_connect_timeout"] = timeout
    kwargs.pop("retry", None)
    kwargs.pop("retry_on_timeout", None)
    try:
        if is_async:
            from redis.asyncio.retry import Retry
        else:
            from redis.retry import Retry
        from redis.backoff import NoBackoff
        kwargs["retry"] = Retry(NoBackoff(), 0)
    except ImportError:  # pragma: no cover - very old redis-py
        pass
    new_pool = type(pool)(connection_class=pool.connection_class, max_connections=4, **kwargs)
    return type(client)(connection_pool=new_pool)


def _default_host_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


_BACKENDS: "weakref.WeakSet[RedisBackend]" = weakref.WeakSet()


class RedisBackend:
    """Shares the state of breakers and budgets across hosts through one Redis server.

    ``client`` is a ``redis.Redis`` (a background thread syncs) or a ``redis.asyncio.Redis``
    (a task on the running event loop syncs: create the backend inside the loop, or call
    ``await backend.start()`` / use ``async with backend``); or give ``url=`` for a sync
    client. The backend opens its own small connection pool with the client's settings.

    ``staleness`` bounds how old the fleet state a host acts on may be (default 0.1 s): the
    sync period is ``staleness / 2``. ``timeout`` bounds each round trip (default
    ``max(0.25, 2 * staleness)``), ``reconnect`` is the strategy spacing reconnection
    attempts (default: exponential from ``staleness`` to 2 s, full jitter). Keys are
    ``<prefix>:{<name>}:breaker|budget|hosts|alloc``.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        url: Optional[str] = None,
        prefix: str = "zenoo_retry",
        staleness: float = 0.1,
        timeout: Optional[float] = None,
        reconnect: Optional[RetryStrategy] = None,
        host_id: Optional[str] = None,
        autostart: bool = True,
    ) -> None:
        self.staleness = _check_positive("staleness", staleness, 60.0)
        self.timeout = _check_positive(
            "timeout", max(0.25, 2 * self.staleness) if timeout is None else timeout, 60.0)
        self.prefix = check_name(prefix, "prefix")
        if client is None and url is None:
            raise TypeError("RedisBackend needs a client (redis.Redis or redis.asyncio.Redis) "
                            "or url='redis://host:port/db'")
        if client is not None and url is not None:
            raise TypeError("give RedisBackend either client or url, not both")
        if url is not None:
            if not isinstance(url, str):
                raise TypeError(f"url must be a str, got {url!r}")
            redis, _ = _redis_modules(False)
            client = redis.Redis.from_url(url)
        self.is_async = _is_async_client(client)
        if not self.is_async:
            redis, _ = _redis_modules(False)
            if not isinstance(client, redis.Redis):
                raise TypeError(
                    f"client must be a redis.Redis or redis.asyncio.Redis, got {client!r}")
        if reconnect is None:
            reconnect = ExponentialBackoffStrategy(
                max_attempts=1_000_000, base_delay=self.staleness, multiplier=2.0,
                max_delay=max(2.0, self.staleness), jitter=True)
        elif not isinstance(reconnect, RetryStrategy):
            raise TypeError(f"reconnect must be a RetryStrategy, got {reconnect!r}")
        self.reconnect = reconnect
        if host_id is not None and (not isinstance(host_id, str) or not host_id):
            raise TypeError(f"host_id must be a non-empty str, got {host_id!r}")
        self._fixed_host_id = host_id
        self.host_id = host_id or _default_host_id()
        self.autostart = bool(autostart)
        self.client = client
        self._own = _own_client(client, self.timeout, self.is_async)
        self._shas: Dict[str, str] = {n: _redis_lua.sha1(s) for n, s in _redis_lua.SCRIPTS.items()}
        self._lock = threading.Lock()
        self._round_lock = threading.Lock()
        self._async_round_lock: Optional[asyncio.Lock] = None
        self._members: List[Any] = []
        self._next_index = 0
        # health, for logging once and for introspection
        self.healthy = True
        self.rounds = 0
        self.failed_rounds = 0
        self.last_sync: Optional[float] = None  # time.monotonic() of the last good round
        self._down_since = 0.0
        self._fail_streak = 0
        self._closed = False
        # runners
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._task: Optional["asyncio.Task[None]"] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._async_wake: Optional[asyncio.Event] = None
        _BACKENDS.add(self)

    # -- keys and members ---------------------------------------------------------------

    @property
    def interval(self) -> float:
        """Seconds between two sync rounds (``staleness / 2``)."""
        return self.staleness / 2

    def key(self, name: str, kind: str) -> str:
        """The Redis key of ``kind`` ("breaker", "budget", "hosts", "alloc") for ``name``."""
        return f"{self.prefix}:{{{name}}}:{kind}"

    def attach(self, member: _Member) -> None:
        """Sync ``member`` from now on, until it reports ``_redis_alive() == False`` (the
        object it links was garbage-collected) or is detached."""
        if self._closed:
            raise RuntimeError("this RedisBackend is closed")
        with self._lock:
            self._members.append(member)
        if self.autostart:
            if not self.is_async:
                self.start()
            else:
                try:
                    asyncio.get_running_loop()
                except RuntimeError:
                    pass
                else:
                    self.start()
        self.wake()

    def detach(self, member: _Member) -> None:
        with self._lock:
            self._members = [m for m in self._members if m is not member]

    def members(self) -> List[Any]:
        """The live members (drops those whose object is gone)."""
        with self._lock:
            live = [m for m in self._members
                    if getattr(m, "_redis_alive", None) is None or m._redis_alive()]
            self._members = live
        return list(live)

    # -- sharing breakers and budgets ----------------------------------------------------

    def share(self, obj: Any, name: Optional[str] = None) -> Any:
        """Share ``obj`` (a CircuitBreaker / AdvancedCircuitBreaker or a token-bucket
        RetryBudget) with every process, on any host, that shares the same ``name`` on the
        same Redis and prefix; returns ``obj``. ``name`` defaults to the breaker's name.

        The object keeps deciding in C on its local state; the backend syncs it with the
        fleet every ``staleness / 2`` s (and at once after a local transition).
        """
        from ._redis_links import BreakerLink, BudgetLink

        if hasattr(obj, "_zr_sync_view") and hasattr(obj, "_zr_adopt"):
            name = check_name(name if name is not None else obj.name)
            cls: Any = BreakerLink
        elif hasattr(obj, "_zr_adopt") and hasattr(obj, "available_tokens"):
            if name is None:
                raise TypeError("sharing a RetryBudget needs a name=")
            name = check_name(name)
            cls = BudgetLink
        else:
            raise TypeError(f"share() takes a CircuitBreaker or a RetryBudget, got {obj!r}")
        in_shm = obj.config.get("shared") if cls is BreakerLink else getattr(obj, "shared", None)
        if in_shm:
            raise TypeError(
                f"{obj!r} already lives in shared memory ({in_shm!r}); an object is shared "
                "either in shared memory or on Redis, not both")
        for m in self.members():
            if getattr(m, "_ref", lambda: None)() is obj:
                raise ValueError(f"{obj!r} is already shared by this backend")
        with self._lock:
            index = self._next_index
            self._next_index += 1
        self.attach(cls(self, obj, name, index))
        return obj

    def circuit_breaker(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """A new :class:`~zenoo_retry.CircuitBreaker` named ``name`` (same arguments as the
        class), shared through this backend. ``cls=AdvancedCircuitBreaker`` picks the class."""
        from ..circuit_breaker import CircuitBreaker

        cls = kwargs.pop("cls", CircuitBreaker)
        return self.share(cls(*args, name=check_name(name), **kwargs))

    def retry_budget(self, name: str, capacity: float = 100.0, refill_rate: float = 10.0,
                     **kwargs: Any) -> Any:
        """A new token-bucket :class:`~zenoo_retry.RetryBudget` shared under ``name``: the
        whole fleet spends one bucket of ``capacity`` tokens refilled at ``refill_rate``/s."""
        from ..budget import RetryBudget

        return self.share(RetryBudget(capacity, refill_rate, **kwargs), name=check_name(name))

    def link(self, obj: Any) -> Any:
        """The link syncing ``obj`` (its ``fleet`` / ``fleet_tokens`` show the fleet's state
        as last seen), or None."""
        for m in self.members():
            if getattr(m, "_ref", lambda: None)() is obj:
                return m
        return None

    def reset(self, name: str) -> None:
        """Forget the fleet state of ``name`` in Redis (sync client; for operators and
        tests). Local objects keep their own state until they next sync."""
        if self.is_async:
            raise TypeError("this backend has an asyncio client: use await backend.areset(name)")
        name = check_name(name)
        self._own.delete(*(self.key(name, k) for k in ("breaker", "budget", "hosts", "alloc")))

    async def areset(self, name: str) -> None:
        """:meth:`reset` for an asyncio client."""
        name = check_name(name)
        await self._own.delete(*(self.key(name, k) for k in ("breaker", "budget", "hosts", "alloc")))

    def wake(self) -> None:
        """Sync as soon as possible (a local transition happened); safe from any thread."""
        self._wake.set()
        loop, ev = self._loop, self._async_wake
        if loop is not None and ev is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # loop closing
                pass

    # -- one round -----------------------------------------------------------------------

    def _collect(self) -> List[Tuple[Any, SyncRequest]]:
        work = []
        for m in self.members():
            try:
                req = m._redis_request()
            except Exception:  # a bug in a member must not stop the others
                logger.exception("zenoo_retry: Redis sync of %r failed to prepare", m)
                continue
            if req is not None:
                work.append((m, req))
        return work

    def _queue(self, pipe: Any, work: List[Tuple[Any, SyncRequest]]) -> None:
        for _m, (script, keys, args) in work:
            pipe.evalsha(self._shas[script], len(keys), *keys, *args)

    def _check(self, replies: List[Any]) -> bool:
        """True when the replies need the scripts (re)loaded; raises any other error."""
        redis, _ = _redis_modules(False)
        if any(isinstance(r, redis.exceptions.NoScriptError) for r in replies):
            return True
        for r in replies:
            if isinstance(r, BaseException):
                raise r
        return False

    def _finish(self, work: List[Tuple[Any, SyncRequest]], replies: List[Any]) -> None:
        self.rounds += 1
        self.last_sync = time.monotonic()
        self._fail_streak = 0
        if not self.healthy:
            self.healthy = True
            logger.info("zenoo_retry: Redis %s answers again after %.1f s; shared state resumed",
                        self._where(), time.monotonic() - self._down_since)
        for (m, _req), reply in zip(work, replies):
            try:
                m._redis_apply(reply)
            except Exception:
                logger.exception("zenoo_retry: adopting the Redis state of %r failed", m)

    def _failed(self, work: List[Tuple[Any, SyncRequest]], exc: BaseException) -> None:
        self.failed_rounds += 1
        self._fail_streak += 1
        if self.healthy:
            self.healthy = False
            self._down_since = time.monotonic()
            logger.warning(
                "zenoo_retry: Redis %s is unreachable or slow (%s: %s); %d breaker(s)/budget(s) "
                "keep running on local state and the backend reconnects in the background",
                self._where(), type(exc).__name__, exc, len(work))
        else:
            logger.debug("zenoo_retry: Redis %s still unreachable (%s)", self._where(), exc)
        for m, _req in work:
            try:
                m._redis_failed()
            except Exception:
                logger.exception("zenoo_retry: %r failed to fall back to local state", m)

    def _where(self) -> str:
        kw = getattr(self._own.connection_pool, "connection_kwargs", {})
        if "path" in kw:
            return f"unix:{kw['path']}"
        return f"{kw.get('host', '?')}:{kw.get('port', '?')}"

    def retry_delay(self) -> float:
        """Seconds to wait before the next round: the sync period, or the reconnect backoff."""
        if self._fail_streak == 0:
            return self.interval
        n = min(self._fail_streak, self.reconnect.max_attempts - 1)
        return float(self.reconnect.get_delay(max(n, 1)))

    def sync_now(self) -> bool:
        """Run one round now in this thread (sync client); True if Redis answered. Rounds
        never overlap (a call made while the background thread runs one waits for it)."""
        if self.is_async:
            raise TypeError("this backend has an asyncio client: use await backend.async_sync_now()")
        with self._round_lock:
            return self._sync_round()

    def _sync_round(self) -> bool:
        work = self._collect()
        if not work:
            return True
        try:
            for _ in range(2):
                pipe = self._own.pipeline(transaction=False)
                self._queue(pipe, work)
                replies = pipe.execute(raise_on_error=False)
                if not self._check(replies):
                    break
                for name, src in _redis_lua.SCRIPTS.items():  # NOSCRIPT: Redis restarted
                    self._shas[name] = self._own.script_load(src)
            else:
                raise RuntimeError("Redis keeps forgetting the zenoo_retry scripts")
        except Exception as exc:
            self._failed(work, exc)
            return False
        self._finish(work, replies)
        return True

    async def async_sync_now(self) -> bool:
        """Run one round now on the running loop (asyncio client); True if Redis answered."""
        if not self.is_async:
            raise TypeError("this backend has a sync client: use backend.sync_now()")
        if self._async_round_lock is None:
            self._async_round_lock = asyncio.Lock()
        async with self._async_round_lock:
            work = self._collect()
            if not work:
                return True
            try:
                replies = await asyncio.wait_for(self._async_exec(work), self.timeout)
            except Exception as exc:
                self._failed(work, exc)
                return False
            except BaseException:  # cancelled: nothing is lost, then propagate
                for m, _req in work:
                    m._redis_failed()
                raise
            self._finish(work, replies)
            return True

    async def _async_exec(self, work: List[Tuple[Any, SyncRequest]]) -> List[Any]:
        for _ in range(2):
            pipe = self._own.pipeline(transaction=False)
            self._queue(pipe, work)
            replies = await pipe.execute(raise_on_error=False)
            if not self._check(replies):
                return list(replies)
            for name, src in _redis_lua.SCRIPTS.items():
                self._shas[name] = await self._own.script_load(src)
        raise RuntimeError("Redis keeps forgetting the zenoo_retry scripts")

    # -- runners -------------------------------------------------------------------------

    def start(self) -> "RedisBackend":
        """Start syncing in the background (idempotent). An asyncio backend needs a running
        loop: call it from a coroutine (or use ``async with backend``)."""
        if self._closed:
            raise RuntimeError("this RedisBackend is closed")
        if self.is_async:
            if self._task is None or self._task.done():
                loop = asyncio.get_running_loop()
                self._loop = loop
                self._async_wake = asyncio.Event()
                self._task = loop.create_task(self._run_async(), name="zenoo_retry-redis-sync")
            return self
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop = threading.Event()
                t = threading.Thread(target=_run_thread, args=(weakref.ref(self), self._stop, self._wake),
                                     name="zenoo_retry-redis-sync", daemon=True)
                self._thread = t
                t.start()
        return self

    async def _run_async(self) -> None:
        ev = self._async_wake
        assert ev is not None
        while not self._closed:
            await self.async_sync_now()
            try:
                await asyncio.wait_for(ev.wait(), self.retry_delay())
            except asyncio.TimeoutError:
                pass
            ev.clear()

    def close(self) -> None:
        """Stop syncing and close the backend's own connections (attached objects keep
        working on local state). For an asyncio client use ``await backend.aclose()``."""
        self._closed = True
        self._stop.set()
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=self.timeout + 1.0)
        self._thread = None
        if not self.is_async:
            try:
                self._own.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass

    async def aclose(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        closer = getattr(self._own, "aclose", None) or getattr(self._own, "close")
        try:
            await closer()
        except Exception:  # pragma: no cover
            pass

    def __enter__(self) -> "RedisBackend":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> "RedisBackend":
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        if self.is_async:
            await self.aclose()
        else:
            self.close()

    def _after_fork(self) -> None:
        """In a forked child: the parent's thread is gone; start our own."""
        self._thread = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._round_lock = threading.Lock()
        if self._fixed_host_id is None:
            self.host_id = _default_host_id()
        if not self.is_async and not self._closed and self.autostart and self.members():
            self.start()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("healthy" if self.healthy else "unreachable")
        return (f"<RedisBackend {self._where()} prefix={self.prefix!r} "
                f"staleness={self.staleness:g}s {state}>")


def _run_thread(ref: "weakref.ref[RedisBackend]", stop: threading.Event,
                wake: threading.Event) -> None:
    """The sync client's background loop; holds the backend only weakly between rounds."""
    while not stop.is_set():
        backend = ref()
        if backend is None:
            return
        backend.sync_now()
        delay = backend.retry_delay()
        del backend
        wake.wait(delay)
        wake.clear()


def _reinit_after_fork() -> None:
    for b in list(_BACKENDS):
        b._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)
