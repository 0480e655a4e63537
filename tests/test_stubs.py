"""zenoo_retry/_core.pyi must describe the built extension: mypy's stubtest checks it.

stubtest imports zenoo_retry._core and compares every public name of the module and of
its classes with the stub (missing or extra names, class vs function, property vs method,
@final, @disjoint_base). The C types carry no __text_signature__, so parameter lists are
not compared at runtime: the stub's docstring says how they were derived from the C.

stubtest type-checks the stub with mypy, which also analyses the package around it
(zenoo_retry/__init__.py imports every module). Type errors in those Python modules are not
this test's subject, so the config below ignores them; errors in _core.pyi itself fail.

mypy comes from requirements-dev.txt (scripts/bootstrap.sh installs it, so does CI): a
missing mypy is a failure here, not a skip.
"""
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MYPY_CONFIG = """\
[mypy]
cache_dir = {cache_dir}
[mypy-zenoo_retry.*]
ignore_errors = True
[mypy-zenoo_retry._core]
ignore_errors = False
"""


def run_stubtest(tmp_path, *extra):
    config = tmp_path / "mypy.ini"
    config.write_text(MYPY_CONFIG.format(cache_dir=tmp_path / "mypy_cache"))
    cmd = [sys.executable, "-m", "mypy.stubtest", "--mypy-config-file", str(config), *extra,
           "zenoo_retry._core"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_mypy_is_installed():
    if importlib.util.find_spec("mypy") is None:
        pytest.fail(f"mypy is not importable by {sys.executable}; it is in requirements-dev.txt "
                    "(run scripts/bootstrap.sh, or pip install -r requirements-dev.txt)",
                    pytrace=False)


def test_core_stub_matches_the_extension(tmp_path):
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is not installed: cannot run stubtest (see test_mypy_is_installed)",
                    pytrace=False)
    proc = run_stubtest(tmp_path)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f"stubtest exited {proc.returncode}; zenoo_retry/_core.pyi differs from "
                    f"the built zenoo_retry._core:\n{output}", pytrace=False)
    assert "Success" in output, output
