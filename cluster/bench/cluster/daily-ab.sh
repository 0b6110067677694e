#!/usr/bin/env bash
# Two `webtoon` binaries side by side: one daily crawl each (`daily.sh`, settings "after"), alternating, ROUNDS
# rounds (A B, B A, A B, …), so load from other processes spreads over both. Prints daily.sh's line per run, prefixed by the label.
# CONFIG picks daily.sh's settings (default "after"; ad hoc flags with '_' for spaces work too).
#
#   DATABASE_URL=… [TMPDIR=/dev/shm/…] [LOAD=0] cluster/bench/cluster/daily-ab.sh LABEL_A BIN_A LABEL_B BIN_B [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
label_a=$1 bin_a=$2 label_b=$3 bin_b=$4 rounds=${5:-3}
config=${CONFIG:-after}
echo "# $(date -u +%FT%TZ) $(uptime) TMPDIR=${TMPDIR:-/tmp} LOAD=${LOAD:-1} CONFIG=$config"
for i in $(seq 1 "$rounds"); do
  # ABBA order: odd rounds run A first, even rounds B first, so a drift in load does not favour one side.
  if (( i % 2 == 1 )); then order="a b"; else order="b a"; fi
  for side in $order; do
    if [[ $side == a ]]; then label=$label_a bin=$bin_a; else label=$label_b bin=$bin_b; fi
    "$here/daily.sh" "$bin" 1 "$config" | grep -v '^#' | awk -v label="$label round=$i" '{ $1 = label; $2 = ""; print }'

  done
done
