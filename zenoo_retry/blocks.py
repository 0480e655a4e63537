"""Retrying a block of code without a decorator.

::

    for attempt in attempts(max_attempts=5, exceptions=ConnectionError):
        with attempt:
            reply = client.call()

    async for attempt in attempts(policy=NetworkRetryPolicy()):
        with attempt:
            reply = await client.call()

Each ``with attempt`` block is one attempt. A retryable error is swallowed by the block
and the loop sleeps and goes round again; the error that ends the call propagates from
the ``with`` statement, exactly as with the decorators. The decisions (what to retry, the
delay, the deadline, the budget, the breaker) are the same C code the decorators run
(``RetrySpec.after_failure``); this module only sequences them.
"""
from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any, AsyncIterator, Iterator, Optional, Type

from . import _core
from .exceptions import InvalidConfigurationError

__all__ = ["attempts", "Attempts", "AttemptContext"]


class AttemptContext:
    """One attempt: use it as ``with attempt:``. ``number`` is 1-based."""

    __slots__ = ("_run", "number", "_token", "_decision", "_done")

    def __init__(self, run: "_Run", number: int, token: Any) -> None:
        self._run = run
        self.number = number
        self._token = token
        self._decision: Optional[tuple] = None  # None: success
        self._done = False

    @property
    def max_attempts(self) -> int:
        return self._run.spec.max_attempts

    def __enter__(self) -> "AttemptContext":
        return self

    def __exit__(self, et: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> bool:
        run = self._run
        token, self._token = self._token, None
        self._done = True
        if exc is None:
            run.spec.exit(token, None)
            run.spec.succeeded(self.number)  # metrics / events (issue 6)
            self._decision = None
            return False
        run.spec.exit(token, exc)
        try:
            decision = run.spec.after_failure(exc, self.number, run.has_start, run.start,
                                              run.prev_delay, run.total_delay)
        except BaseException as final:
            if final is exc:
                return False  # not retryable: the original error goes on, untouched
            raise
        if decision[0] != "retry":  # pragma: no cover - blocks refuse fallbacks up front
            return False
        delay = decision[1]
        run.prev_delay = delay
        run.total_delay += delay
        self._decision = (delay, exc)
        return True

    def __repr__(self) -> str:
        return f"<attempt {self.number}/{self.max_attempts}>"


class _Run:
    """Progress of one iteration over :class:`Attempts`."""

    __slots__ = ("spec", "has_start", "start", "prev_delay", "total_delay")

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.has_start, self.start = spec.begin()
        self.prev_delay = -1.0
        self.total_delay = 0.0


class Attempts:
    """Iterate (``for`` or ``async for``) to get one :class:`AttemptContext` per attempt."""

    def __init__(self, spec: Any) -> None:
        if spec.has_fallback:
            raise InvalidConfigurationError(
                "the block form cannot return a fallback value; catch the error instead",
                parameter="fallback", value=spec.fallback)
        self.spec = spec

    def _info(self, run: _Run, number: int, exc: BaseException, delay: float) -> Any:
        return self.spec.attempt_info(exc, number, run.has_start, run.start, delay, run.total_delay)

    def __iter__(self) -> Iterator[AttemptContext]:
        run = _Run(self.spec)
        number = 0
        while True:
            number += 1
            attempt = AttemptContext(run, number, self.spec.enter(number))
            yield attempt
            if not attempt._done:
                raise RuntimeError("each attempt must be used as a context manager: `with attempt:`")
            if attempt._decision is None:
                return
            delay, exc = attempt._decision
            if self.spec.on_retry is not None:
                self.spec.on_retry(self._info(run, number, exc, delay))
            if delay > 0 and not _core._skip_sleep(delay):
                (self.spec.sleep or time.sleep)(delay)

    async def __aiter__(self) -> AsyncIterator[AttemptContext]:
        run = _Run(self.spec)
        number = 0
        while True:
            number += 1
            attempt = AttemptContext(run, number, self.spec.enter(number))
            yield attempt
            if not attempt._done:
                raise RuntimeError("each attempt must be used as a context manager: `with attempt:`")
            if attempt._decision is None:
                return
            delay, exc = attempt._decision
            if self.spec.on_retry is not None:
                r = self.spec.on_retry(self._info(run, number, exc, delay))
                if hasattr(r, "__await__"):
                    await r
            if delay > 0 and not _core._skip_sleep(delay):
                if self.spec.sleep is not None:
                    r = self.spec.sleep(delay)
                    if hasattr(r, "__await__"):
                        await r
                else:
                    await asyncio.sleep(delay)


def attempts(policy: Any = None, **options: Any) -> Attempts:
    """Attempts under a policy, with the decorators' arguments (``max_attempts``,
    ``delay``, ``exceptions``, ``timeout``, ``on_retry``, ``sleep``, ...)."""
    from .decorators import build_policy

    hooks = {k: options.pop(k) for k in ("on_retry", "on_give_up", "sleep", "clock", "name")
             if k in options}
    pol = build_policy(policy, **options)
    return Attempts(pol.compile(**hooks))
