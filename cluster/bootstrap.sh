#!/usr/bin/env bash
# Installs what is missing and starts the private PostgreSQL; prints `export NAME=value` lines for the caller to eval.
# Use through cluster/setup.sh. Progress goes to stderr, the exports to stdout. Exit status is non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$root/.local"
log="$root/.local/setup.log"
say() { echo "setup: $*" >&2; }
fail() { say "$*"; exit 1; }

# 1. Debian packages: the five C libraries, pkg-config, curl, the PostgreSQL server and client, venv support,
#    iproute2 for the network-namespace topology test.
apt_packages=(libnng-dev libcurl4-openssl-dev libpq-dev libsnappy-dev libzstd-dev pkg-config curl
    postgresql postgresql-client python3-venv openssl docker-compose iproute2)
if [ "${WEBTOON_SKIP_APT:-0}" != 1 ]; then
    missing=()
    for p in "${apt_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        $sudo apt-get update -qq >>"$log" 2>&1 || fail "apt-get update failed; see $log"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
            || fail "apt-get install ${missing[*]} failed; see $log"
    fi
fi

# 2. Python checkers used by the tests and benchmarks, pinned.
requirements="pyarrow==26.0.1 duckdb==2.0.1 pynng==0.9.0 requests==2.34.2"
if [ "${WEBTOON_SKIP_VENV:-0}" != 1 ]; then
    if [ ! -x "$root/.venv/bin/python" ] || [ "$(cat "$root/.venv/.requirements" 2>/dev/null)" != "$requirements" ]; then
        say "creating .venv ($requirements)"
        python3 -m venv "$root/.venv" >>"$log" 2>&1 || fail "python3 -m venv failed; see $log"
        # shellcheck disable=SC2086
        "$root/.venv/bin/pip" install -q --disable-pip-version-check $requirements >>"$log" 2>&1 \
            || fail "pip install failed; see $log"
        echo "$requirements" >"$root/.venv/.requirements"
    fi
    echo "export WEBTOON_PYTHON='$root/.venv/bin/python'"
fi

# 3. PostgreSQL: the caller's (DATABASE_URL), or our private one.
if [ -n "${DATABASE_URL:-}" ]; then
    say "using DATABASE_URL from the environment"
    exit 0
fi
port="${WEBTOON_PG_PORT:-55432}"
pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -n "$pgbin" ] || fail "no PostgreSQL server binaries under /usr/lib/postgresql"
data="$root/.local/pg"
as_pg=()
if [ "$(id -u)" = 0 ]; then
    # initdb and pg_ctl refuse root: run them as the postgres user the Debian package creates.
    as_pg=(runuser -u postgres --)
    # That user must reach the data folder; a checkout under a private home cannot be reached, so use /var/tmp.
    runuser -u postgres -- test -x "$root/.local" || data="/var/tmp/webtoon-pg-$(echo "$root" | md5sum | cut -c1-12)"
fi
if [ ! -s "$data/PG_VERSION" ]; then
    say "initdb $data"
    rm -rf "$data"
    mkdir -p "$data"
    [ "$(id -u)" != 0 ] || chown postgres:postgres "$data"
    chmod 700 "$data"
    "${as_pg[@]}" "$pgbin/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >>"$log" 2>&1 \
        || fail "initdb failed; see $log"
fi

alive() { # a live, non-zombie process
    [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
if ! "$pgbin/pg_isready" -q -h "$data" -p "$port"; then
    if [ -f "$data/postmaster.pid" ]; then
        pid="$(head -n 1 "$data/postmaster.pid")"
        if alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
            # Still starting up or shutting down: give it time before deciding.
            for _ in $(seq 1 30); do "$pgbin/pg_isready" -q -h "$data" -p "$port" && break; sleep 1; done
        fi
    fi
fi
if ! "$pgbin/pg_isready" -q -h "$data" -p "$port"; then
    # Not serving. After a crash, backends of a dead postmaster may still hold its shared memory, and the pid file may
    # name a pid now used by another process (or a zombie: PID 1 here may not reap): end leftovers whose working directory is our data folder, drop the file.
    for proc in /proc/[0-9]*; do
        [ "$(readlink "$proc/cwd" 2>/dev/null)" = "$data" ] && [ "$(cat "$proc/comm" 2>/dev/null)" = postgres ] \
            && kill -9 "${proc#/proc/}" 2>/dev/null || true
    done
    if "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
        fail "port $port on 127.0.0.1 is served by another PostgreSQL, not ours ($data); set WEBTOON_PG_PORT or DATABASE_URL"
    fi
    # Socket lock files live in our private socket folder; a zombie postmaster's pid still passes PostgreSQL's check.
    rm -f "$data/postmaster.pid" "$data"/.s.PGSQL.*.lock
    say "starting PostgreSQL on 127.0.0.1:$port (data $data)"
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
        -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=200" start >>"$log" 2>&1 \
        || { tail -n 20 "$data/server.log" >&2; fail "PostgreSQL did not start; see $data/server.log"; }
fi
"$pgbin/psql" -h "$data" -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'webtoon'" | grep -q 1 \
    || "$pgbin/createdb" -h "$data" -p "$port" -U postgres webtoon \
    || fail "could not create database webtoon"
say "private PostgreSQL at postgresql://postgres@127.0.0.1:$port/webtoon"
echo "export DATABASE_URL='postgresql://postgres@127.0.0.1:$port/webtoon'"
echo "export WEBTOON_PGDATA='$data'"
