#!/usr/bin/env bash
# The full-size benchmark (not a test): Vitrine on a generated set of the real Product1M's shape
# (1,132,830 training lines, 2,673 dev, 6,547 test, about 40,000 gallery items; 297 MB of split
# files, no images), next to anchors measured in the same run.
#
#   bench/fullsize.sh            (or: make bench-fullsize)
#
# Prints medians of $RUNS runs:
#   - `vitrine info`: wall time and peak RSS; anchors: `cat` and `wc -l` of the files (the I/O
#     floor), a Python loop that splits every line (bench/anchor_load.py --split);
#   - the explorer in tmux (120x40, --no-search): first frame, first rows (the splits but the
#     large training split), everything browsable (the training split too), peak RSS after `G`
#     and a switch to the training split;
#   - the filter over the training split: first matches on screen and the full count, after the
#     last key of "lumessa" (VITRINE_TRACE marks);
#   - `vitrine query --stdin` on SampleData: queries per second with the model loaded once,
#     against one-shot `vitrine query` processes;
#   - with VISIDATA=1, VisiData opening the training split (pip-installed into a throwaway virtual
#     environment): time to its first screen and until all rows are loaded.
# Needs: a release build (make build), tmux, /usr/bin/time, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VITRINE_BIN:-$PWD/.build/release/vitrine}
RUNS=${RUNS:-5}
FULL=${FULL:-/tmp/vitrine-bench-full}
export LC_ALL=C.UTF-8

# shellcheck source=bench/lib.sh
. bench/lib.sh

if [[ ! -f $FULL/product1m_train_ossurl_v2.txt ]]; then
  echo "generating the full-size set in $FULL (about 30 s)..." >&2
  "$BIN" sample-data --out "$FULL" --overwrite --quiet --no-images \
    --train 1132830 --dev 2673 --test 6547 --gallery-views 134
fi
files=("$FULL"/product1m_*_ossurl_v2.txt)
lines=$(cat "${files[@]}" | wc -l)
flags=$(grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), flags: ${flags}load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "== $FULL: $lines lines, $(du -cm "${files[@]}" | tail -1 | cut -f1) MB of split files"

read -r info_s info_kb < <(time_runs "$BIN" info --data "$FULL" --json)
read -r cat_s _ < <(time_runs sh -c "cat ${files[*]} > /dev/null")
read -r wc_s _ < <(time_runs sh -c "cat ${files[*]} | wc -l > /dev/null")
read -r py_s py_kb < <(time_runs python3 bench/anchor_load.py "$FULL" --split)
python3 - "$info_s" "$info_kb" "$cat_s" "$wc_s" "$py_s" "$py_kb" <<'PY'
import sys
i, ik, c, w, p, pk = map(float, sys.argv[1:])
print(f"  vitrine info --json: {i:.3f} s, peak RSS {ik/1024:.1f} MiB   (targets: <= 1 s, <= 100 MB)")
print(f"  anchor cat: {c:.3f} s ({i/max(c,1e-3):.1f}x), wc -l: {w:.3f} s ({i/max(w,1e-3):.1f}x), "
      f"python split loop: {p:.3f} s, {pk/1024:.1f} MiB (vitrine/python {i/max(p,1e-3):.2f}x)")
PY

# The explorer, in tmux.
sock="vitrine-fullsize-$$"
trap 'tmux -L $sock kill-server 2>/dev/null || true' EXIT
mark() { awk -v n="$1" '$1 == n {print $2; exit}' "$2"; }
first="" rows="" loaded="" rss="" fstart="" fmatch="" fdone=""
for _ in $(seq "$RUNS"); do
  trace=$(mktemp)
  tmux -L "$sock" -f /dev/null new-session -d -s b -x 120 -y 40 "env VITRINE_TRACE=$trace $BIN explore --no-search --data $FULL"
  for _ in $(seq 600); do grep -q dataset-loaded "$trace" 2>/dev/null && break; sleep 0.02; done
  pid=$(tmux -L "$sock" display -p -t b '#{pane_pid}')
  tmux -L "$sock" send-keys -t b G; sleep 0.3
  tmux -L "$sock" send-keys -t b Tab; sleep 0.5
  tmux -L "$sock" send-keys -t b /; sleep 0.2
  tmux -L "$sock" send-keys -t b -l "lumessa"
  for _ in $(seq 500); do grep -q filter-done "$trace" 2>/dev/null && break; sleep 0.02; done
  rss+=" $(awk '/VmHWM/ {print $2}' /proc/$pid/status)"
  tmux -L "$sock" send-keys -t b Enter; sleep 0.2; tmux -L "$sock" send-keys -t b q; sleep 0.3
  first+=" $(mark first-frame "$trace")"; rows+=" $(mark first-rows "$trace")"; loaded+=" $(mark dataset-loaded "$trace")"
  # The last filter started (the last key) and what it showed.
  s=$(awk '$1 == "filter-start" {v=$2} END {print v}' "$trace")
  m=$(awk -v s="$s" '$1 == "filter-first-matches" && $2 >= s {print $2; exit}' "$trace")
  d=$(awk -v s="$s" '$1 == "filter-done" && $2 >= s {print $2; exit}' "$trace")
  [[ -n $m ]] && fmatch+=" $(python3 -c "print($m - $s)")"
  [[ -n $d ]] && fdone+=" $(python3 -c "print($d - $s)")"
  rm -f "$trace"
  tmux -L "$sock" kill-server 2>/dev/null || true
done
echo "== explorer on $FULL, 120x40, --no-search (median of $RUNS)"
echo "  first frame: $(echo "$first" | median) ms after process start; first rows on screen: $(echo "$rows" | median) ms (target <= 300 ms)"
echo "  every split on screen, everything browsable: $(echo "$loaded" | median) ms (target <= 1500 ms)"
echo "  peak RSS after G, a switch to train and a filter over it: $(echo "$rss" | median | python3 -c 'import sys; print(f"{float(sys.stdin.read())/1024:.1f}")') MiB (target <= 200 MB)"
echo "  filter \"lumessa\" over 1,132,830 training lines, after the last key: first matches on screen $(echo "$fmatch" | median) ms (target <= 150), full count $(echo "$fdone" | median) ms (target <= 1000)"

# Scripting: one process per query against --stdin.
captions=$(awk -F'#####' '{print $2}' SampleData/product1m_test_ossurl_v2.txt | head -300)
"$BIN" index --data SampleData >/dev/null 2>&1 || true
t0=$(date +%s.%N)
echo "$captions" | "$BIN" query --stdin --data SampleData --top 10 --quiet > /tmp/vitrine-stdin-$$.jsonl
t1=$(date +%s.%N)
answered=$(grep -c '"matches"' /tmp/vitrine-stdin-$$.jsonl || true); rm -f /tmp/vitrine-stdin-$$.jsonl
read -r one_s one_kb < <(time_runs "$BIN" query --data SampleData --top 10 --quiet "$(echo "$captions" | head -1)")
python3 - "$t0" "$t1" "$answered" "$one_s" "$one_kb" <<'PY'
import sys
t0, t1, n, one, kb = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
qps = n / (t1 - t0)
print(f"== vitrine query on SampleData (zero-shot, e5), 300 test captions")
print(f"  --stdin: {n} answered in {t1 - t0:.2f} s (start-up included): {qps:.1f} queries/s")
print(f"  one-shot processes: {one:.3f} s each, peak RSS {kb/1024:.1f} MiB: {1/one:.1f} queries/s  (--stdin {qps*one:.0f}x)")
PY

if [[ ${VISIDATA:-0} == 1 ]]; then
  venv=/tmp/vitrine-visidata-venv
  [[ -x $venv/bin/vd ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet visidata; }
  vfirst="" vall=""
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s.%N)
    tmux -L "$sock" -f /dev/null new-session -d -s v -x 120 -y 40 "$venv/bin/vd $FULL/product1m_train_ossurl_v2.txt"
    f="" a=""
    for _ in $(seq 3000); do
      screen=$(tmux -L "$sock" capture-pane -p -t v 2>/dev/null || true)
      now=$(date +%s.%N)
      [[ -z $f && $screen == *"#####"* ]] && f=$(python3 -c "print($now - $t0)")
      if [[ $screen == *"1132830 "* ]] && ! grep -q '%' <<<"$(tail -1 <<<"$screen")"; then a=$(python3 -c "print($now - $t0)"); break; fi
      sleep 0.05
    done
    vfirst+=" $f"; vall+=" $a"
    tmux -L "$sock" kill-server 2>/dev/null || true
  done
  echo "== VisiData $("$venv/bin/vd" --version 2>/dev/null | head -1) opening the training split: first screen $(echo "$vfirst" | median) s, all rows loaded $(echo "$vall" | median) s"
fi
