# Shared by the benchmark scripts (sourced): medians, and timing a command over several runs.
# Needs RUNS set, python3 and /usr/bin/time.

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.stdin.read().split()]; print(f"{statistics.median(v):.3f}" if v else "n/a")'; }

# time_runs CMD...: "median_wall_s median_maxrss_kb" over $RUNS runs (after one warm-up).
time_runs() {
  "$@" >/dev/null 2>&1 || true
  local walls="" rss=""
  for _ in $(seq "$RUNS"); do
    local tf out
    tf=$(mktemp)
    /usr/bin/time -o "$tf" -f "%e %M" "$@" >/dev/null 2>&1 || true
    out=$(tail -1 "$tf"); rm -f "$tf"
    walls+=" ${out% *}"; rss+=" ${out#* }"
  done
  echo "$(echo "$walls" | median) $(echo "$rss" | median)"
}
