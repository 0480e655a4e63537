"""Reference- and memory-leak detection for release builds of CPython (issue 9).

``sys.gettotalrefcount`` exists only in debug builds, so :func:`assert_no_leak` measures
what a release build can see, around many calls of a callable, after a warm-up:

* live GC-tracked objects, counted by type (``gc.get_objects``): a leaked container,
  exception, coroutine, RetryAttempt, permit ... shows up as a count growing with every call;
* ``sys.getrefcount`` of the objects the caller names (types, functions, exception
  classes, the decorated wrapper, ``None``/``True``/``False`` on CPython < 3.12): a
  leaked *reference* (an extra ``Py_INCREF``) grows them even when no object is leaked;
* ``tracemalloc`` traced memory: leaked non-GC objects (floats, ints, strings, buffers
  allocated with ``PyMem_*``) grow it.

A leak grows linearly with the number of calls; caches, free lists and interned strings
grow once, or less and less. So each measure is taken over consecutive rounds of
``round_calls`` calls until one stays within small bounds; a leak is reported when every
one of ``max_rounds`` rounds grew and the growth did not keep shrinking - strict (one
leaked object per call is ``round_calls`` objects per round) and not flaky.
"""
from __future__ import annotations

import gc
import os
import sys
import tracemalloc
from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

__all__ = ["assert_no_leak", "LeakError", "measure"]

# refcounts of these change when C code forgets a Py_DECREF on a borrowed singleton
# (immortal from 3.12 on: their refcount is then constant and useless)
_SINGLETONS: Tuple[Any, ...] = (None, True, False) if sys.version_info < (3, 12) else ()


class LeakError(AssertionError):
    """What leaked, and how much per round."""


def _type_counts() -> Counter:
    return Counter(map(type, gc.get_objects()))


def _refcounts(objs: Iterable[Any]) -> List[int]:
    return [sys.getrefcount(o) for o in objs]


def measure(fn: Callable[[], Any], calls: int, watch: Iterable[Any] = ()) -> Dict[str, Any]:
    """Run ``fn`` ``calls`` times; return the growth of each measure over that run."""
    watched = list(watch) + list(_SINGLETONS)
    gc.collect()
    types0 = _type_counts()
    refs0 = _refcounts(watched)
    mem0 = tracemalloc.get_traced_memory()[0]
    for _ in range(calls):
        fn()
    gc.collect()
    mem1 = tracemalloc.get_traced_memory()[0]
    refs1 = _refcounts(watched)
    types1 = _type_counts()
    grown_types = {t: types1[t] - types0.get(t, 0) for t in types1 if types1[t] > types0.get(t, 0)}
    return {
        "types": grown_types,
        "refs": [(w, b - a) for w, a, b in zip(watched, refs0, refs1) if b != a],
        "memory": mem1 - mem0,
    }


def assert_no_leak(
    fn: Callable[[], Any],
    *,
    watch: Iterable[Any] = (),
    warmup: int = 30,
    round_calls: int = 200,
    max_objects: Optional[int] = None,
    max_bytes: Optional[int] = None,
    max_rounds: int = 8,
    name: str = "",
) -> None:
    """Fail with :class:`LeakError` if ``fn()`` leaks objects, references or memory.

    ``watch``: objects whose refcount must not grow (types, functions, exception classes,
    the wrapper itself). ``max_objects`` (default ``round_calls // 4``) and ``max_bytes``
    (default ``round_calls * 16``: less than one float per call) bound the growth
    tolerated per round; a leak must exceed them in all `max_rounds` rounds.
    """
    watch = tuple(watch)
    if max_objects is None:
        max_objects = round_calls // 4
    if max_bytes is None:
        # under scripts/sanitize.sh (ASan, PYTHONMALLOC=malloc) traced memory drifts by tens
        # of bytes per call in several async cases that are clean on normal builds: by
        # default only the exact measures (objects by type, refcounts) are checked there
        sanitized = os.environ.get("ZR_SANITIZED") == "1"
        max_bytes = (1 << 62) if sanitized else round_calls * 16
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        for _ in range(warmup):
            fn()
        # A round within the bounds ends the check. A leak grows every round, so up to
        # `max_rounds` rounds are measured while each grows: warm-up noise (caches, dict
        # resizes - larger on some CPython versions) dies out within them, a leak does not.
        rounds = []
        for _ in range(max_rounds):
            rounds.append(measure(fn, round_calls, watch))
            if not _leaks(rounds[-1], max_objects, max_bytes):
                return
        found = [_leaks(r, max_objects, max_bytes) for r in rounds]
        if _steady([_over(r, max_objects, max_bytes) for r in rounds]):
            raise LeakError(f"{name or fn!r} leaks over {round_calls} calls per round: "
                            + " | ".join("; ".join(f) for f in found[-4:]))
    finally:
        if started:
            tracemalloc.stop()


def _steady(rounds: List[Dict[str, float]]) -> bool:
    """True if some measure over its bound in every round keeps growing at a steady rate
    (a leak): its growth over the last half of the rounds is at least 60 % of that over the
    first half. False if every one shrinks like a cache filling up."""
    half = len(rounds) // 2
    for key in set.intersection(*(set(r) for r in rounds)):
        values = [r[key] for r in rounds]
        if sum(values[half:]) >= 0.6 * sum(values[:half]):
            return True
    return False


def _over(r: Dict[str, Any], max_objects: int, max_bytes: int) -> Dict[Any, float]:
    """The measures of one round that grew beyond their bound: key -> growth."""
    out: Dict[Any, float] = {}
    for t, n in r["types"].items():
        if n > max_objects:
            out[("type", t)] = n
    for obj, n in r["refs"]:
        if n > max_objects:
            out[("ref", id(obj))] = n
    if r["memory"] > max_bytes:
        out["memory"] = r["memory"]
    return out


def _leaks(r: Dict[str, Any], max_objects: int, max_bytes: int) -> List[str]:
    out = []
    for t, n in sorted(r["types"].items(), key=lambda kv: -kv[1]):
        if n > max_objects:
            out.append(f"{n} more {t.__module__}.{t.__qualname__} objects")
    for obj, n in r["refs"]:
        if n > max_objects:
            out.append(f"refcount of {obj!r:.60} grew by {n}")
    if r["memory"] > max_bytes:
        out.append(f"traced memory grew by {r['memory']} bytes")
    return out
