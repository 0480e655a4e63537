"""Server-directed waits: the ``Retry-After`` header (RFC 9110 section 10.2.3).

:func:`parse_retry_after` reads a header value - delta-seconds (``"120"``) or an
HTTP-date (``"Wed, 21 Oct 2026 07:28:00 GMT"``) - as seconds to wait from now.
:class:`RetryAfter` finds that value on whatever a failed attempt left behind:

* an exception attribute ``retry_after`` (seconds, a header string, a ``timedelta``),
  e.g. :class:`~zenoo_retry.exceptions.CircuitBreakerOpenError` or your own errors;
* the headers of a response: ``exc.response.headers`` (requests ``HTTPError``, httpx
  ``HTTPStatusError``), ``exc.headers`` (aiohttp ``ClientResponseError``,
  urllib ``HTTPError``), or a response returned and rejected by ``retry_on_result``.

The decorators take ``respect_retry_after=True`` (or a :class:`RetryAfter` with its own
clock); the value becomes the next delay, capped at ``max_hint_delay`` (default: the
strategy's ``max_delay``) and still subject to the policy's total ``timeout``. The cap and
the timeout are applied by the C engine, like every other delay.
"""
from __future__ import annotations

import datetime
import email.utils
import math
import time
from typing import Any, Callable, Optional

__all__ = ["parse_retry_after", "RetryAfter", "retry_after_from"]


def parse_retry_after(value: Any, now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait for a ``Retry-After`` value, or None if it is not one.

    ``value`` is a header string/bytes, or a number of seconds. An HTTP-date is measured
    from ``now`` (Unix seconds; default ``time.time()``); a date in the past gives 0.
    Negative, NaN or unparsable values give None (the header is ignored).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, (int, float)):
        v = float(value)
        return v if math.isfinite(v) and v >= 0 else None
    if isinstance(value, bytes):
        try:
            value = value.decode("latin-1")
        except Exception:  # pragma: no cover - latin-1 decodes every byte
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():  # delta-seconds: 1*DIGIT (ASCII only: int("²") fails)
        return float(int(text))
    try:  # some servers send fractional seconds
        v = float(text)
    except ValueError:
        pass
    else:
        return v if math.isfinite(v) and v >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _header(headers: Any, name: str) -> Any:
    """headers[name] for requests/httpx/aiohttp (case-insensitive) or a plain mapping."""
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    try:
        value = getter(name)
        if value is None:
            value = getter(name.lower())
        if value is None and isinstance(headers, dict):
            low = name.lower()
            for key, val in headers.items():
                if isinstance(key, str) and key.lower() == low:
                    return val
        return value
    except Exception:
        return None


def _attr(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:  # httpx raises RuntimeError for .request/.response when unset
        return None


class RetryAfter:
    """A ``delay_hint``: the server's ``Retry-After`` for a failed attempt, or None.

    ``clock`` gives the current Unix time for HTTP-dates (default ``time.time``; inject
    one in tests). ``header`` is the header name (default ``Retry-After``).
    """

    __slots__ = ("clock", "header")

    def __init__(self, *, clock: Optional[Callable[[], float]] = None, header: str = "Retry-After") -> None:
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be callable or None, got {clock!r}")
        if not isinstance(header, str) or not header:
            raise TypeError(f"header must be a non-empty str, got {header!r}")
        self.clock = clock
        self.header = header

    def __call__(self, failure: Any) -> Optional[float]:
        """Seconds the server asked us to wait after ``failure`` (an exception or a
        rejected response), or None."""
        now = self.clock() if self.clock is not None else None
        if isinstance(failure, BaseException):
            hint = parse_retry_after(_attr(failure, "retry_after"), now)
            if hint is not None:
                return hint
        for holder in (failure, _attr(failure, "response")):
            if holder is None:
                continue
            hint = parse_retry_after(_header(_attr(holder, "headers"), self.header), now)
            if hint is not None:
                return hint
        return None

    def __repr__(self) -> str:
        return f"RetryAfter(header={self.header!r})"


#: ``RetryAfter()`` with the wall clock: the hint ``respect_retry_after=True`` installs.
retry_after_from = RetryAfter()
