#!/usr/bin/env bash
# Throughput of `webtoon simulate` at zero latency, measured with wrk on loopback (wrk shares the 2 cores).
# Usage: cluster/bench/simulator/run.sh [scale] [runs]   (from the package root; needs wrk and python3)
set -euo pipefail
scale=${1:-medium}
runs=${2:-3}
port=${SIM_BENCH_PORT:-18189}
here=$(cd "$(dirname "$0")" && pwd)
swift build -c release --product webtoon >/dev/null
bin=$(swift build -c release --show-bin-path)/webtoon
work=$(mktemp -d)
"$bin" simulate --port "$port" --scale "$scale" --seed 42 --date 2026-11-25 >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/__sim/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/__sim/ground-truth?mode=full" | python3 "$here/uris.py" >"$work/uris.txt"
echo "scale=$scale uris=$(wc -l <"$work/uris.txt")"
bench() {  # name, extra wrk args...
    local name=$1; shift
    for run in $(seq "$runs"); do
        printf '%s run %s: ' "$name" "$run"
        wrk "$@" | awk '/Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$NF} /Latency/ {lat=$2} END {printf "%s req/s, mean latency %s, non-2xx %s\n", rps, lat, (bad==""?0:bad)}'
    done
}
export SIM_URIS="$work/uris.txt"
bench "crawl-mix c=64" -t2 -c64 -d10s -s "$here/mix.lua" "http://127.0.0.1:$port"
bench "crawl-mix c=8" -t1 -c8 -d10s -s "$here/mix.lua" "http://127.0.0.1:$port"
bench "naver-weekday-list c=64" -t2 -c64 -d10s -H 'Accept-Language: ko' \
    "http://127.0.0.1:$port/api/webtoon/titlelist/weekday?order=view"
echo "server stats: $(curl -s "http://127.0.0.1:$port/__sim/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["platformRequests"], "platform requests")')"
echo "server RSS: $(ps -o rss= -p $server) KiB"
