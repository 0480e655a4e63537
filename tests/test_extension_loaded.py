"""The package must run on its C extension, never on a silent pure-Python fallback."""
import importlib.machinery
import os

import zenoo_retry
from zenoo_retry import _core
from zenoo_retry.strategies import ExponentialBackoffStrategy


def test_core_is_a_compiled_extension():
    assert _core.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    assert os.path.dirname(_core.__file__) == os.path.dirname(zenoo_retry.__file__)


def test_strategies_are_engine_types():
    s = ExponentialBackoffStrategy()
    assert isinstance(s, _core.Backoff)
    # get_delay is the C method, not a Python override
    assert type(s).get_delay is _core.Backoff.get_delay


def test_types_are_heap_types_of_the_module():
    assert _core.Backoff.__module__ == "zenoo_retry._core"
    assert _core.Backoff.__flags__ & (1 << 9)  # Py_TPFLAGS_HEAPTYPE
