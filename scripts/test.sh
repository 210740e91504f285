#!/usr/bin/env bash
# `make test`: every test, against one release build (numeric code is unusable without
# optimisation, tests included). Run after scripts/setup.sh and scripts/fetch-weights.sh.
#
#   1. The twin's Python environment (scripts/setup-scaleout.sh: pip, mostly waiting on files) is
#      made while Swift builds the binary and the test targets in one invocation.
#   2. The end-to-end suites share one cache: SampleData's gallery index and every image's
#      backbone features are made once here, not by each suite at the same time.
#   3. Swift's tests (unit, snapshots, tmux end to end) and the twin's (scaleout/tests) run at the
#      same time: Swift's use about 1.5 of the 2 cores on average, and the twin's run at a lower
#      priority (nice) in what is left, in their own copy of the cache. The twin's output is
#      printed after Swift's. Either failing fails the run.
#
# Environment: SWIFT (swift), JOBS (the number of cores), E2E_CACHE (the shared cache).
set -uo pipefail
cd "$(dirname "$0")/.."

SWIFT=${SWIFT:-swift}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
BIN=.build/release/vitrine
E2E_CACHE=${E2E_CACHE:-${TMPDIR:-/tmp}/vitrine-e2e-cache-$(id -u)}
TWIN_CACHE="$E2E_CACHE-scaleout"
PY=.setup/scaleout-venv/bin/python
mkdir -p .setup

venv_log=.setup/scaleout-setup.log
scripts/setup-scaleout.sh > "$venv_log" 2>&1 &
venv=$!

if ! "$SWIFT" build -c release --build-tests -j "$JOBS"; then
  wait "$venv"
  exit 1
fi
if ! wait "$venv"; then
  cat "$venv_log" >&2
  exit 1
fi
cat "$venv_log" >&2

VITRINE_CACHE="$E2E_CACHE" "$BIN" index --data SampleData --quiet || exit 1
VITRINE_CACHE="$E2E_CACHE" "$BIN" features --data SampleData --quiet || exit 1
# The twin's tests write into their cache (indexes of the models they train): a copy of the
# features (hard links: entries are never rewritten in place, a new one replaces the file).
rm -rf "$TWIN_CACHE"
mkdir -p "$TWIN_CACHE"
cp -al "$E2E_CACHE/features" "$TWIN_CACHE/features" || exit 1

twin_log="$TWIN_CACHE.log"
LC_ALL=C.UTF-8 SCALEOUT_TEST_CACHE="$TWIN_CACHE" VITRINE_BIN="$PWD/$BIN" \
  nice -n 10 "$PY" -m unittest discover -s scaleout/tests -t scaleout > "$twin_log" 2>&1 &
twin=$!

LC_ALL=C.UTF-8 VITRINE_E2E_CACHE="$E2E_CACHE" VITRINE_BIN="$PWD/$BIN" VITRINE_SCALEOUT_PYTHON="$PWD/$PY" \
  "$SWIFT" test -c release --disable-testable-imports --skip-build -j "$JOBS"
swift_status=$?

wait "$twin"
twin_status=$?
echo "== the PyTorch twin's tests (scaleout/tests) =="
cat "$twin_log"

if ((swift_status != 0)); then echo "test: Swift's tests failed (status $swift_status)" >&2; fi
if ((twin_status != 0)); then echo "test: the twin's tests failed (status $twin_status)" >&2; fi
((swift_status == 0 && twin_status == 0))
