"""Recognising errors: which exceptions are worth retrying, and what kind of failure they are.

Two layers:

* small duck-typed predicates used by the preset policies (:func:`http_status`,
  :func:`is_server_error`, :func:`is_rate_limited`, :func:`is_transient_db_error`);
* :class:`ErrorType` (seed 002's error classes) and :func:`classify`, the default
  classifier: built-in exceptions (``ConnectionError``, ``TimeoutError``, ``OSError`` by
  errno), DB-API errors by class name, HTTP status codes (on an exception or on the
  response it carries) and the exceptions of requests, httpx and aiohttp. Users register
  their own types with :func:`register_error_type` (or a function with
  :meth:`ErrorClassifier.register_function`).

No HTTP or database library is imported: a library's exceptions are only looked up when
that library is already in ``sys.modules`` (an exception of a library nobody imported
cannot exist), so classification costs no import.
"""
from __future__ import annotations

import enum
import errno
import socket
import sys
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type

from .exceptions import (
    BudgetExhaustedError,
    CircuitBreakerOpenError,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryTimeoutError,
)

__all__ = [
    "http_status",
    "is_server_error",
    "is_rate_limited",
    "is_transient_db_error",
    "ErrorType",
    "ErrorClassifier",
    "default_classifier",
    "classify",
    "classify_status",
    "register_error_type",
    "error_types",
    "RETRYABLE_BY_DEFAULT",
    "PERMANENT_BY_DEFAULT",
]


def http_status(exc: BaseException) -> Optional[int]:
    """The HTTP status code an exception carries, or None.

    Looks at ``exc.status_code``, ``exc.status``, ``exc.code`` (urllib's HTTPError) and
    the same names on ``exc.response`` (requests, httpx).
    """
    for holder in (exc, _safe_attr(exc, "response")):
        if holder is None:
            continue
        for attr in ("status_code", "status", "code"):
            value = _safe_attr(holder, attr)
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
                return value
    return None


def _safe_attr(obj: Any, name: str) -> Any:
    """getattr that treats a raising property (httpx's ``.request`` on a bare error) as absent."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def is_server_error(exc: BaseException) -> bool:
    """True for a 5xx status."""
    status = http_status(exc)
    return status is not None and 500 <= status <= 599


def is_rate_limited(exc: BaseException) -> bool:
    """True for 429 Too Many Requests (and 503 with Retry-After handled elsewhere)."""
    return http_status(exc) == 429


_DB_TRANSIENT = {"OperationalError", "InterfaceError"}
_DB_PERMANENT = {"IntegrityError", "ProgrammingError", "DataError", "NotSupportedError"}


def is_transient_db_error(exc: BaseException) -> bool:
    """True for DB-API 2.0 errors that a retry can cure (lost connection, lock timeout).

    Matches by class name along the MRO - ``OperationalError`` / ``InterfaceError`` are
    transient, ``IntegrityError`` / ``ProgrammingError`` / ``DataError`` are not - so any
    driver (sqlite3, psycopg, mysqlclient, ...) is recognised without importing it.
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _DB_PERMANENT:
        return False
    return bool(names & _DB_TRANSIENT)


class ErrorType(str, enum.Enum):
    """What kind of failure an error is (seed 002's error classes).

    ========================  ==========================  =========================
    member                    meaning                     retry?
    ========================  ==========================  =========================
    ``TRANSIENT``             temporary failure           yes
    ``PERMANENT``             cannot succeed as is        no
    ``TIMEOUT``               an operation timed out      yes
    ``RATE_LIMIT``            too many requests (429)     yes, with longer delays
    ``CIRCUIT_BREAKER``       a breaker refused the call  no
    ``NETWORK``               connection refused/reset,   yes
                              DNS, unreachable host
    ``SERVER``                HTTP 5xx                    yes
    ``CLIENT``                HTTP 4xx                    no
    ``UNKNOWN``               anything else               with caution
    ========================  ==========================  =========================
    """

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    TIMEOUT = "timeout"
    RATE_LIMIT = "rate_limit"
    CIRCUIT_BREAKER = "circuit_breaker"
    NETWORK = "network"
    SERVER = "server"
    CLIENT = "client"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


#: Seed 002's defaults: ``RetryableErrors`` and ``PermanentErrors``.
RETRYABLE_BY_DEFAULT = frozenset({ErrorType.TRANSIENT, ErrorType.TIMEOUT, ErrorType.NETWORK})
PERMANENT_BY_DEFAULT = frozenset({ErrorType.PERMANENT, ErrorType.CLIENT})


def error_types(param: str, value: Any) -> frozenset:
    """Normalise one ErrorType (or its name, e.g. ``"rate_limit"`` / ``"RATE_LIMIT"``) or an
    iterable of them to a frozenset; errors name ``param`` and the bad value."""
    items: Iterable[Any]
    if isinstance(value, (ErrorType, str)):
        items = (value,)
    elif hasattr(value, "__iter__") and not isinstance(value, bytes):
        items = tuple(value)
    else:
        raise TypeError(f"{param} must be an ErrorType or an iterable of them, got {value!r}")
    out = set()
    for item in items:
        if isinstance(item, ErrorType):
            out.add(item)
            continue
        if isinstance(item, str):
            key = item.strip().lower().replace("-", "_")
            try:
                out.add(ErrorType(key))
                continue
            except ValueError:
                pass

        raise InvalidConfigurationError(
            f"{param} must contain ErrorType members or their names "
            f"({', '.join(t.value for t in ErrorType)}), got {item!r}",
            parameter=param, value=item,
        )
    return frozenset(out)


def _one_type(param: str, value: Any) -> ErrorType:
    if isinstance(value, ErrorType):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{param} must be an ErrorType or its name, got {value!r}")
    (kind,) = error_types(param, value)
    return kind


def classify_status(status: int) -> Optional[ErrorType]:
    """The ErrorType of an HTTP status: 429 rate limit, 408 timeout, 5xx server, other 4xx
    client; None for 1xx-3xx (not an error)."""
    if status == 429:
        return ErrorType.RATE_LIMIT
    if status == 408:
        return ErrorType.TIMEOUT
    if 500 <= status <= 599:
        return ErrorType.SERVER
    if 400 <= status <= 499:
        return ErrorType.CLIENT
    return None


_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EHOSTUNREACH", "ENETUNREACH",
                 "ENETDOWN", "ENETRESET", "EHOSTDOWN", "EPIPE", "ENOTCONN", "ESHUTDOWN",
                 "EADDRNOTAVAIL")
    if hasattr(errno, name)
)
_TIMEOUT_ERRNOS = frozenset(getattr(errno, n) for n in ("ETIMEDOUT", "ETIME") if hasattr(errno, n))
_TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EAGAIN", "EWOULDBLOCK", "EBUSY", "EINTR", "ENOBUFS", "EMFILE", "ENFILE",
                 "EDEADLK", "ESTALE", "ETXTBSY")
    if hasattr(errno, name)
)
_PERMANENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOENT", "EACCES", "EPERM", "EISDIR", "ENOTDIR", "EEXIST", "EINVAL", "EROFS",
                 "ENAMETOOLONG", "EBADF", "ENOTEMPTY", "ENOSYS", "EOPNOTSUPP", "ENOTSUP")
    if hasattr(errno, name)
)


def _classify_builtin(exc: BaseException) -> Optional[ErrorType]:
    if isinstance(exc, TimeoutError):  # socket.timeout, asyncio.TimeoutError (3.11+)
        return ErrorType.TIMEOUT
    if isinstance(exc, socket.gaierror):  # DNS
        return ErrorType.NETWORK
    if isinstance(exc, ConnectionError):
        return ErrorType.NETWORK
    if isinstance(exc, OSError):
        code = exc.errno
        if code in _TIMEOUT_ERRNOS:
            return ErrorType.TIMEOUT
        if code in _NETWORK_ERRNOS:
            return ErrorType.NETWORK
        if code in _TRANSIENT_ERRNOS:
            return ErrorType.TRANSIENT
        if code in _PERMANENT_ERRNOS:
            return ErrorType.PERMANENT
        return None
    if type(exc).__module__ == "asyncio.exceptions" and type(exc).__name__ == "TimeoutError":
        return ErrorType.TIMEOUT  # 3.10's asyncio.TimeoutError is not the builtin
    if isinstance(exc, (ValueError, TypeError, AttributeError, LookupError, NotImplementedError,
                        AssertionError, ArithmeticError, NameError)):
        return ErrorType.PERMANENT
    return None


def _classify_ours(exc: BaseException) -> Optional[ErrorType]:
    if not isinstance(exc, _OURS):
        return None
    if isinstance(exc, CircuitBreakerOpenError):
        return ErrorType.CIRCUIT_BREAKER
    if isinstance(exc, RetryTimeoutError):
        return ErrorType.TIMEOUT
    if isinstance(exc, InvalidConfigurationError):
        return ErrorType.PERMANENT
    if isinstance(exc, BudgetExhaustedError):
        return ErrorType.TRANSIENT  # the budget refills: later calls may succeed
    if isinstance(exc, MaxRetriesExceededError):
        return ErrorType.UNKNOWN  # the caller should classify last_exception
    return None


_OURS = (CircuitBreakerOpenError, RetryTimeoutError, InvalidConfigurationError, BudgetExhaustedError,
         MaxRetriesExceededError)

#: module name -> (module object, its rules as ((classes...), ErrorType) pairs, base classes)
_LIB_RULES: Dict[str, Tuple[Any, Tuple[Tuple[tuple, ErrorType], ...], tuple]] = {}


def _lib_rules(modname: str, build: Callable[[Any], Tuple[tuple, tuple]]) -> Optional[tuple]:
    """The cached rules of a library, built on first use after it was imported."""
    mod = sys.modules.get(modname)
    if mod is None:
        return None
    cached = _LIB_RULES.get(modname)
    if cached is None or cached[0] is not mod:
        base, rules = build(mod)
        cached = (mod, rules, base)
        _LIB_RULES[modname] = cached
    return cached


def _match(exc: BaseException, modname: str, build: Callable[[Any], Tuple[tuple, tuple]]) -> Optional[ErrorType]:
    cached = _lib_rules(modname, build)
    if cached is None or not isinstance(exc, cached[2]):
        return None
    for classes, kind in cached[1]:
        if isinstance(exc, classes):
            return kind
    return None


def _requests_rules(mod: Any) -> Tuple[tuple, tuple]:
    return (mod.RequestException,), (
        ((mod.Timeout,), ErrorType.TIMEOUT),  # ConnectTimeout, ReadTimeout
        ((mod.InvalidURL, mod.MissingSchema, mod.InvalidSchema, mod.URLRequired, mod.InvalidHeader,
          mod.TooManyRedirects), ErrorType.PERMANENT),
        ((mod.ConnectionError,), ErrorType.NETWORK),  # includes ProxyError, SSLError
        ((mod.ChunkedEncodingError, mod.ContentDecodingError), ErrorType.TRANSIENT),
    )


def _httpx_rules(mod: Any) -> Tuple[tuple, tuple]:
    return (mod.HTTPError, mod.InvalidURL, mod.StreamError), (
        ((mod.TimeoutException,), ErrorType.TIMEOUT),
        ((mod.NetworkError, mod.ProxyError), ErrorType.NETWORK),
        ((mod.RemoteProtocolError,), ErrorType.TRANSIENT),  # server closed the connection mid-response
        ((mod.LocalProtocolError, mod.UnsupportedProtocol, mod.InvalidURL, mod.DecodingError,
          mod.TooManyRedirects, mod.StreamError), ErrorType.PERMANENT),
    )


def _aiohttp_rules(mod: Any) -> Tuple[tuple, tuple]:
    return (mod.ClientError,), (
        ((mod.ServerTimeoutError,), ErrorType.TIMEOUT),  # also asyncio.TimeoutError
        ((mod.InvalidURL, mod.TooManyRedirects), ErrorType.PERMANENT),
        ((mod.ClientConnectionError,), ErrorType.NETWORK),  # connector errors, disconnects, OS errors
        ((mod.ClientPayloadError,), ErrorType.TRANSIENT),
    )


def _classify_requests(exc: BaseException) -> Optional[ErrorType]:
    return _match(exc, "requests.exceptions", _requests_rules)


def _classify_httpx(exc: BaseException) -> Optional[ErrorType]:
    return _match(exc, "httpx", _httpx_rules)


def _classify_aiohttp(exc: BaseException) -> Optional[ErrorType]:
    return _match(exc, "aiohttp", _aiohttp_rules)


_LIBRARY_CLASSIFIERS: Tuple[Callable[[BaseException], Optional[ErrorType]], ...] = (
    _classify_requests,
    _classify_httpx,
    _classify_aiohttp,
)


class ErrorClassifier:
    """Maps exceptions to :class:`ErrorType`.

    Order: registered functions (newest first) -> registered exception types (the most
    specific class along the exception's MRO wins) -> zenoo_retry's own errors -> built-in
    ``TimeoutError`` / ``ConnectionError`` -> an HTTP status on the error or its response
    -> requests / httpx / aiohttp exceptions ->
    built-ins (timeouts, connection errors, ``OSError`` by errno, programming errors) ->
    DB-API errors by class name -> ``UNKNOWN``. Thread-safe to use while registering.
    """

    def __init__(self) -> None:
        self._types: Dict[type, ErrorType] = {}
        self._functions: List[Callable[[BaseException], Optional[ErrorType]]] = []
        self._lock = threading.Lock()

    def register(self, exc_type: Type[BaseException], error_type: Any) -> None:
        """Classify ``exc_type`` (and subclasses not registered themselves) as ``error_type``."""
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise TypeError(f"exc_type must be an exception class, got {exc_type!r}")
        kind = _one_type("error_type", error_type)
        with self._lock:
            self._types = {**self._types, exc_type: kind}

    def unregister(self, exc_type: Type[BaseException]) -> None:
        """Forget a registration made with :meth:`register` (no error if there was none)."""
        with self._lock:
            self._types = {k: v for k, v in self._types.items() if k is not exc_type}

    def register_function(self, fn: Callable[[BaseException], Optional[ErrorType]]) -> None:
        """Ask ``fn(exc) -> ErrorType | None`` first (None: fall through to the rules)."""
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r}")
        with self._lock:
            self._functions = [fn, *self._functions]

    def classify(self, exc: BaseException) -> ErrorType:
        """The :class:`ErrorType` of ``exc`` (an exception instance)."""
        if not isinstance(exc, BaseException):
            raise TypeError(f"exc must be an exception instance, got {exc!r}")
        for fn in self._functions:
            kind = fn(exc)
            if kind is not None:
                if not isinstance(kind, ErrorType):
                    raise TypeError(f"classifier {fn!r} must return an ErrorType or None, got {kind!r}")
                return kind
        types = self._types
        if types:
            for cls in type(exc).__mro__:
                kind = types.get(cls)
                if kind is not None:
                    return kind
        kind = _classify_ours(exc)
        if kind is not None:
            return kind
        if isinstance(exc, TimeoutError):  # the commonest failures first (no status to look for)
            return ErrorType.TIMEOUT
        if isinstance(exc, ConnectionError):
            return ErrorType.NETWORK
        status = http_status(exc)
        if status is not None:
            kind = classify_status(status)
            if kind is not None:
                return kind
        for lib in _LIBRARY_CLASSIFIERS:
            kind = lib(exc)
            if kind is not None:
                return kind
        kind = _classify_builtin(exc)
        if kind is not None:
            return kind
        names = {cls.__name__ for cls in type(exc).__mro__}
        if names & _DB_PERMANENT:
            return ErrorType.PERMANENT
        if names & _DB_TRANSIENT:
            return ErrorType.TRANSIENT
        return ErrorType.UNKNOWN

    __call__ = classify


#: The process-wide classifier that :func:`classify` and the policies use by default.
default_classifier = ErrorClassifier()


def classify(exc: BaseException) -> ErrorType:
    """The :class:`ErrorType` of ``exc`` according to :data:`default_classifier`."""
    return default_classifier.classify(exc)


def register_error_type(exc_type: Type[BaseException], error_type: Any) -> None:
    """Register ``exc_type`` as ``error_type`` in :data:`default_classifier`."""
    default_classifier.register(exc_type, error_type)
