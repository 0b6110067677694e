#!/usr/bin/env bash
# Benchmark of `webtoon run` (simulator + coordinator + N worker processes, ledger in PostgreSQL) in daily mode
# at a simulated platform latency, against `webtoon crawl` (one process, same simulator settings).
#
#   DATABASE_URL=postgresql://postgres@127.0.0.1:55432/webtoon cluster/bench/cluster/run-bench.sh [BIN] [RUNS] [SCALE]
#
# BIN defaults to .build/debug/webtoon. Each `webtoon run` uses a fresh ledger schema (dropped afterwards) and a
# fresh data root. Prints one line per run: mode, workers, wall seconds, requests, units.
set -euo pipefail
BIN=${1:-.build/debug/webtoon}
RUNS=${2:-5}
SCALE=${3:-full}
LATENCY=${LATENCY:-30}
: "${DATABASE_URL:?set DATABASE_URL}"
PSQL=${PSQL:-psql}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for workers in 1 3; do
  for i in $(seq 1 "$RUNS"); do
    schema="bench_cluster_${workers}_${i}_$$"
    out=$("$BIN" run --no-load --mode daily --scale "$SCALE" --latency-ms "$LATENCY" --workers "$workers" --concurrency 4 \
      --schema "$schema" --data-root "$scratch/run-$workers-$i" 2>/dev/null)
    "$PSQL" "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    wall=$(sed -n 's/^wall time \([0-9.]*\) s.*/\1/p' <<<"$out")
    requests=$(sed -n 's/^requests \([0-9]*\),.*/\1/p' <<<"$out")
    units=$(sed -n 's/^run [^:]*: units \([0-9]*\) .*/\1/p' <<<"$out")
    echo "cluster workers=$workers run=$i wall_s=$wall requests=$requests units=$units"
  done
done

# Baseline: one process, same simulator settings, same concurrency budget as 3 workers x 4 units.
port=$(( 20000 + RANDOM % 20000 ))
"$BIN" simulate --port "$port" --scale "$SCALE" --latency-ms "$LATENCY" >"$scratch/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; rm -rf "$scratch"' EXIT
for _ in $(seq 1 50); do grep -q "ready" "$scratch/sim.log" && break; sleep 0.1; done
for i in $(seq 1 "$RUNS"); do
  out=$("$BIN" crawl --mode daily --date 2026-11-25 --base-url "http://127.0.0.1:$port" --out "$scratch/crawl-$i" \
    --concurrency 12 --requests-per-second 2000 --max-in-flight 12)
  wall=$(sed -n 's/^elapsed: \([0-9.]*\) s.*/\1/p' <<<"$out")
  echo "local-crawl concurrency=12 run=$i wall_s=$wall"
done
