#!/usr/bin/env bash
# Idempotent machine setup for building, testing and running the project.
#
#   source cluster/setup.sh     # installs what is missing, starts the private PostgreSQL, exports DATABASE_URL
#
# - apt packages: the five C libraries, pkg-config, curl, the PostgreSQL server and client;
# - a Python venv in .venv with the independent checkers (pyarrow, duckdb, pynng, requests);
# - unless DATABASE_URL is already set: a private PostgreSQL cluster in .local/pg (unix socket + 127.0.0.1 only),
#   run as the `postgres` system user because initdb/pg_ctl refuse root. Safe to run twice, or after a crash.
#
# Environment knobs: DATABASE_URL (use this server instead), WEBTOON_PG_PORT (default 55432),
# WEBTOON_SKIP_APT=1, WEBTOON_SKIP_VENV=1.

_webtoon_setup() {
    set -euo pipefail
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local log="$root/.local/setup.log"
    mkdir -p "$root/.local"

    # 1. Debian packages.
    local apt_packages=(libnng-dev libcurl4-openssl-dev libpq-dev libsnappy-dev libzstd-dev pkg-config curl
        postgresql postgresql-client python3-venv)
    if [ "${WEBTOON_SKIP_APT:-0}" != 1 ]; then
        local missing=()
        for p in "${apt_packages[@]}"; do
            dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
        if [ ${#missing[@]} -gt 0 ]; then
            echo "setup: installing ${missing[*]}" >&2
            local sudo=""
            [ "$(id -u)" = 0 ] || sudo="sudo"
            $sudo apt-get update -qq >>"$log" 2>&1
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
                || { echo "setup: apt-get install failed; see $log" >&2; return 1; }
        fi
    fi

    # 2. Python checkers used by the tests and benchmarks.
    local requirements="pyarrow==26.0.1 duckdb==2.0.1 pynng==0.9.0 requests==2.34.2"
    if [ "${WEBTOON_SKIP_VENV:-0}" != 1 ]; then
        if [ ! -x "$root/.venv/bin/python" ] || [ "$(cat "$root/.venv/.requirements" 2>/dev/null)" != "$requirements" ]; then
            echo "setup: creating .venv ($requirements)" >&2
            python3 -m venv "$root/.venv" >>"$log" 2>&1
            # shellcheck disable=SC2086
            "$root/.venv/bin/pip" install -q --disable-pip-version-check $requirements >>"$log" 2>&1 \
                || { echo "setup: pip install failed; see $log" >&2; return 1; }
            echo "$requirements" >"$root/.venv/.requirements"
        fi
        export WEBTOON_PYTHON="$root/.venv/bin/python"
    fi

    # 3. PostgreSQL: the caller's, or our private one.
    if [ -n "${DATABASE_URL:-}" ]; then
        echo "setup: using DATABASE_URL from the environment" >&2
    else
        local port="${WEBTOON_PG_PORT:-55432}"
        local pgbin
        pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
        [ -n "$pgbin" ] || { echo "setup: no PostgreSQL server binaries under /usr/lib/postgresql" >&2; return 1; }
        local data="$root/.local/pg"
        local as_pg=()
        if [ "$(id -u)" = 0 ]; then
            as_pg=(runuser -u postgres --)
            # The postgres user must be able to reach the data folder; a checkout under a private home cannot.
            if ! runuser -u postgres -- test -x "$root/.local"; then
                data="/var/tmp/webtoon-pg-$(echo "$root" | md5sum | cut -c1-12)"
            fi
        fi
        if [ ! -s "$data/PG_VERSION" ]; then
            echo "setup: initdb $data" >&2
            rm -rf "$data"
            mkdir -p "$data"
            [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
            chmod 700 "$data"
            "${as_pg[@]}" "$pgbin/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >>"$log" 2>&1 \
                || { echo "setup: initdb failed; see $log" >&2; return 1; }
        fi
        if ! "${as_pg[@]}" "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
            # A crash can leave a pid file naming a pid that now belongs to another process: remove it.
            rm -f "$data/postmaster.pid"
            "${as_pg[@]}" "$pgbin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
                -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" start >>"$log" 2>&1 \
                || { echo "setup: PostgreSQL did not start; see $data/server.log" >&2; tail -n 20 "$data/server.log" >&2; return 1; }
        fi
        "${as_pg[@]}" "$pgbin/psql" -h "$data" -p "$port" -U postgres -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = 'webtoon'" | grep -q 1 \
            || "${as_pg[@]}" "$pgbin/createdb" -h "$data" -p "$port" -U postgres webtoon
        export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/webtoon"
        export WEBTOON_PGDATA="$data"
        echo "setup: private PostgreSQL at $DATABASE_URL (data $data)" >&2
    fi
    set +euo pipefail
}

_webtoon_setup || { echo "setup: failed" >&2; return 1 2>/dev/null || exit 1; }
