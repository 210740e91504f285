#!/usr/bin/env bash
# Benchmarks for the dataset browser (not tests): loading, first frame, memory.
#
#   bench/explorer.sh            (or: make bench-explorer)
#
# Prints medians of several runs, and ratios against anchors measured in the
# same run: `cat` of the same split files (the I/O floor) and a plain Python
# parser of the same lines (what a quick script does).
# Needs: a release build (make build), tmux, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VITRINE_BIN:-$PWD/.build/release/vitrine}
RUNS=${RUNS:-5}
BIG=${BIG:-/tmp/vitrine-bench-100k}
export LC_ALL=C.UTF-8

# shellcheck source=bench/lib.sh
. bench/lib.sh

if [[ ! -f $BIG/product1m_gallery_ossurl_v2.txt ]]; then
  echo "generating a 100,000-item set in $BIG (captions and small images)..." >&2
  "$BIN" sample-data --out "$BIG" --overwrite --quiet --brands 40 --gallery-views 330 --train 0 --dev 1000 --test 1000 \
    --min-side 64 --max-side 80 --quality 70
fi

echo "== machine: $(nproc) cores, $(uname -m), $(date -u +%F)"
for data in SampleData "$BIG"; do
  items=$(cat "$data"/product1m_*_ossurl_v2.txt | wc -l)
  read -r load_s load_kb < <(time_runs "$BIN" info --data "$data" --json)
  read -r cat_s _ < <(time_runs sh -c "cat $data/product1m_*_ossurl_v2.txt > /dev/null; ls $data/images > /dev/null")
  read -r py_s py_kb < <(time_runs python3 bench/anchor_load.py "$data")
  read -r nop_s nop_kb < <(time_runs "$BIN" --version)
  python3 - "$data" "$items" "$load_s" "$load_kb" "$cat_s" "$py_s" "$py_kb" "$nop_s" "$nop_kb" <<'PY'
import sys
d, n, ls, lk, cs, ps, pk, ns, nk = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
print(f"== load {d}: {n} lines")
print(f"  vitrine info (whole process): {ls:.3f} s, peak RSS {lk/1024:.1f} MiB")
print(f"  process start alone (--version): {ns:.3f} s, {nk/1024:.1f} MiB -> loading itself ~{max(0, ls-ns):.3f} s, ~{max(0, lk-nk)/1024:.1f} MiB")
print(f"  anchor cat + ls: {cs:.3f} s   ratio vitrine/cat {ls/max(cs,1e-3):.1f}x")
print(f"  anchor python parser: {ps:.3f} s, {pk/1024:.1f} MiB   ratio vitrine/python {ls/max(ps,1e-3):.2f}x")
PY
done

# First frame and RSS of the explorer, in a real terminal (tmux).
sock="vitrine-bench-$$"
trap 'tmux -L $sock kill-server 2>/dev/null || true' EXIT
firsts="" loaded="" rss=""
for _ in $(seq "$RUNS"); do
  trace=$(mktemp)
  tmux -L "$sock" -f /dev/null new-session -d -s b -x 160 -y 48 "env VITRINE_TRACE=$trace COLORTERM=truecolor $BIN explore --data SampleData"
  for _ in $(seq 200); do grep -q dataset-loaded "$trace" 2>/dev/null && break; sleep 0.05; done
  # Browse: 300 moves down so the thumbnail cache fills, then read the process's memory.
  for _ in $(seq 30); do tmux -L "$sock" send-keys -t b j j j j j j j j j j; sleep 0.05; done
  sleep 1
  pid=$(tmux -L "$sock" display -p -t b '#{pane_pid}')
  rss+=" $(awk '/VmHWM/ {print $2}' /proc/$pid/status)"
  tmux -L "$sock" send-keys -t b q
  sleep 0.3
  firsts+=" $(awk '/first-frame/ {print $2}' "$trace")"
  loaded+=" $(awk '/dataset-loaded/ {print $2}' "$trace")"
  rm -f "$trace"
  tmux -L "$sock" kill-server 2>/dev/null || true
done
echo "== explorer on SampleData, 160x48, truecolor (median of $RUNS)"
echo "  first frame: $(echo "$firsts" | median) ms after process start; dataset shown: $(echo "$loaded" | median) ms"
echo "  peak RSS after browsing 300 samples: $(echo "$rss" | median | python3 -c 'import sys; print(f"{float(sys.stdin.read())/1024:.1f}")') MiB"
