#!/usr/bin/env bash
# Reduce benchmark: the Swift reducer (release build of reducer-memcheck) against DuckDB doing the same merge/dedup
# over the same generated files, both within the same memory budget. Prints one JSON line per run (wall seconds,
# CPU seconds, peak RSS from /usr/bin/time, and the spill folder's peak size sampled every 0.5 s);
# docs/bench/reducer.md has the results.
#
#   cluster/bench/reducer/run.sh [UNIQUE] [COPIES] [FILES] [RUNS] [DAYS]
#
# Environment: BUDGET (Swift sort budget, bytes; default 1 GiB), DUCK_MEMORY (DuckDB memory_limit; default 1GiB),
# DUCK_THREADS (space-separated; default "1 2"), BENCH_DIR (default /tmp/webtoon-reduce-bench; inputs are kept
# and reused when generated with the same parameters), WEBTOON_PYTHON (a venv with pyarrow and duckdb).
set -euo pipefail
cd "$(dirname "$0")/../../.."
python="${WEBTOON_PYTHON:-.venv/bin/python}"
unique="${1:-1000000}"; copies="${2:-3}"; files="${3:-6}"; runs="${4:-3}"; days="${5:-1}"
budget="${BUDGET:-$((1 << 30))}"
duck_memory="${DUCK_MEMORY:-1GiB}"
duck_threads="${DUCK_THREADS:-1 2}"
work="${BENCH_DIR:-/tmp/webtoon-reduce-bench}"
mkdir -p "$work/in" "$work/spill"
swift build -c release --product reducer-memcheck >/dev/null
bin="$(swift build -c release --show-bin-path)/reducer-memcheck"
if [ "$(cat "$work/in/.params" 2>/dev/null)" != "$unique $copies $files $days" ]; then
    rm -rf "$work/in"; mkdir -p "$work/in"
    "$python" cluster/bench/reducer/generate_episodes.py "$work/in" --unique "$unique" --copies "$copies" \
        --files "$files" --days "$days"
    echo "$unique $copies $files $days" > "$work/in/.params"
fi
echo "{\"inputParquetBytes\":$(du -sb "$work/in" | cut -f1),\"inputRows\":$((unique * copies)),\"uptime\":\"$(uptime)\"}"
# Samples the size of folder $1 every 0.5 s until file $2 exists, then prints the largest size seen.
peak_size() {
    local peak=0 size
    while [ ! -e "$2" ]; do
        size=$(du -sb "$1" 2>/dev/null | cut -f1)
        [ "${size:-0}" -gt "$peak" ] && peak=$size
        sleep 0.5
    done
    echo "$peak"
}
# Runs "$@" while sampling folder $spill_dir into $work/.peak.
sampled() {
    rm -f "$work/.stop"
    peak_size "$spill_dir" "$work/.stop" > "$work/.peak" &
    local sampler=$! status=0
    "$@" || status=$?
    touch "$work/.stop"; wait "$sampler"
    return "$status"
}
timed() { /usr/bin/time -f '"wallSeconds":%e,"userSeconds":%U,"sysSeconds":%S,"maxRSSKiB":%M}' "$@"; }
for run in $(seq "$runs"); do
    rm -rf "$work/ours" "$work/spill"/*
    echo -n "{\"engine\":\"swift\",\"budget\":$budget,"
    spill_dir="$work/spill"
    sampled timed "$bin" reduce --budget "$budget" --out "$work/ours" --spill "$work/spill" --run "r$run" \
        "$work"/in/*.parquet 2>"$work/err" | cut -c2- | sed 's/}$/,/' | tr -d '\n' || { cat "$work/err" >&2; exit 1; }
    echo -n "\"peakSpillBytes\":$(cat "$work/.peak"),"; tail -n 1 "$work/err"
    rm -rf "$work/ours"  # frees the disk for DuckDB's spill on large inputs
    for threads in $duck_threads; do
        rm -rf "$work/duck"
        echo -n "{\"engine\":\"duckdb\",\"threads\":$threads,\"memory_limit\":\"$duck_memory\","
        spill_dir="$work/duck-tmp"
        # A failing DuckDB (out of memory, out of disk) is a result, not a script error: it is reported with its
        # error, time and peak spill, and the next configuration runs.
        failed=false
        sampled timed "$python" cluster/bench/reducer/duckdb_reduce.py "$work/duck" "$duck_memory" "$threads" \
            "$work"/in/*.parquet 2>"$work/err" | cut -c2- | sed 's/}$/,/' | tr -d '\n' || failed=true
        if $failed; then
            error=$(grep -E '^[_a-zA-Z.]*(Exception|Error):' "$work/err" | tail -n 1 | tr -d '"\\' | cut -c1-300)
            echo -n "\"failed\":true,\"error\":\"$error\","
        fi
        echo -n "\"peakSpillBytes\":$(cat "$work/.peak"),"; tail -n 1 "$work/err"
        rm -rf "$work/duck-tmp"
    done
done
rm -rf "$work/ours" "$work/duck" "$work/spill"
