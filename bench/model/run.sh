#!/usr/bin/env bash
# The model benchmark (bench/model/README.md): the PyTorch CPU reference side.
# Creates a throwaway virtual environment with the local CPU torch wheel (torch is never a
# dependency of Vitrine), then runs tools/reference/capture_bench.py with the given options.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${VITRINE_TORCH_VENV:-/tmp/vitrine-torch-venv}"
WHEEL_GLOB="${VITRINE_TORCH_WHEEL:-/opt/wheels/torch-*.whl}"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import torch, safetensors, numpy' 2>/dev/null; then
    # shellcheck disable=SC2086
    wheels=( $WHEEL_GLOB )
    if [[ ! -f "${wheels[0]}" ]]; then
        echo "bench/model: no torch wheel matches $WHEEL_GLOB; set VITRINE_TORCH_WHEEL to a CPU torch wheel" >&2
        exit 1
    fi
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "${wheels[0]}" numpy safetensors
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exec "$VENV/bin/python" tools/reference/capture_bench.py "$@"
