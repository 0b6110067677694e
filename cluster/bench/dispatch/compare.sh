#!/bin/bash
# Runs dispatch-bench for this checkout ("after") and an older build ("before") alternately, one setting at a time,
# with the same PostgreSQL (PGDATA) and environment. Usage (after `source cluster/setup.sh` in the worktree):
#   git archive <commit> | tar -x -C /tmp/base && (cd /tmp/base/cluster/bench/dispatch && swift build -c release)
#   cluster/bench/dispatch/compare.sh /tmp/base out.txt "UNITS=100000 RUNS=3 CLIENTS=4,8 MODES=batch BATCH=256" ...
# Ports start at PORT (default 43200), eight apart per binary; a taken port is skipped by the benchmark itself.
set -u
here=$(cd "$(dirname "$0")" && pwd)
before=$1/cluster/bench/dispatch
out=$2
shift 2
export PGDATA=${PGDATA:-$here/../../../.local/pg}
port=${PORT:-43200}
: > "$out"
for setting in "$@"; do
  for which in after before; do
    dir=$here
    [ "$which" = before ] && dir=$before
    echo "== $which $setting $(date -u +%T) $(uptime | sed 's/.*load/load/')" >> "$out"
    (cd "$dir" && env $setting PORT=$port .build/release/dispatch-bench < /dev/null >> "$out" 2>&1)
    port=$((port + 8))
  done
done
echo "== end $(date -u +%T) $(uptime | sed 's/.*load/load/')" >> "$out"
