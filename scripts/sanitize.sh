#!/usr/bin/env bash
# sanitize.sh [--no-pytest] [pytest args...] - memory-safety checks with the compilers' sanitizers.
#
#  1. the C engine tests built with -fsanitize=address,undefined (gcc), run with leak
#     detection on (ASAN_OPTIONS=detect_leaks=1): out-of-bounds, use-after-free, leaks,
#     signed overflow, bad shifts, misaligned loads, float->int overflow ... abort the run;
#  2. valgrind memcheck on the normal (unsanitized) C test binary: uninitialised reads,
#     invalid accesses, leaks (--error-exitcode=1 --leak-check=full);
#  3. the extension built with the same sanitizers in a private copy of the tree
#     (build/sanitize/tree: the normal in-place build is never touched), then the whole
#     pytest suite run against it, with the ASan runtime preloaded into CPython
#     (LD_PRELOAD=libasan.so, PYTHONMALLOC=malloc so every Python allocation goes through
#     ASan too). Leak detection is off for the Python process (CPython keeps objects alive
#     at exit by design); reference leaks are covered by tests/test_refleaks.py.
# Extra arguments are passed to pytest (default: -q -x -p no:cacheprovider tests).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

run_pytest=1
if [ "${1:-}" = "--no-pytest" ]; then run_pytest=0; shift; fi

CC=${ZR_SAN_CC:-gcc}
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
mkdir -p build
# halt_on_error: any report fails the run; UBSan prints a stack so the report is usable.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

t0=$(date +%s)
echo "== sanitize: C engine tests with ASan+UBSan ($CC)"
$CC -std=c11 -Wall -Wextra -Werror -O1 -g $SAN -Isrc -Itests/c src/core/*.c tests/c/*.c \
    -lm -lpthread -o build/ctest-asan
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1" \
    ./build/ctest-asan

echo "== sanitize: C engine tests under valgrind memcheck"
if command -v valgrind >/dev/null 2>&1; then
    make -s build/ctest
    valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --track-origins=yes ./build/ctest
else
    echo "valgrind not installed: run scripts/bootstrap.sh as root (it installs it)" >&2
    exit 1
fi

if [ $run_pytest = 1 ]; then
    py=$(scripts/bootstrap.sh)
    py=$root/$py
    tree=build/sanitize/tree
    echo "== sanitize: extension with ASan+UBSan in $tree"
    mkdir -p "$tree"
    # a private copy of what the build and the tests need (rsync-free: plain cp)
    rm -rf "$tree/zenoo_retry" "$tree/src" "$tree/tests"
    cp -r zenoo_retry src tests setup.py pyproject.toml README.md "$tree/"
    find "$tree/zenoo_retry" -name '*.so' -delete
    find "$tree" -name '__pycache__' -prune -exec rm -rf {} +
    (cd "$tree" && CC=$CC ZR_SANITIZE=1 ZR_DEBUG=1 ZR_WERROR=1 "$py" setup.py -q build_ext --inplace \
        2> >(grep -v -E "BetaConfiguration|warnings.warn|FutureWarning|^  warn\(" >&2))
    libasan=$($CC -print-file-name=libasan.so)
    [ -f "$libasan" ] || { echo "no libasan.so for $CC" >&2; exit 1; }
    echo "== sanitize: pytest under ASan (LD_PRELOAD=$libasan, PYTHONMALLOC=malloc)"
    args=("$@")
    [ ${#args[@]} -gt 0 ] || args=(-q -x -p no:cacheprovider tests)
    (cd "$tree" &&
        # prove the sanitized build is the one imported (not the worktree's in-place one)
        LD_PRELOAD=$libasan PYTHONMALLOC=malloc ASAN_OPTIONS=detect_leaks=0 "$py" -c \
            'import sys, zenoo_retry._core as c; sys.exit(0 if "/build/sanitize/tree/" in c.__file__ else "wrong build imported: " + c.__file__)' &&
        LD_PRELOAD=$libasan PYTHONMALLOC=malloc \
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:allocator_may_return_null=1" \
        ZR_SANITIZED=1 "$py" -m pytest "${args[@]}")
fi
echo "== sanitize: clean ($(( $(date +%s) - t0 )) s)"
