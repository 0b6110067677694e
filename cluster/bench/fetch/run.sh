#!/usr/bin/env bash
# Requests/s for 10,000 small GETs against one local NIO server: CurlKit vs Python requests vs curl --parallel.
# usage: WEBTOON_PYTHON=<venv>/bin/python cluster/bench/fetch/run.sh [runs]   (prints one line per run, then medians)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runs=${1:-5}
n=10000
python=${WEBTOON_PYTHON:?set WEBTOON_PYTHON to a python that has requests}
bin="$here/.build/release/fetch-bench"
[ -x "$bin" ] || swift build -c release --package-path "$here"

tmp=$(mktemp -d)
"$bin" serve > "$tmp/server.out" &
server=$!
trap 'kill "$server"; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q '^PORT ' "$tmp/server.out" && break; sleep 0.1; done
port=$(awk '/^PORT /{print $2}' "$tmp/server.out")
[ -n "$port" ] || { echo "the benchmark server did not report its port" >&2; exit 1; }
base="http://127.0.0.1:$port/small"

expected_bytes=0
for ((i = 0; i < n; i++)); do
    printf 'url = "%s?%d"\n' "$base" "$i"
    expected_bytes=$((expected_bytes + 6 + ${#i}))
done > "$tmp/urls.cfg"

results="$tmp/results"
for ((run = 1; run <= runs; run++)); do
    for c in 64 32; do
        "$bin" client "$base" "$n" "$c" | sed "s/^curlkit /curlkit-$c /" | tee -a "$results"
    done
    "$python" "$here/bench_requests.py" "$base" "$n" 32 | tee -a "$results"
    start=$(date +%s.%N)
    curl -sS --no-progress-meter --parallel --parallel-max 64 -K "$tmp/urls.cfg" > "$tmp/curl.out"
    end=$(date +%s.%N)
    got=$(stat -c %s "$tmp/curl.out")
    [ "$got" -eq "$expected_bytes" ] || { echo "curl CLI wrote $got bytes, expected $expected_bytes" >&2; exit 1; }
    echo "curl-cli requests=$n parallel=64 seconds=$(echo "$end - $start" | bc) rps=$(echo "$n / ($end - $start)" | bc -l)" | tee -a "$results"
done

"$python" - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, *fields = line.split()
    rows.setdefault(name, []).append(float(dict(f.split("=") for f in fields)["rps"]))
python = statistics.median(rows["python-requests"])
print(f"\n{'client':<16} {'runs':>4} {'median rps':>11} {'min':>8} {'max':>8} {'vs python':>9}")
for name, values in rows.items():
    m = statistics.median(values)
    print(f"{name:<16} {len(values):>4} {m:>11.0f} {min(values):>8.0f} {max(values):>8.0f} {m / python:>8.2f}x")
PY
