#!/usr/bin/env bash
# fuzz.sh [SECONDS] [TARGET...] - build the libFuzzer targets in fuzz/ and run each one for
# SECONDS (default 20) on its committed corpus (fuzz/corpus/<target>/), with ASan+UBSan.
#
# New inputs found while fuzzing go to build/fuzz/corpus/<target>/ (not committed); a crash
# leaves build/fuzz/crash-<target>-* and fails the script. To add an interesting input to
# the committed corpus, copy it into fuzz/corpus/<target>/ (keep inputs small).
# Needs clang with the libFuzzer runtime (scripts/bootstrap.sh installs clang).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
shift || true
CLANG=${ZR_FUZZ_CC:-clang}
command -v "$CLANG" >/dev/null 2>&1 || { echo "fuzz.sh: $CLANG not found (scripts/bootstrap.sh installs clang)" >&2; exit 1; }
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi

out=build/fuzz
mkdir -p "$out"
FLAGS="-std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Isrc -Ifuzz"
core=$(ls src/core/*.c | grep -v zr_clock.c || true)
core="$core src/core/zr_clock.c"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# segment files written by fuzz_shm go to a private directory removed afterwards
ZR_FUZZ_DIR=$(mktemp -d /tmp/zr_fuzz.XXXXXX)
export ZR_FUZZ_DIR
trap 'rm -rf "$ZR_FUZZ_DIR"' EXIT

for t in "${targets[@]}"; do
    src=fuzz/fuzz_$t.c
    [ -f "$src" ] || { echo "fuzz.sh: no target $src" >&2; exit 1; }
    echo "== fuzz $t: build"
    # shellcheck disable=SC2086
    $CLANG $FLAGS "$src" $core -lm -lpthread -o "$out/fuzz_$t"
    mkdir -p "$out/corpus/$t" "fuzz/corpus/$t"
    echo "== fuzz $t: ${secs}s"
    # the first corpus dir receives new inputs; the committed one is read only
    "$out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -max_len=4096 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$out/crash-$t-" \
        "$out/corpus/$t" "fuzz/corpus/$t" 2>"$out/fuzz_$t.log" || {
        tail -60 "$out/fuzz_$t.log" >&2
        echo "fuzz $t FAILED: see $out/fuzz_$t.log and $out/crash-$t-*" >&2
        exit 1
    }
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/fuzz_$t.log" | tr '\n' ' '
    echo
done
echo "== fuzz: all targets clean"
