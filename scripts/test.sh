#!/usr/bin/env bash
# test.sh - build everything and run every test: the C engine tests, then pytest.
# Also runs the suite on other CPython versions (3.10, 3.12, 3.13) found on the machine,
# unless ZR_ONLY_DEFAULT_PYTHON=1. Ends with scripts/hardening.sh (sanitizers, valgrind,
# bounded fuzzing; ~3 min) unless ZR_SKIP_HARDENING=1.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== C engine tests (warnings are errors)"
make -s ctest

py=$(scripts/bootstrap.sh)
run_pytest() {
    local python=$1; shift
    set +e
    "$python" -m pytest "$@"
    local rc=$?
    set -e
    if [ $rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; return 1; fi
    return $rc
}

echo "== pytest ($("$py" --version))"
run_pytest "$py" -q tests

echo "== packaging: build a wheel and import it in a clean venv"
scripts/check_wheel.sh "$py"

if [ "${ZR_ONLY_DEFAULT_PYTHON:-0}" != "1" ]; then
    for v in 3.10 3.12 3.13; do
        other=""
        for cand in "$HOME"/.pyenv/versions/$v*/bin/python3 "/usr/bin/python$v" "/usr/local/bin/python$v"; do
            if [ -x "$cand" ] && "$cand" --version >/dev/null 2>&1; then other=$cand; break; fi
        done
        [ -n "$other" ] || { echo "== CPython $v not found: skipped"; continue; }
        echo "== pytest on CPython $v ($other)"
        opy=$(scripts/bootstrap.sh "$other")
        run_pytest "$opy" -q -x -p no:cacheprovider tests -m "not slow"
    done
fi
if [ "${ZR_SKIP_HARDENING:-0}" != "1" ]; then
    echo "== hardening: sanitizers, valgrind, fuzzing (ZR_SKIP_HARDENING=1 skips)"
    scripts/hardening.sh
fi
echo "== all tests passed"
