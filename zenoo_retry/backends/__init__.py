"""Backends that share a breaker's or a budget's state beyond one process.

``RedisBackend`` (this package, needs the optional ``redis`` extra) shares them across hosts.
"""
from __future__ import annotations

from .redis_backend import RedisBackend

__all__ = ["RedisBackend"]
