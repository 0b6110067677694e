#!/usr/bin/env bash
# The docker-compose topology across "hosts" made of Linux network namespaces, for testing the cluster over real
# TCP between separate network stacks without Docker. Needs root (ip netns, veth, bridge).
#
#   wt-hub    a namespace holding only the bridge wtbr0 (the "switch")
#   wt-coord  10.77.0.10  simulator (:8089) + coordinator (nng :7070, monitor HTTP :9090)
#   wt-work1  10.77.0.11  worker
#   wt-work2  10.77.0.12  worker
#   host      10.77.0.1   one veth into the hub; a TCP relay on 10.77.0.1:55432 -> 127.0.0.1:55432 lets the
#                         coordinator reach the host's PostgreSQL (which listens on loopback only)
#
# Every address is on the private test subnet 10.77.0.0/24 and exists only on interfaces this script creates; no
# route, NAT or forwarding is added to the host, so the namespaces reach nothing else.
#
#   cluster/netns-topology.sh up                 create namespaces, links and the PostgreSQL relay
#   cluster/netns-topology.sh --ping             up + nng REQ/REP (pynng) from both worker namespaces to wt-coord,
#                                                and PostgreSQL through the relay from wt-coord
#   cluster/netns-topology.sh --check            up + a small crawl (simulator, coordinator, 2 workers); verifies
#                                                the run finishes with every unit done and Parquet on the shared root,
#                                                then a reducer (`reduce --watch`, in wt-work2) loads and models it
#   cluster/netns-topology.sh --down             stop what it started (by pid) and delete namespaces and links
#
# Environment: WEBTOON (the executable, default .build/debug/webtoon), WEBTOON_PYTHON (pynng; default
# .venv/bin/python), DATABASE_URL of the host server (default postgresql://postgres@127.0.0.1:55432/webtoon),
# CHECK_TIMEOUT seconds (default 300), STATE_DIR (default /tmp/webtoon-netns: logs, pids, data root, secret).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
SUBNET_PREFIX=10.77.0
HUB=wt-hub
BRIDGE=wtbr0
HOST_IF=wt-host
HOST_IP=$SUBNET_PREFIX.1
COORD_IP=$SUBNET_PREFIX.10
declare -A NODES=([wt-coord]=$SUBNET_PREFIX.10 [wt-work1]=$SUBNET_PREFIX.11 [wt-work2]=$SUBNET_PREFIX.12)
STATE_DIR=${STATE_DIR:-/tmp/webtoon-netns}
WEBTOON=${WEBTOON:-$root/.build/debug/webtoon}
PYTHON=${WEBTOON_PYTHON:-$root/.venv/bin/python}
DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:55432/webtoon}
CHECK_TIMEOUT=${CHECK_TIMEOUT:-300}
CRAWL_DATE=2026-11-25
SCHEMA=cluster_netns_check

log() { printf '[netns] %s\n' "$*" >&2; }
die() { printf '[netns] error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (ip netns, veth, bridge)"

# PostgreSQL host and port from DATABASE_URL (postgresql://user[:pw]@host:port/db).
pg_hostport="${DATABASE_URL#*://}"; pg_hostport="${pg_hostport#*@}"; pg_hostport="${pg_hostport%%/*}"
PG_HOST="${pg_hostport%:*}"; PG_PORT="${pg_hostport##*:}"
[[ $PG_PORT =~ ^[0-9]+$ ]] || PG_PORT=5432
# The same URL as seen from inside the namespaces: host part replaced by the relay address.
NS_DATABASE_URL="${DATABASE_URL/@$pg_hostport/@$HOST_IP:$PG_PORT}"

# Starts a background process (optionally inside a namespace), recording its pid for --down.
start() { # name namespace|- command...
  local name=$1 ns=$2; shift 2
  if [[ $ns == - ]]; then
    setsid "$@" >"$STATE_DIR/$name.log" 2>&1 < /dev/null &
  else
    setsid ip netns exec "$ns" "$@" >"$STATE_DIR/$name.log" 2>&1 < /dev/null &
  fi
  echo $! > "$STATE_DIR/$name.pid"
  log "started $name (pid $!) ${ns/#-/on the host}"
}

stop_all() {
  shopt -s nullglob
  for pidfile in "$STATE_DIR"/*.pid; do
    local pid; pid=$(cat "$pidfile")
    # setsid made each one a process-group leader: signal its group (it and its children), nothing else.
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      log "stopped $(basename "$pidfile" .pid) (pid $pid)"
    fi
    rm -f "$pidfile"
  done
}

up() {
  mkdir -p "$STATE_DIR/data"
  if ip netns list | grep -qw "$HUB"; then
    log "namespaces already up"
  else
    make_links
  fi
  start_relay
  log "up: hub $HUB, nodes ${!NODES[*]}, host $HOST_IP (PostgreSQL relay :$PG_PORT)"
}

make_links() {
  ip netns add "$HUB"
  ip -n "$HUB" link set lo up
  ip -n "$HUB" link add "$BRIDGE" type bridge
  ip -n "$HUB" link set "$BRIDGE" up
  for ns in "${!NODES[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # One veth pair per node: "eth0" inside the node, its peer enslaved to the hub's bridge.
    ip link add "v-$ns" netns "$HUB" type veth peer name eth0 netns "$ns"
    ip -n "$HUB" link set "v-$ns" master "$BRIDGE" up
    ip -n "$ns" addr add "${NODES[$ns]}/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  # The host's leg into the hub, for the PostgreSQL relay only.
  ip link add "$HOST_IF" type veth peer name "v-host" netns "$HUB"
  ip -n "$HUB" link set v-host master "$BRIDGE" up
  ip addr add "$HOST_IP/24" dev "$HOST_IF"
  ip link set "$HOST_IF" up
}

start_relay() {
  if [[ -f $STATE_DIR/pg-relay.pid ]] && kill -0 "$(cat "$STATE_DIR/pg-relay.pid")" 2>/dev/null; then return; fi
  start pg-relay - python3 -c '
import asyncio, sys
listen_host, listen_port, target_host, target_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer), return_exceptions=True)
async def main():
    server = await asyncio.start_server(handle, listen_host, listen_port)
    async with server:
        await server.serve_forever()
asyncio.run(main())
' "$HOST_IP" "$PG_PORT" "$PG_HOST" "$PG_PORT"
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/$HOST_IP/$PG_PORT") 2>/dev/null && break; sleep 0.1; done
}

down() {
  stop_all
  for ns in "${!NODES[@]}" "$HUB"; do
    ip netns list | grep -qw "$ns" && ip netns del "$ns" && log "deleted namespace $ns"
  done
  # Deleting the hub removed the peer of the host's veth, and with it the host end; this only covers a partial up.
  ip link show "$HOST_IF" >/dev/null 2>&1 && ip link del "$HOST_IF"
  log "down"
}

ping_check() {
  [[ -x $PYTHON ]] || die "no Python with pynng at $PYTHON (set WEBTOON_PYTHON)"
  log "ping: nng REQ/REP over tcp://$COORD_IP:7071, PostgreSQL via $HOST_IP:$PG_PORT"
  start nng-echo wt-coord "$PYTHON" -c '
import pynng, sys
with pynng.Rep0(listen=sys.argv[1]) as sock:
    for _ in range(2):
        msg = sock.recv()
        sock.send(b"pong " + msg)
' "tcp://$COORD_IP:7071"
  sleep 0.5
  for ns in wt-work1 wt-work2; do
    reply=$(ip netns exec "$ns" "$PYTHON" -c '
import pynng, sys
with pynng.Req0(dial=sys.argv[1], recv_timeout=5000, send_timeout=5000) as sock:
    sock.send(sys.argv[2].encode())
    print(sock.recv().decode())
' "tcp://$COORD_IP:7071" "$ns")
    [[ $reply == "pong $ns" ]] || die "nng from $ns answered '$reply'"
    log "nng $ns -> wt-coord: $reply"
  done
  # Isolation: a node's only route is the test subnet (no default route, so nothing leaves it).
  routes=$(ip -n wt-work1 -4 route show)
  [[ $routes == "$SUBNET_PREFIX.0/24 dev eth0 "* && $(wc -l <<<"$routes") == 1 ]] || die "wt-work1 has unexpected routes: $routes"
  ip netns exec wt-coord pg_isready -h "$HOST_IP" -p "$PG_PORT" -t 5 >/dev/null || die "wt-coord cannot reach PostgreSQL through the relay"
  log "PostgreSQL reachable from wt-coord via $HOST_IP:$PG_PORT"
  stop_all
  log "ping ok"
}

crawl_check() {
  [[ -x $WEBTOON ]] || die "no webtoon executable at $WEBTOON (swift build, or set WEBTOON)"
  [[ -x $PYTHON ]] || die "no Python at $PYTHON (set WEBTOON_PYTHON)"
  local secret_file=$STATE_DIR/cluster_secret
  head -c 32 /dev/urandom | base64 > "$secret_file"
  chmod 0600 "$secret_file"
  rm -rf "$STATE_DIR/data" && mkdir -p "$STATE_DIR/data"
  psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null

  start simulator wt-coord "$WEBTOON" simulate --host "$COORD_IP" --port 8089 --scale small --date "$CRAWL_DATE"
  start coordinator wt-coord "$WEBTOON" coordinator --listen "tcp://$COORD_IP:7070" --http-port 9090 \
    --database-url "$NS_DATABASE_URL" --schema "$SCHEMA" --secret-file "$secret_file" \
    --platforms naver,kakao --mode full --batch-size 5 --date "$CRAWL_DATE" --initial-rate 2000 --max-rate 2000
  for ns in wt-work1 wt-work2; do
    start "worker-$ns" "$ns" "$WEBTOON" worker --coordinator "tcp://$COORD_IP:7070" --data-root "file://$STATE_DIR/data" \
      --concurrency 2 --prefetch 0 --base-url "http://$COORD_IP:8089" --secret-file "$secret_file"
  done

  log "waiting up to ${CHECK_TIMEOUT}s for the run to finish (webtoon status from wt-work1)"
  local deadline=$((SECONDS + CHECK_TIMEOUT)) verdict=""
  while ((SECONDS < deadline)); do
    for name in simulator coordinator worker-wt-work1 worker-wt-work2; do
      kill -0 "$(cat "$STATE_DIR/$name.pid")" 2>/dev/null || die "$name exited early; see $STATE_DIR/$name.log: $(tail -n 5 "$STATE_DIR/$name.log")"
    done
    if status=$(ip netns exec wt-work1 "$WEBTOON" status --coordinator "tcp://$COORD_IP:7070" --secret-file "$secret_file" --json --timeout 3 2>/dev/null); then
      verdict=$(printf '%s' "$status" | python3 -c '
import json, sys
status = json.load(sys.stdin)
runs = status["runs"]
if not runs or any(run["state"] != "finished" for run in runs):
    sys.exit(0)
for run in runs:
    c = run["counts"]
    workers = sorted({w["id"] for w in status["workers"] if w["completed"] > 0})
    requests = run["totals"]["stats"]["requests"]
    print("%s: done=%d dead=%d units=%d requests=%d workers=%s" % (run["id"], c["done"], c["dead"], sum(c.values()), requests, workers))
    if c["dead"] or c["pending"] or c["leased"]:
        print("FAIL: units not all done"); sys.exit(1)
    if len(workers) < 2:
        print("FAIL: expected both workers (two namespaces) to complete units"); sys.exit(1)
') || die "run finished badly: $verdict"
      [[ -n $verdict ]] && break
    fi
    sleep 2
  done
  [[ -n $verdict ]] || die "the run did not finish within ${CHECK_TIMEOUT}s; logs in $STATE_DIR"
  log "$verdict"
  ip netns exec wt-work2 bash -c "exec 3<>/dev/tcp/$COORD_IP/9090 && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3" \
    | grep -q '^webtoon_cluster_run_finished{run=' || die "the monitor's /metrics is not reachable from wt-work2"
  local files; files=$(find "$STATE_DIR/data" -name '*.parquet' | wc -l)
  ((files > 0)) || die "no Parquet files under $STATE_DIR/data"
  log "crawl ok: $files Parquet files on the shared data root; monitor reachable across namespaces"

  # The compose reducer: follows the ledger from its own namespace, through the relay, on the shared data root.
  PGOPTIONS="-c client_min_messages=warning" psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS warehouse_$SCHEMA, site_$SCHEMA, dashboard_$SCHEMA CASCADE" >/dev/null
  start reducer wt-work2 "$WEBTOON" reduce --watch --poll-seconds 1 --data-root "file://$STATE_DIR/data" \
    --database-url "$NS_DATABASE_URL" --schema "$SCHEMA" --warehouse-suffix "$SCHEMA"
  local completed="" loaded=""
  while ((SECONDS < deadline)); do
    kill -0 "$(cat "$STATE_DIR/reducer.pid")" 2>/dev/null || die "reducer exited early; see $STATE_DIR/reducer.log: $(tail -n 5 "$STATE_DIR/reducer.log")"
    completed=$(psql "$DATABASE_URL" -Atc "SELECT run_id FROM warehouse_$SCHEMA.completed_runs" 2>/dev/null || true)
    [[ -n $completed ]] && break
    sleep 1
  done
  [[ -n $completed ]] || die "the reducer did not complete the run within ${CHECK_TIMEOUT}s; see $STATE_DIR/reducer.log"
  loaded=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM warehouse_$SCHEMA.episodes")
  ((loaded > 0)) || die "the reducer completed $completed but loaded no episodes"
  log "reduce ok: $completed reduced, loaded ($loaded episodes) and modelled from wt-work2"
  stop_all
  PGOPTIONS="-c client_min_messages=warning" psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA, warehouse_$SCHEMA, site_$SCHEMA, dashboard_$SCHEMA CASCADE" >/dev/null || true
}

case "${1:-}" in
  up) up ;;
  --down|down) down ;;
  --ping|ping) up; trap 'stop_all' EXIT; ping_check; trap - EXIT ;;
  --check|check) up; trap 'stop_all' EXIT; crawl_check; trap - EXIT ;;
  *) sed -n '2,28p' "$0"; exit 2 ;;
esac
