"""``python -m zenoo_retry``: the command line (``demo``, ``run``, ``plan``); see
:mod:`zenoo_retry.cli`."""
from __future__ import annotations

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
