"""Run the real command line in a subprocess: ``sys.executable -m zenoo_retry ...``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def cli_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("ZR_INSTANT", None)
    return env


def cli(*args: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess:
    """Run ``python -m zenoo_retry *args``; returns the completed process (text mode)."""
    return subprocess.run([sys.executable, "-m", "zenoo_retry", *args], capture_output=True, text=True,
                          timeout=timeout, env=cli_env(), **kw)


def popen_cli(*args: str, **kw: Any) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zenoo_retry", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(), **kw)
