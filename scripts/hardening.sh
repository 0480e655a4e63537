#!/usr/bin/env bash
# hardening.sh [--long] - the memory-safety and robustness profile (issue 9).
#
#   scripts/sanitize.sh   C engine tests under ASan+UBSan (leaks on) and valgrind memcheck,
#                         then the whole pytest suite against an ASan+UBSan build of the
#                         extension (tests/test_refleaks.py, test_hostile.py and
#                         test_api_fuzz.py included);
#   scripts/fuzz.sh N     every libFuzzer target in fuzz/ for N seconds on its corpus.
#
# Default (CI, called at the end of scripts/test.sh): fuzz 20 s per target, ~2-3 min in all.
# --long: fuzz 600 s per target and run hypothesis with more examples (ZR_FUZZ_EXAMPLES).
# ZR_FUZZ_SECONDS overrides the per-target fuzzing time.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${ZR_FUZZ_SECONDS:-20}
if [ "${1:-}" = "--long" ]; then
    secs=${ZR_FUZZ_SECONDS:-600}
    export ZR_FUZZ_EXAMPLES=${ZR_FUZZ_EXAMPLES:-2000}
fi
t0=$(date +%s)
scripts/sanitize.sh
t1=$(date +%s)
scripts/fuzz.sh "$secs"
t2=$(date +%s)
echo "== hardening: clean (sanitizers+valgrind $((t1 - t0)) s, fuzzing $((t2 - t1)) s)"
