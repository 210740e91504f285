#!/usr/bin/env bash
# The pretraining benchmark (not a test): `vitrine train --mode pretrain` over a training split of
# Product1M's size (1,132,830 pairs with small JPEGs), next to the same run on SampleData's 900
# pairs, measured in the same run.
#
#   bench/pretrain.sh            (or: make bench-pretrain)
#
# For each data set, medians of $RUNS runs (default 3) of
#   vitrine train --mode pretrain --preset $PRESET --no-eval --steps $STEPS --json
# with a feature cache of its own (cold: every feature is computed when a batch first draws it):
#   - peak RSS (the training split is streamed: its size should not show);
#   - seconds to the epoch estimate, and to the first step;
#   - the estimate's seconds a step (compute, and reading a batch at the cache's coverage) next to
#     the seconds a step measured over the run's steps after the first.
# Generating the full-size set with images takes about 15 minutes and 5 GB (once; FULLPIX=DIR
# keeps it elsewhere). Needs: a release build (make build), python3, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VITRINE_BIN:-$PWD/.build/release/vitrine}
RUNS=${RUNS:-3}
STEPS=${STEPS:-6}
PRESET=${PRESET:-full}
FULLPIX=${FULLPIX:-/tmp/vitrine-bench-fullpix}
export LC_ALL=C.UTF-8

if [[ ! -f $FULLPIX/MANIFEST.sha256 ]]; then
  echo "generating the full-size set with images in $FULLPIX (about 15 minutes, 5 GB)..." >&2
  "$BIN" sample-data --out "$FULLPIX" --overwrite --quiet --train 1132830 --dev 2673 --test 6547 \
    --gallery-views 134 --min-side 64 --max-side 80 --quality 70
fi
flags=$(grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), flags: ${flags}load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "== vitrine train --mode pretrain --preset $PRESET --no-eval --steps $STEPS, $RUNS runs each, cold feature cache"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run DATA LABEL: one line of figures per run into $work/LABEL.
run() {
  local data=$1 label=$2
  for _ in $(seq "$RUNS"); do
    rm -rf "$work/cache" "$work/run"
    python3 - "$work" "$BIN" "$data" "$PRESET" "$STEPS" >> "$work/$label" <<'PY'
import json, os, statistics, subprocess, sys, time
work, binary, data, preset, steps = sys.argv[1:]
env = dict(os.environ, VITRINE_CACHE=work + "/cache")
p = subprocess.Popen(["/usr/bin/time", "-o", work + "/time", "-f", "%e %M", binary, "train", "--data", data,
                      "--mode", "pretrain", "--preset", preset, "--no-eval", "--steps", steps, "--out", work + "/run",
                      "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
start = time.monotonic()
events, arrivals = [], []
for line in p.stdout:
    if line.startswith("{"):
        events.append(json.loads(line)); arrivals.append(time.monotonic() - start)
if p.wait() != 0:
    sys.exit("vitrine train failed on " + data)
wall, kib = open(work + "/time").read().split()[-2:]
est_at = next(t for e, t in zip(events, arrivals) if e["event"] == "estimate")
est = next(e for e in events if e["event"] == "estimate")
step_at = [t for e, t in zip(events, arrivals) if e["event"] == "step"]
# Seconds a step: between step events, after the first step.
per_step = statistics.median(b - a for a, b in zip(step_at[1:], step_at[2:]))
est_step = est["firstEpochSeconds"] / est["stepsPerEpoch"]
print(wall, kib, est["pairs"], est["stepsPerEpoch"], est["computeSeconds"], est_step, per_step,
      est["cachedFraction"], est["missSeconds"] or 0, est["firstEpochSeconds"], est["laterEpochSeconds"],
      est_at, step_at[0])
PY
  done
}

run "$FULLPIX" full
run "$PWD/SampleData" sample

python3 - "$work/full" "$work/sample" <<'PY'
import statistics, sys
def load(path):
    rows = [list(map(float, line.split())) for line in open(path)]
    return [statistics.median(c) for c in zip(*rows)]
full, sample = load(sys.argv[1]), load(sys.argv[2])
def hm(s):
    s = int(s); return f"{s // 3600} h {s // 60 % 60:02d} min"
for name, f in (("full size", full), ("SampleData", sample)):
    wall, kib, pairs, steps, compute, est_step, step, cached, miss, first, later, est_at, step1_at = f
    print(f"  {name}: {int(pairs):,} pairs, {int(steps):,} steps an epoch; peak RSS {kib/1024:.0f} MiB; "
          f"estimate after {est_at:.1f} s, first step after {step1_at:.1f} s, run {wall:.1f} s")
    print(f"    estimate: a step {est_step:.2f} s at {cached*100:.0f}% cached (compute {compute:.2f} s, "
          f"a missing feature {miss*1000:.0f} ms); measured {step:.2f} s a step "
          f"(estimate/measured {est_step/step:.2f}x)")
    print(f"    an epoch: first {hm(first)}, later ones {hm(later)}")
print(f"  peak RSS full size / SampleData: {full[1]/sample[1]:.2f}x for {full[2]/sample[2]:.0f}x the pairs")
print(f"  (holding every training pair's 7x7x320 float32 cells instead: {full[2]*62720/1e9:.1f} GB)")
PY
