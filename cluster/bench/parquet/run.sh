#!/bin/sh
# Interleaves ParquetKit and pyarrow runs so both see the same (noisy, shared) machine conditions.
# Usage: cluster/bench/parquet/run.sh ROWS DIR PAIRS RUNS   (each line of output is one JSON result)
set -eu
cd "$(dirname "$0")"
rows=${1:-10000000}; dir=${2:-/tmp/parquet-bench}; pairs=${3:-2}; runs=${4:-3}
python=${WEBTOON_PYTHON:-python3}
swift build -c release >&2
i=0
while [ "$i" -lt "$pairs" ]; do
    printf '{"side": "swift", "result": %s}\n' "$(.build/release/ParquetBench "$rows" "$dir" "$runs")"
    printf '{"side": "pyarrow", "result": %s}\n' "$("$python" bench_pyarrow.py "$dir" "$runs")"
    i=$((i + 1))
done
