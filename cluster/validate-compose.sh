#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: the compose tool's own schema check (`config -q`), then the
# properties the cluster relies on, read from the tool's normalised output. Exit 0 when everything holds.
#   cluster/validate-compose.sh            (uses docker-compose 1.29+ or `docker compose`)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  echo "validate-compose: neither docker-compose nor 'docker compose' is installed (apt-get install docker-compose)" >&2
  exit 2
fi

"${compose[@]}" -f docker-compose.yml config -q
normalised="$("${compose[@]}" -f docker-compose.yml --profile reducer --profile tools config)"

"$(command -v /usr/bin/python3 || command -v python3)" - "$normalised" <<'PY'
import sys, yaml
doc = yaml.safe_load(sys.argv[1])
services = doc["services"]
problems = []
def need(cond, what):
    if not cond: problems.append(what)

for name in ["postgres", "simulator", "coordinator", "worker", "reducer"]:
    need(name in services, f"service {name} is missing")
for name, service in services.items():
    need(service.get("network_mode") is None, f"{name}: no network_mode (host networking is not allowed)")
    need(not service.get("privileged"), f"{name}: must not be privileged")
    for port in service.get("ports", []):
        published = port if isinstance(port, str) else f'{port.get("host_ip", "")}:{port.get("published")}:{port.get("target")}'
        need(str(published).startswith("127.0.0.1:"), f"{name}: port {published} must be published on 127.0.0.1 only")

pg = services.get("postgres", {})
need(pg.get("image") == "postgres:15", "postgres: image must be postgres:15")
need("pg_isready" in str(pg.get("healthcheck", {}).get("test")), "postgres: healthcheck must use pg_isready")

sim = services.get("simulator", {})
need(sim.get("command", [])[:1] == ["simulate"], "simulator: must run `webtoon simulate`")
need("/__sim/health" in str(sim.get("healthcheck", {}).get("test")), "simulator: healthcheck must probe /__sim/health")

co = services.get("coordinator", {})
cmd = co.get("command", [])
need(cmd[:1] == ["coordinator"], "coordinator: must run `webtoon coordinator`")
for flag, value in [("--listen", "tcp://0.0.0.0:7070"), ("--http-port", "9090"), ("--secret-file", "/run/secrets/cluster_secret")]:
    need(flag in cmd and cmd[cmd.index(flag) + 1] == value, f"coordinator: {flag} {value}")
need(co.get("depends_on", {}).get("postgres", {}).get("condition") == "service_healthy", "coordinator: depends on postgres being healthy")
need("/healthz" in str(co.get("healthcheck", {}).get("test")), "coordinator: healthcheck must probe /healthz")

wk = services.get("worker", {})
wcmd = wk.get("command", [])
need(wcmd[:1] == ["worker"], "worker: must run `webtoon worker`")
for flag, value in [("--coordinator", "tcp://coordinator:7070"), ("--data-root", "file:///data")]:
    need(flag in wcmd and wcmd[wcmd.index(flag) + 1] == value, f"worker: {flag} {value}")
need(any(str(v).startswith("data:/data") for v in wk.get("volumes", [])), "worker: shared volume data:/data")
need(isinstance(wk.get("deploy", {}).get("replicas"), int), "worker: deploy.replicas must be set")
need("container_name" not in wk, "worker: container_name would prevent --scale")

red = services.get("reducer", {})
need(red.get("command", [])[:2] == ["reduce", "--watch"], "reducer: must run `webtoon reduce --watch`")
need(any(str(v).startswith("data:/data") for v in red.get("volumes", [])), "reducer: shared volume data:/data")

need("cluster_secret" in doc.get("secrets", {}), "the cluster secret must be a compose secret")
for name in ["coordinator", "worker"]:
    sources = [s["source"] if isinstance(s, dict) else s for s in services.get(name, {}).get("secrets", [])]
    need("cluster_secret" in sources, f"{name}: must mount the cluster secret")

if problems:
    print("docker-compose.yml:", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"docker-compose.yml ok: {len(services)} services")
PY
