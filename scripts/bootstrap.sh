#!/usr/bin/env bash
# bootstrap.sh [PYTHON] - make a ready virtualenv for zenoo_retry, idempotently.
#
# Creates .venv (or .venv-X.Y for another interpreter), installs requirements-dev.txt
# when it changed, installs any missing Debian tools the tests need, and builds the
# extension in place with warnings as errors. Prints the venv's python path last.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${1:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$ver" = "3.11" ] || [ "${1:-}" = "" ]; then venv=.venv; else venv=.venv-$ver; fi

# Debian packages the test suite needs (installed once, only when missing).
need=()
for pair in "redis-server:redis-server" "valgrind:valgrind" "make:make" "gcc:gcc"; do
    cmd=${pair%%:*}; pkg=${pair##*:}
    command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
# clang and its libFuzzer/sanitizer runtimes, for the fuzz targets (scripts/fuzz.sh)
command -v clang >/dev/null 2>&1 || need+=("clang")
if ! command -v clang >/dev/null 2>&1 ||
    [ ! -f "$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a" ]; then
    need+=("libclang-rt-dev")
fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing ${need[*]}" >&2
        apt-get update -qq >&2 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
    else
        echo "bootstrap: missing ${need[*]} (install them to run every test)" >&2
    fi
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "bootstrap: creating $venv with $PY" >&2
    "$PY" -m venv "$venv" >&2
fi
vpy=$venv/bin/python
stamp=$venv/.zr-requirements.sha
want=$(cat requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "bootstrap: installing requirements into $venv" >&2
    "$vpy" -m pip install -q --disable-pip-version-check --upgrade pip >&2
    "$vpy" -m pip install -q --disable-pip-version-check -r requirements-dev.txt >&2
    "$vpy" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e . >&2
    echo "$want" > "$stamp"
fi
# Rebuild the extension in place (incremental) with the test build's flags.
ZR_WERROR=1 "$vpy" setup.py -q build_ext --inplace --force >&2 2> >(grep -v -E "BetaConfiguration|warnings.warn" >&2)
echo "$vpy"
