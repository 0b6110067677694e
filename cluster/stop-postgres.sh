#!/usr/bin/env bash
# Stops the private PostgreSQL that cluster/setup.sh started (no-op when none runs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
for data in "$root/.local/pg" "/var/tmp/webtoon-pg-$(echo "$root" | md5sum | cut -c1-12)"; do
    [ -s "$data/PG_VERSION" ] || continue
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$data" -m fast stop 2>/dev/null || true
done
