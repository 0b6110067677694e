#!/usr/bin/env bash
# Idempotent machine setup for building, testing and running the project.
#
#   source cluster/setup.sh     # installs what is missing, starts the private PostgreSQL, exports DATABASE_URL
#
# - apt packages: the five C libraries (nng, libcurl, libpq, snappy, zstd), pkg-config, curl, openssl, PostgreSQL;
# - a Python venv in .venv with the independent checkers (pyarrow, duckdb, pynng, requests);
# - unless DATABASE_URL is already set: a private PostgreSQL cluster in .local/pg (unix socket + 127.0.0.1 only),
#   run as the `postgres` system user because initdb/pg_ctl refuse root. Safe to run twice, or after a crash.
#
# Knobs: DATABASE_URL (use that server instead), WEBTOON_PG_PORT (default 55432), WEBTOON_SKIP_APT=1, WEBTOON_SKIP_VENV=1.
# Exports: DATABASE_URL, WEBTOON_PGDATA (private server only), WEBTOON_PYTHON (the checkers' interpreter).
_webtoon_exports="$(bash "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh")" || {
    echo "setup: failed (see the message above)" >&2
    return 1 2>/dev/null || exit 1
}
eval "$_webtoon_exports"
unset _webtoon_exports
