#!/usr/bin/env bash
# Full-mode crawl scaling of `webtoon run` (in-process simulator + coordinator + N worker processes, ledger in
# PostgreSQL) with 1, 2 and 4 workers at a fixed simulated latency. Per run it reports requests, crawl time (the
# ledger's run created → finished), requests/s, worker CPU per request, peak RSS of every process, the simulator's
# CPU (it shares the cores), and how close each worker came to its latency bound (in-flight cap ÷ latency).
#
#   DATABASE_URL=… cluster/bench/cluster/scaling.sh [BIN] [RUNS] [SCALE] [PLATFORMS]
#
# BIN defaults to .build/release/webtoon (build it with `swift build -c release --product webtoon`). Environment:
# LATENCY (ms, 30), WORKERS ("1 2 4"), MAX_IN_FLIGHT (per platform per worker, 16), CONCURRENCY (units per
# worker, 8), EPISODE_PARALLELISM (8), PREFETCH (2), KEEP (1 keeps the scratch folder). Each run uses a fresh
# ledger schema (dropped afterwards) and a fresh data root. Runs alternate between worker counts so that load
# from other processes spreads over all of them.
set -euo pipefail
BIN=${1:-.build/release/webtoon}
RUNS=${2:-3}
SCALE=${3:-medium}
PLATFORMS=${4:-kakao}
LATENCY=${LATENCY:-30}
WORKERS=${WORKERS:-1 2 4}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-16}
CONCURRENCY=${CONCURRENCY:-8}
EPISODE_PARALLELISM=${EPISODE_PARALLELISM:-8}
PREFETCH=${PREFETCH:-2}
PY=${WEBTOON_PYTHON:-python3}
: "${DATABASE_URL:?set DATABASE_URL (source cluster/setup.sh)}"
PSQL=${PSQL:-psql}
scratch=$(mktemp -d)
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$scratch"' EXIT
platform_count=$(tr ',' '\n' <<<"$PLATFORMS" | grep -c .)
results="$scratch/results.tsv"
: >"$results"

echo "# $(date -u +%FT%TZ) $(uptime)"
echo "# scale=$SCALE platforms=$PLATFORMS latency=${LATENCY}ms max_in_flight=$MAX_IN_FLIGHT/platform/worker concurrency=$CONCURRENCY episode_parallelism=$EPISODE_PARALLELISM prefetch=$PREFETCH"
for i in $(seq 1 "$RUNS"); do
  for workers in $WORKERS; do
    schema="bench_scaling_${workers}_${i}_$$"
    root="$scratch/run-$workers-$i"
    start_load=$(cut -d' ' -f1 /proc/loadavg)
    out=$("$BIN" run --no-load --mode full --scale "$SCALE" --platforms "$PLATFORMS" --latency-ms "$LATENCY" \
      --workers "$workers" --concurrency "$CONCURRENCY" --max-in-flight "$MAX_IN_FLIGHT" \
      --episode-parallelism "$EPISODE_PARALLELISM" --prefetch "$PREFETCH" \
      --schema "$schema" --data-root "$root" 2>/dev/null) || { echo "run failed (workers=$workers run=$i):"; echo "$out"; exit 1; }
    "$PSQL" "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    # One line per run for the summary below: the run's own output and every child's `resources` log line.
    {
      printf 'run\t%s\t%s\t%s\n' "$workers" "$i" "$start_load"
      printf '%s\n' "$out" | sed 's/^/out\t/'
      for log in "$root"/logs/*.log; do
        name=$(basename "$log" .log)
        grep -h ' resources' "$log" | tail -1 | sed "s/^/res\t$name\t/" || true
      done
    } >>"$results"
    rm -rf "$root/optimized" "$root/raw"
    echo "done workers=$workers run=$i ($(grep -o 'crawl [0-9.]* s ([0-9]* requests/s)' <<<"$out"))"
  done
done

"$PY" - "$results" "$LATENCY" "$MAX_IN_FLIGHT" "$platform_count" <<'EOF'
import re, statistics, sys
path, latency_ms, in_flight, platforms = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
bound = in_flight * platforms / (latency_ms / 1000)  # requests/s one worker can reach if nothing else limits it
runs, cur = [], None
def num(pattern, text, cast=float):
    m = re.search(pattern, text)
    return cast(m.group(1)) if m else None
for line in open(path, encoding="utf-8"):
    kind, *rest = line.rstrip("\n").split("\t")
    if kind == "run":
        cur = {"workers": int(rest[0]), "run": int(rest[1]), "load": rest[2], "out": "", "res": {}}
        runs.append(cur)
    elif kind == "out":
        cur["out"] += rest[0] + "\n"
    elif kind == "res":
        text = rest[1]
        cur["res"][rest[0]] = {
            "cpu": num(r"cpuUserSeconds=([0-9.]+)", text) + num(r"cpuSystemSeconds=([0-9.]+)", text),
            "rss": num(r"maxRSSKiB=([0-9]+)", text, int) / 1024,
            "requests": num(r"requests=([0-9]+)", text, int),
        }
for r in runs:
    out = r["out"]
    r["requests"] = int(re.search(r"(?m)^requests ([0-9]+),", out).group(1))
    r["crawl"] = num(r"crawl ([0-9.]+) s", out)
    r["wall"] = num(r"wall time ([0-9.]+) s", out)
    r["sim_cpu"] = num(r"cpu user ([0-9.]+) s", out) + num(r"sys ([0-9.]+) s, peak", out)
    r["sim_rss"] = num(r"peak RSS ([0-9]+) MiB", out, int)
    workers = {k: v for k, v in r["res"].items() if k.startswith("worker-")}
    r["worker_cpu"] = sum(v["cpu"] for v in workers.values())
    r["worker_rss"] = max((v["rss"] for v in workers.values()), default=0)
    r["coord_cpu"] = r["res"].get("coordinator", {}).get("cpu", float("nan"))
    r["coord_rss"] = r["res"].get("coordinator", {}).get("rss", float("nan"))
    r["rps"] = r["requests"] / r["crawl"]
    r["fractions"] = sorted(v["requests"] / r["crawl"] / bound for v in workers.values() if v["requests"] is not None)
    r["cpu_total"] = r["worker_cpu"] + r["sim_cpu"] + r["coord_cpu"]

print(f"\nper-worker latency bound: {in_flight} in flight x {platforms} platform(s) / {latency_ms:g} ms = {bound:.0f} requests/s")
print("workers run load1 requests crawl_s wall_s req/s worker_cpu_us/req sim_cpu_s coord_cpu_s cpu_busy(of 2 cores) "
      "rss_MiB(sim+run,coord,worker max) bound_fraction_per_worker")
for r in runs:
    busy = r["cpu_total"] / r["wall"] / 2
    print(f"{r['workers']} {r['run']} {r['load']} {r['requests']} {r['crawl']:.2f} {r['wall']:.2f} {r['rps']:.0f} "
          f"{r['worker_cpu'] / r['requests'] * 1e6:.0f} {r['sim_cpu']:.1f} {r['coord_cpu']:.1f} {busy:.0%} "
          f"{r['sim_rss']},{r['coord_rss']:.0f},{r['worker_rss']:.0f} "
          + ",".join(f"{f:.0%}" for f in r["fractions"]))
print("\nmedians per worker count (efficiency = req/s / (workers x median req/s of 1 worker))")
by = {}
for r in runs: by.setdefault(r["workers"], []).append(r)
base = statistics.median(r["rps"] for r in by[min(by)]) / min(by) if by else None
for w, rs in sorted(by.items()):
    med = lambda key: statistics.median(r[key] for r in rs)
    rps = med("rps")
    frac = statistics.median(f for r in rs for f in r["fractions"])
    print(f"workers={w} runs={len(rs)} crawl_s={med('crawl'):.2f} req/s={rps:.0f} efficiency={rps / (w * base):.0%} "
          f"worker_cpu_us/req={statistics.median(r['worker_cpu'] / r['requests'] * 1e6 for r in rs):.0f} "
          f"sim_cpu_us/req={statistics.median(r['sim_cpu'] / r['requests'] * 1e6 for r in rs):.0f} "
          f"rss_MiB sim+run={med('sim_rss'):.0f} coordinator={med('coord_rss'):.0f} worker={med('worker_rss'):.0f} "
          f"bound_fraction={frac:.0%}")
EOF
