#!/usr/bin/env bash
# Reduce benchmark: the Swift reducer (release build of reducer-memcheck) against DuckDB doing the same merge/dedup
# over the same generated files. Prints one JSON line per run; docs/bench/reducer.md has the results.
#
#   cluster/bench/reducer/run.sh [UNIQUE] [COPIES] [FILES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
python="${WEBTOON_PYTHON:-.venv/bin/python}"
unique="${1:-1000000}"; copies="${2:-3}"; files="${3:-6}"; runs="${4:-3}"
work="${BENCH_DIR:-/tmp/webtoon-reduce-bench}"
mkdir -p "$work/in" "$work/spill"
swift build -c release --product reducer-memcheck >/dev/null
bin="$(swift build -c release --show-bin-path)/reducer-memcheck"
# Inputs are reused when generated with the same parameters.
if [ "$(cat "$work/in/.params" 2>/dev/null)" != "$unique $copies $files" ]; then
    rm -rf "$work/in"; mkdir -p "$work/in"
    "$python" cluster/bench/reducer/generate_episodes.py "$work/in" --unique "$unique" --copies "$copies" --files "$files"
    echo "$unique $copies $files" > "$work/in/.params"
fi
du -sb "$work/in" | awk '{print "{\"inputParquetBytes\":" $1 "}"}'
for run in $(seq "$runs"); do
    rm -rf "$work/ours"
    echo -n '{"engine":"swift","budget":"256MiB",'; /usr/bin/time -f '"cpuSeconds":%U+%S,"timeMaxRSSKiB":%M}' "$bin" reduce --budget $((256 << 20)) --out "$work/ours" --spill "$work/spill" --run "r$run" "$work"/in/*.parquet 2>"$work/err" | cut -c2- | sed 's/}$/,/' | tr -d '\n'; tail -n 1 "$work/err"
    for threads in 1 2; do
        rm -rf "$work/duck"
        echo -n "{\"engine\":\"duckdb\",\"threads\":$threads,\"memory_limit\":\"256MB\","
        "$python" cluster/bench/reducer/duckdb_reduce.py "$work/duck" 256MB "$threads" "$work"/in/*.parquet | cut -c2-
    done
done
