#!/usr/bin/env bash
# Daily crawl of both platforms (full catalog, today's titles) at a simulated latency, end to end: `webtoon run`
# from start to the loaded warehouse tables. Prints `webtoon run`'s own timing line per run (start-up, crawl as the
# ledger recorded it, end noticed, stop, reduce, load, models, total), so crawl time and the rest are split.
#
#   DATABASE_URL=… cluster/bench/cluster/daily.sh [BIN] [RUNS] [CONFIGS…]
#
# BIN defaults to .build/release/webtoon. CONFIGS are names of the settings below (default: "before after"), run
# alternately so load from other processes spreads over both. Every run gets a fresh ledger schema, data root and
# warehouse suffix (all dropped afterwards). LATENCY (ms, 30), SCALE (full), WORKERS (3), LOAD (1; 0 adds
# --no-load) and KEEP_DATA (0; 1 deletes the data roots only at exit) are environment variables.
set -euo pipefail
BIN=${1:-.build/release/webtoon}
RUNS=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
if [[ $# -gt 0 ]]; then CONFIGS=("$@"); else CONFIGS=(before after); fi
LATENCY=${LATENCY:-30}
SCALE=${SCALE:-full}
WORKERS=${WORKERS:-3}
: "${DATABASE_URL:?set DATABASE_URL (source cluster/setup.sh)}"
PSQL=${PSQL:-psql}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The settings `webtoon run` used against the simulator before issue #5's changes (per-worker in-flight at the
# catalogs' 5 Naver / 8 Kakao, 4 episodes at once, no prefetch, a 2000 req/s budget, 200 ms idle poll), and the
# simulated defaults of the second session (16 units, 32 in flight), spelled out so that both configurations run on
# one binary; `defaults` passes no flags.
settings() {
  case $1 in
    before) echo "--concurrency 4 --prefetch 0 --max-in-flight 0 --episode-parallelism 4 --rate 2000 --idle-poll-ms 200" ;;
    after) echo "--concurrency 16 --prefetch 2 --max-in-flight 32 --episode-parallelism 16 --rate 50000 --idle-poll-ms 50" ;;
    defaults) echo "" ;;  # whatever the binary's simulated defaults are
    *) echo "$1" | tr '_' ' ' ;;  # ad hoc: flags with '_' for spaces, e.g. --concurrency_8
  esac
}

echo "# $(date -u +%FT%TZ) $(uptime)"
echo "# scale=$SCALE latency=${LATENCY}ms workers=$WORKERS load=${LOAD:-1}"
for i in $(seq 1 "$RUNS"); do
  for config in "${CONFIGS[@]}"; do
    id="${i}_$$_$RANDOM"
    schema="bench_daily_$id"
    extra=()
    [[ ${LOAD:-1} == 1 ]] || extra+=(--no-load)
    # shellcheck disable=SC2046
    out=$("$BIN" run --mode daily --scale "$SCALE" --latency-ms "$LATENCY" --workers "$WORKERS" \
      $(settings "$config") "${extra[@]}" --schema "$schema" --warehouse-suffix "bench_$id" \
      --data-root "$scratch/run-$id" 2>"$scratch/stderr-$id") || { echo "run failed ($config):"; tail -20 "$scratch/stderr-$id"; exit 1; }
    "$PSQL" "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema, warehouse_bench_$id, site_bench_$id, dashboard_bench_$id CASCADE" >/dev/null 2>&1 || true
    requests=$(sed -n 's/^requests \([0-9]*\),.*/\1/p' <<<"$out")
    units=$(sed -n 's/^run [^:]*: units \([0-9]*\) .*/\1/p' <<<"$out")
    # CPU per process from each process's own `resources` line (workers, coordinator) and `webtoon run`'s line
    # (simulator + supervisor): µs per request of the whole run.
    cpu=$(cat "$scratch/run-$id"/logs/*.log 2>/dev/null | awk -v req="$requests" -v run="$(grep '^this process' <<<"$out")" '
      /resources/ {
        u = 0; s = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^cpuUserSeconds=/) { sub(/.*=/, "", $i); u = $i }
          if ($i ~ /^cpuSystemSeconds=/) { sub(/.*=/, "", $i); s = $i }
        }
        if ($0 ~ /role=worker/) { w += u + s; n++ } else if ($0 ~ /role=coordinator/) { c += u + s }
      }
      END {
        split(run, a, " ")
        for (i = 1; i in a; i++) { if (a[i] == "user") su = a[i + 1]; if (a[i] == "sys") ss = a[i + 1] }
        sim = su + ss
        if (req > 0) printf "cpu: workers %.2f s (%d µs/req, %d workers), coordinator %.2f s, simulator+run %.2f s (%d µs/req), all %.2f s", w, w * 1e6 / req, n, c, sim, sim * 1e6 / req, w + c + sim
      }')
    # KEEP_DATA=1 leaves each run's files until the script exits: on ext4 without a journal (this machine's /tmp),
    # inodes freed in the last minutes are skipped one by one when the next run creates its ~1,800 files.
    [[ ${KEEP_DATA:-0} == 1 ]] || rm -rf "$scratch/run-$id"
    echo "$config run=$i load1=$(cut -d' ' -f1 /proc/loadavg) requests=$requests units=$units | $(grep '^timing:' <<<"$out") | $cpu"
  done
done
