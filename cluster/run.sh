#!/usr/bin/env bash
# The main job, end to end on a fresh machine: installs what is missing (apt packages, the Python checkers, a private
# PostgreSQL unless DATABASE_URL is set), builds the release binary, and runs `webtoon run`: the platform simulator,
# a coordinator and worker processes crawl both platforms, then the run is reduced, loaded into PostgreSQL and the
# analysis models are built and tested. Arguments go to `webtoon run` (see `--help`), e.g.
#
#   cluster/run.sh                          # daily crawl of the simulated platforms, 3 workers
#   cluster/run.sh --mode full --workers 4  # every title and episode
#   cluster/run.sh --live                   # the real hosts (needs internet; polite rates)
#
# Output: data/ (raw/, optimized/, processed/, logs/) and the warehouse, site and dashboard schemas in PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=setup.sh
source cluster/setup.sh
swift build -c release --product webtoon 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\] ' || true; }
bin="$(swift build -c release --show-bin-path)/webtoon"
# Running the job again for the same day resumes (or, when finished, re-reduces and re-loads idempotently).
resume=(--resume)
for a in "$@"; do [ "$a" != --resume ] || resume=(); done
exec "$bin" run --data-root "${WEBTOON_DATA:-data}" "${resume[@]}" "$@"
