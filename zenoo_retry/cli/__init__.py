"""The ``zenoo-retry`` command line (also ``python -m zenoo_retry``).

Subcommands, one module each: ``demo`` (a flaky service driven under five policies),
``run`` (retry a shell command), ``plan`` (what a policy will do). ``main.py`` assembles
them; ``options.py`` holds the flags ``run`` and ``plan`` share.
"""
from __future__ import annotations

from .main import main

__all__ = ["main"]
