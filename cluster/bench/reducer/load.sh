#!/usr/bin/env bash
# Load benchmark: WarehouseLoader.loadSlice (binary COPY into a temp table, then DELETE slice + INSERT … SELECT +
# ledger row, one transaction) against `psql \copy … CSV` of the same rows straight into a copy of the table
# (same columns, keys and indexes, no staging). Prints one JSON line per run.
#
#   DATABASE_URL=… cluster/bench/reducer/load.sh [ROWS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
: "${DATABASE_URL:?DATABASE_URL must name the PostgreSQL server}"
rows="${1:-500000}"; runs="${2:-3}"
csv="${BENCH_DIR:-/tmp/webtoon-load-bench}.csv"
swift build -c release --product reducer-memcheck >/dev/null
bin="$(swift build -c release --show-bin-path)/reducer-memcheck"
columns="platform, title_id, episode_id, snapshot_date, no, title, likes, comments, rating, image_url, published_date, missing_reason, fetched_at"
for run in $(seq "$runs"); do
    ours="$("$bin" load --database "$DATABASE_URL" --rows "$rows" --csv "$csv" --keep 2>/dev/null)"
    schema="$(echo "$ours" | sed 's/.*"schema":"\([^"]*\)".*/\1/')"
    echo "{\"engine\":\"WarehouseLoader\",$(echo "$ours" | cut -c2-)"
    psql -q "$DATABASE_URL" -c "CREATE TABLE \"$schema\".episodes_psql (LIKE \"$schema\".episodes INCLUDING ALL)"
    start=$(date +%s.%N)
    psql -q "$DATABASE_URL" -c "\\copy \"$schema\".episodes_psql ($columns) FROM '$csv' CSV"
    end=$(date +%s.%N)
    echo "{\"engine\":\"psql \\\\copy csv\",\"rows\":$rows,\"seconds\":$(echo "$end - $start" | bc),\"rowsPerSecond\":$(echo "$rows / ($end - $start)" | bc)}"
    PGOPTIONS="-c client_min_messages=warning" psql -q "$DATABASE_URL" -c "DROP SCHEMA \"$schema\" CASCADE"
done
rm -f "$csv"
