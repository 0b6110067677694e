#!/usr/bin/env bash
# Runs the crawl benchmark: the simulator (medium catalog, 30 ms latency) in one process, then each crawler under
# /usr/bin/time -v, RUNS times each. Usage: cluster/bench/crawl/run.sh [RUNS]   (from the package root, after
# `swift build -c release --product webtoon`; PYTHON defaults to $WEBTOON_PYTHON).
set -euo pipefail
RUNS=${1:-3}
PORT=${PORT:-18473}
BIN=.build/release/webtoon
PY=${PYTHON:-${WEBTOON_PYTHON:-python3}}
OUT=$(mktemp -d)
$BIN simulate --port "$PORT" --scale medium --latency-ms 30 > "$OUT/sim.log" 2>&1 &
SIM=$!
trap 'kill $SIM' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/__sim/health" > /dev/null && break; sleep 0.2; done
for i in $(seq "$RUNS"); do
  rm -rf "$OUT/swift"
  /usr/bin/time -v $BIN crawl --mode full --date 2026-11-25 --base-url "http://127.0.0.1:$PORT" --out "$OUT/swift" \
    --concurrency 64 --max-in-flight 32 --requests-per-second 100000 > "$OUT/swift-$i.txt" 2> "$OUT/swift-$i.time"
  echo "swift run $i: $(grep -E 'elapsed|^naver|^kakao' "$OUT/swift-$i.txt" | tr '\n' ' ')"
  grep -E "Maximum resident|User time|System time|Elapsed" "$OUT/swift-$i.time"
  /usr/bin/time -v "$PY" cluster/bench/crawl/crawl.py --base-url "http://127.0.0.1:$PORT" --workers 64 \
    > "$OUT/python-$i.txt" 2> "$OUT/python-$i.time"
  echo "python run $i: $(cat "$OUT/python-$i.txt")"
  grep -E "Maximum resident|User time|System time|Elapsed" "$OUT/python-$i.time"
done
echo "outputs in $OUT"
