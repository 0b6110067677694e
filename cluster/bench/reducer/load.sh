#!/usr/bin/env bash
# Load benchmark, one slice of generated episode rows, interleaved per run:
#   - WarehouseLoader from memory (loadSlice of in-memory rows: encode → binary COPY FREEZE into a fresh leaf
#     partition → primary key → swap + ledger, one transaction), first load and a replacing second load;
#   - WarehouseLoader from a processed Parquet file (loadProcessedFiles: the `webtoon load` path, reading and encoding
#     on a dedicated thread while COPY sends);
#   - `psql \copy … CSV` of the same rows straight into a plain copy of the table (same columns and primary key, no
#     partitioning, no transaction around it, CSV written beforehand).
# Prints one JSON line per engine and run.
#
#   DATABASE_URL=… cluster/bench/reducer/load.sh [ROWS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
: "${DATABASE_URL:?DATABASE_URL must name the PostgreSQL server}"
rows="${1:-500000}"; runs="${2:-3}"
base="${BENCH_DIR:-/tmp/webtoon-load-bench}"
csv="$base.csv"; parquet="$base-parquet"
swift build -c release --product reducer-memcheck >/dev/null
bin="$(swift build -c release --show-bin-path)/reducer-memcheck"
columns="platform, title_id, episode_id, snapshot_date, no, title, likes, comments, rating, image_url, published_date, missing_reason, fetched_at"
drop() { PGOPTIONS="-c client_min_messages=warning" psql -q "$DATABASE_URL" -c "DROP SCHEMA \"$1\" CASCADE"; }
for run in $(seq "$runs"); do
    ours="$("$bin" load --database "$DATABASE_URL" --rows "$rows" --csv "$csv" --keep 2>/dev/null)"
    schema="$(echo "$ours" | sed 's/.*"schema":"\([^"]*\)".*/\1/')"
    echo "{\"engine\":\"WarehouseLoader\",\"run\":$run,$(echo "$ours" | cut -c2-)"
    psql -q "$DATABASE_URL" -c "CREATE TABLE \"$schema\".episodes_psql (LIKE \"$schema\".episodes INCLUDING ALL)"
    start=$(date +%s.%N)
    psql -q "$DATABASE_URL" -c "\\copy \"$schema\".episodes_psql ($columns) FROM '$csv' CSV"
    end=$(date +%s.%N)
    echo "{\"engine\":\"psql \\\\copy csv\",\"run\":$run,\"rows\":$rows,\"seconds\":$(echo "$end - $start" | bc),\"rowsPerSecond\":$(echo "$rows / ($end - $start)" | bc)}"
    drop "$schema"
    rm -rf "$parquet"; mkdir -p "$parquet"
    ours="$("$bin" load --database "$DATABASE_URL" --rows "$rows" --parquet "$parquet" 2>/dev/null)"
    echo "{\"engine\":\"WarehouseLoader\",\"run\":$run,$(echo "$ours" | cut -c2-)"
done
rm -rf "$csv" "$parquet"
