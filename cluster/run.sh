#!/usr/bin/env bash
# The main job, end to end: installs what is missing, builds the release binary, starts the platform simulator on
# loopback and crawls both platforms into data/ (raw responses as zstd JSON Lines segments).
#
#   cluster/run.sh                       # daily crawl of the simulated platforms
#   cluster/run.sh --mode full           # every title and episode
#   cluster/run.sh --live                # the real hosts (needs internet; politeness from config/*.json)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=setup.sh
source cluster/setup.sh
swift build -c release --product webtoon 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\] ' || true; }
bin="$(swift build -c release --show-bin-path)/webtoon"

live=0
args=()
for a in "$@"; do
    if [ "$a" = --live ]; then live=1; else args+=("$a"); fi
done
out="${WEBTOON_DATA:-data}"
mkdir -p "$out"
if [ "$live" = 1 ]; then
    exec "$bin" crawl --out "$out" "${args[@]}"
fi
port="${WEBTOON_SIM_PORT:-18089}"
# One crawl date (KST) for the simulator and the crawl; the live platforms' politeness limits do not apply to it.
date="$(TZ=Asia/Seoul date +%F)"
"$bin" simulate --port "$port" --scale "${WEBTOON_SIM_SCALE:-small}" --date "$date" >"$out/simulator.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; wait $sim 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/__sim/health" >/dev/null 2>&1 && break; sleep 0.1; done
"$bin" crawl --base-url "http://127.0.0.1:$port" --date "$date" --requests-per-second 2000 --max-in-flight 32 \
    --out "$out" "${args[@]}"
