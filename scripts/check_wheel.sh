#!/usr/bin/env bash
# check_wheel.sh PYTHON - build a wheel from this checkout and import it in a fresh venv.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -m pip wheel -q --disable-pip-version-check --no-build-isolation --no-deps . -w "$tmp/dist" >/dev/null
"$py" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --disable-pip-version-check --no-index "$tmp"/dist/zenoo_retry-*.whl
(cd "$tmp" && "$tmp/venv/bin/python" -c '
import zenoo_retry, zenoo_retry._core as c, os
assert os.path.dirname(c.__file__).startswith(os.path.dirname(zenoo_retry.__file__))
assert zenoo_retry.ExponentialBackoffStrategy(max_attempts=6, jitter=False).delays() == [1, 2, 4, 8, 16]
print("wheel ok:", os.path.basename(c.__file__))
')
