#!/usr/bin/env bash
# Benchmark Vitrine's exact search against faiss's IndexFlatIP (see README.md here).
#
#   bench/search/run.sh [faiss_bench.py options, e.g. --sizes 100000 --batches 1,64]
#
# Builds vitrine (release, scratch folder .build-bench unless VITRINE_SCRATCH is set), puts
# faiss-cpu and numpy in a throwaway virtual environment (VENV, default /tmp/vitrine-faiss-venv),
# and runs faiss_bench.py. faiss is never a dependency of Vitrine itself.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scratch="${VITRINE_SCRATCH:-$root/.build-bench}"
venv="${VENV:-/tmp/vitrine-faiss-venv}"

(cd "$root" && swift build -c release --product vitrine --scratch-path "$scratch")
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet faiss-cpu numpy
fi
exec "$venv/bin/python" "$here/faiss_bench.py" --vitrine "$scratch/release/vitrine" "$@"
