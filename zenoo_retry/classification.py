"""Recognising errors: which exceptions are worth retrying.

Used by the preset policies. Everything here works on duck-typed attributes, so no HTTP
or database library is imported (or needed).
"""
from __future__ import annotations

from typing import Optional

__all__ = ["http_status", "is_server_error", "is_rate_limited", "is_transient_db_error"]


def http_status(exc: BaseException) -> Optional[int]:
    """The HTTP status code an exception carries, or None.

    Looks at ``exc.status_code``, ``exc.status``, ``exc.code`` (urllib's HTTPError) and
    the same names on ``exc.response`` (requests, httpx).
    """
    for holder in (exc, getattr(exc, "response", None)):
        if holder is None:
            continue
        for attr in ("status_code", "status", "code"):
            try:
                value = getattr(holder, attr, None)
            except Exception:  # a property that raises is simply not a status
                continue
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
                return value
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
