#!/usr/bin/env bash
# Benchmarks vigil against the two reference peers and writes BENCHMARKS.md (issue #5).
#
#   scripts/bench.sh [all|idle|heartbeat|fanout|embedded|durable|latency|latency19k|cluster|storm|slow|python|micro|report]...
#
#   VIGIL_BENCH_QUICK=1    the ~2-3 minute version: one run each, small sizes
#   VIGIL_BENCH_RUNS=N     runs per configuration (default 3, quick 1); figures are medians
#   VIGIL_BENCH_PEERS=DIR  where node_ws/ and fastapi_ref/ live (default /work/shared/peers,
#                          else ../shared/peers); copied to a scratch folder before running
#   VIGIL_BENCH_SERVERS    which servers take part (default "vigil node fastapi")
#   VIGIL_BENCH_BUILD=DIR  build folder (default build/, RelWithDebInfo)
#   VIGIL_BENCH_COMMIT=ID  what to call the source in BENCHMARKS.md (default: git describe of the checkout)
#   VIGIL_BENCH_NODES=N    nodes of the cluster scenario (default 5, each with 19,000 connections; quick 2,000)
#   VIGIL_BENCH_NODE_THREADS=T  I/O threads per cluster node (default 2, one per core: lower latency than 1 here)
#   VIGIL_PG_BIN_DIR=DIR   PostgreSQL's initdb and postgres (default /usr/lib/postgresql/15/bin)
#
# Builds vigil and the bench targets, then runs each scenario against a fresh
# server per run (vigil_load starts it from the command after `--`, finds its
# port, measures it through /proc and stops it). Raw JSON lines go to
# $BUILD/bench-results/<scenario>.jsonl; bench/report.py turns them into
# BENCHMARKS.md (and bench/cost_vs_connections.png when gnuplot is there).
# Running one scenario replaces that scenario's results (and its commands in
# $BUILD/bench-results/commands/) and regenerates the report; several named
# together run in one invocation, under one machine description.
# The PostgreSQL rows (vigil-pg, the cluster) run on a throwaway PostgreSQL
# (initdb in a temporary folder, a free port, fsync on) and Redis (no
# persistence) that the script starts and removes on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${VIGIL_BENCH_BUILD:-$root/build}"
quick="${VIGIL_BENCH_QUICK:-0}"
if [ "$quick" = 1 ]; then runs="${VIGIL_BENCH_RUNS:-1}"; else runs="${VIGIL_BENCH_RUNS:-3}"; fi
servers="${VIGIL_BENCH_SERVERS:-vigil node fastapi}"
whats=("${@:-all}")
results="$build/bench-results"
secret="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export VIGIL_JWT_SECRET="$secret"
log="$results/bench.log"
bin="$results/bin"

peers_src="${VIGIL_BENCH_PEERS:-}"
if [ -z "$peers_src" ]; then
  for d in /work/shared/peers "$root/../shared/peers"; do
    if [ -d "$d/node_ws" ]; then peers_src="$d"; break; fi
  done
fi
peers="${TMPDIR:-/tmp}/vigil-bench-peers"

say() { printf '%s\n' "$*" >&2; }
has() { case " $servers " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ------------------------------------------------------------------ setup

build_all() {
  say "== building (RelWithDebInfo) in $build"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_BUILD_BENCH=ON >/dev/null
  ninja -C "$build" -j"$(nproc)" vigil vigil_load vigil_embedded_bench vigil_micro_bench vigil_stall_probe vigil_null_server >&2
  # A private copy: a rebuild of build/ during the run must not change the binaries mid-way.
  rm -rf "$bin" && mkdir -p "$bin"
  cp "$build/vigil" "$build/vigil_load" "$build/vigil_embedded_bench" "$build/vigil_micro_bench" \
     "$build/vigil_stall_probe" "$build/vigil_null_server" "$bin/"
}

setup_peers() {
  if [ -z "$peers_src" ]; then
    say "no peers found (VIGIL_BENCH_PEERS): benchmarking vigil alone"
    servers="vigil"
    return
  fi
  mkdir -p "$peers"
  if has node; then
    if [ ! -d "$peers/node_ws/node_modules/ws" ]; then
      rm -rf "$peers/node_ws" && cp -r "$peers_src/node_ws" "$peers/" && chmod -R u+w "$peers/node_ws"
      (cd "$peers/node_ws" && npm ci --no-audit --no-fund >/dev/null 2>&1) || { say "npm ci failed: no node peer"; servers="${servers/node/}"; }
    fi
  fi
  if has fastapi; then
    rm -rf "$peers/fastapi_ref" && cp -r "$peers_src/fastapi_ref" "$peers/" && chmod -R u+w "$peers/fastapi_ref"
    if ! /usr/bin/python3 -c 'import fastapi, uvicorn, jwt, websockets' >/dev/null 2>&1; then
      say "installing the FastAPI peer's Debian packages"
      (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq python3-fastapi \
        python3-uvicorn python3-jwt python3-websockets) >>"$log" 2>&1 || { say "no FastAPI peer"; servers="${servers/fastapi/}"; }
    fi
  fi
}

machine_info() {
  {
    echo "date:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit:      ${VIGIL_BENCH_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet -- . ':!BENCHMARKS.md' ':!bench/cost_vs_connections.png' 2>/dev/null || echo ' + uncommitted changes')}"
    echo "cpu:         $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(grep -m1 'cpu MHz' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') MHz)"
    echo "memory:      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel:      $(uname -sr)"
    echo "open files:  $(ulimit -n) per process"
    echo "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) at start (other work on the machine skews absolute figures)"
    echo "mode:        $([ "$quick" = 1 ] && echo "quick (VIGIL_BENCH_QUICK=1)" || echo full), $runs run(s) per configuration"
    echo "vigil:       build/vigil, copied to $bin at start ($(grep -m1 CMAKE_BUILD_TYPE "$build/CMakeCache.txt" | cut -d= -f2)), 2 I/O threads (one per core) on $(grep -q -- -DBOOST_ASIO_HAS_IO_URING "$build/build.ninja" && echo io_uring || echo epoll)"
    echo "pg, redis:   PostgreSQL $("$pg_bin/postgres" --version 2>/dev/null | awk '{print $3}') (throwaway, fsync on, defaults), Redis $(redis-server --version 2>/dev/null | awk '{print $3}' | cut -d= -f2) (no persistence); cluster nodes run --threads $CL_THREADS"
    echo "node peer:   node $(node --version 2>/dev/null || echo -), ws $(node -p 'require(process.argv[1]).version' "$peers/node_ws/node_modules/ws/package.json" 2>/dev/null || echo -)"
    echo "fastapi:     python $(/usr/bin/python3 -c 'import sys,fastapi,uvicorn; print(sys.version.split()[0], "fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__)' 2>/dev/null || echo -)"
    echo "heartbeats:  VIGIL_PING_INTERVAL=$VIGIL_PING_INTERVAL VIGIL_HEARTBEAT_TIMEOUT=$VIGIL_HEARTBEAT_TIMEOUT (all servers; the cluster scenario: $CL_PING and $CL_HEARTBEAT_TIMEOUT, the defaults)"
    # The host's own stalls, before anything runs: part of every latency tail measured here.
    "$bin/vigil_stall_probe" --seconds "$STALL_SECONDS" --json | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
per_cpu = ["cpu%d waits > 2 ms %.2f %% of the time, > 1 ms %.2f %%, worst %.1f ms"
           % (c["cpu"], c["wait_over_2ms_pct"], c["wait_over_1ms_pct"], c["worst_ms"]) for c in d["cpus"]]
how = "real-time threads" if all(c["realtime"] for c in d["cpus"]) else "NOT real-time: includes guest scheduling"
print("host stalls: %s (vigil_stall_probe, %.0f s idle, %s)" % ("; ".join(per_cpu), d["seconds"], how))' \
      || echo "host stalls: -"
  } >"$results/machine.txt"
}

server_cmd() {
  case "$1" in
    vigil) echo "$bin/vigil serve --host 127.0.0.1 --port 0 --data-dir {tmpdir} --log-level warn" ;;
    vigil-mem) echo "$bin/vigil serve --host 127.0.0.1 --port 0 --data-dir {tmpdir} --log-level warn --store memory" ;;
    # One I/O thread: every commit and delivery on the thread that read the publish (docs/architecture.md).
    vigil-mem1) echo "$bin/vigil serve --host 127.0.0.1 --port 0 --data-dir {tmpdir} --log-level warn --store memory --threads 1" ;;
    vigil-nogc) echo "$bin/vigil serve --host 127.0.0.1 --port 0 --data-dir {tmpdir} --log-level warn --no-group-commit" ;;
    vigil-noping) echo "env VIGIL_PING_INTERVAL=60 $bin/vigil serve --host 127.0.0.1 --port 0 --data-dir {tmpdir} --log-level warn" ;;
    # One node on PostgreSQL with the local bus: what the store of record costs, without the cluster.
    vigil-pg) echo "$bin/vigil serve --host 127.0.0.1 --port 0 --data-dir {tmpdir} --log-level warn --store postgres --postgres-url $pg_url" ;;
    null) echo "$bin/vigil_null_server --host 127.0.0.1 --port 0" ;;
    node) echo "$peers/node_ws/run.sh --port 0 --host 127.0.0.1" ;;
    fastapi) echo "$peers/fastapi_ref/run.sh --port 0 --host 127.0.0.1 --log-level warning" ;;
  esac
}

server_enabled() {
  case "$1" in vigil* | null) has vigil ;; *) has "$1" ;; esac
}

# run SCENARIO SERVER VARIANT RUNS [vigil_load options...]
run() {
  local scenario=$1 server=$2 variant=$3 n=$4
  shift 4
  server_enabled "$server" || return 0
  local file="$results/$scenario.jsonl" cmd lscen=$scenario backing=()
  case "$scenario" in latency19k | cluster) lscen=latency ;; heartbeat) lscen=idle ;; esac
  case "$server" in vigil-pg) start_postgres ;; esac
  # shellcheck disable=SC2046
  cmd="$bin/vigil_load $lscen $* -- $(server_cmd "$server")"
  cmd=$(echo "$cmd" | sed "s|$bin/|build/|g; s|$peers/|peers/|g; s|${pg_url:-^$}|\$PG_URL|g")
  record_cmd "$scenario" "$cmd"
  for i in $(seq 1 "$n"); do
    local line
    case "$server" in vigil-pg) reset_postgres; backing=(--backing-pid "$pg_pid") ;; esac
    # shellcheck disable=SC2086
    line=$(timeout 600 "$bin/vigil_load" "$lscen" --label "$server/$variant/$i" "$@" "${backing[@]}" \
             -- $(server_cmd "$server") 2>>"$log" | tee -a "$log" | grep '^{"scenario"' | tail -1) || true
    if [ -n "$line" ]; then
      echo "$line" >>"$file"
      say "  $scenario $server/$variant run $i: $(summary "$line")"
    else
      say "  $scenario $server/$variant run $i: no result (see $log)"
    fi
  done
}

summary() {
  /usr/bin/python3 - "$1" <<'PY' 2>/dev/null || echo "$1"
import json, sys
r = json.loads(sys.argv[1])
if "steps" in r:
    parts = ["%s: %s B/conn, %.0f handshakes/s" % (s["connections"], s["bytes_per_connection"], s["handshakes_per_s"] or 0)
             for s in r["steps"]]
    print("; ".join(parts), r["result"])
else:
    print("%s open, %s publishes/s, %s delivered/s, %s per server CPU-s, p50 %s ms, p99 %s ms, lost %s, dup %s, %s" % (
        r.get("open"), r.get("publishes_per_s"), r.get("delivered_per_s"), r.get("delivered_per_server_cpu_s"),
        r.get("latency_p50_ms"), r.get("latency_p99_ms"), r.get("lost"), r.get("duplicates"), r.get("result")))
PY
}

fresh() { rm -f "$results/$1.jsonl" "$results/commands/$1.txt"; }

# record_cmd SCENARIO COMMAND: for the report's list of commands, once.
record_cmd() {
  mkdir -p "$results/commands"
  grep -qxF "$2" "$results/commands/$1.txt" 2>/dev/null || echo "$2" >>"$results/commands/$1.txt"
}

# Median delivered/s of a server's single-alert fan-out, for "latency at 50 % of peak".
peak() {
  /usr/bin/python3 -c '
import json, statistics, sys
v = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("label", "").startswith(sys.argv[2] + "/single-1k/") and r.get("delivered_per_s"):
        v.append(r["delivered_per_s"])
print(int(statistics.median(v)) if v else 0)
' "$results/fanout.jsonl" "$1" 2>/dev/null || echo 0
}

# ------------------------------------------------------------------ PostgreSQL and Redis

# Throwaway servers for the PostgreSQL rows and the cluster, started on first
# use and removed on exit (trap below), like tests/support/postgres_process.cpp.
pg_bin="${VIGIL_PG_BIN_DIR:-/usr/lib/postgresql/15/bin}"
svc_dir="" pg_port="" pg_pid="" pg_url="" redis_port="" redis_pid="" redis_url=""
node_pids=()

# N distinct free loopback ports (held together while they are chosen).
free_ports() {
  /usr/bin/python3 -c '
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"
}

# PostgreSQL refuses to run as root: then it runs as the postgres user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

services_dir() {
  if [ -z "$svc_dir" ]; then
    svc_dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-svc-XXXXXX")
    chmod 755 "$svc_dir"
  fi
}

# Durable on purpose: fsync, synchronous_commit and full_page_writes stay on
# (the defaults), so a 201 from vigil means a commit on disk, as with SQLite.
start_postgres() {
  [ -n "$pg_pid" ] && return 0
  [ -x "$pg_bin/postgres" ] || { say "no PostgreSQL in $pg_bin (VIGIL_PG_BIN_DIR)"; return 1; }
  services_dir
  local data="$svc_dir/pg" launcher i
  mkdir -p "$data" && chmod 700 "$data"
  [ "$(id -u)" = 0 ] && chown postgres: "$data"
  as_pg "$pg_bin/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C --no-instructions >>"$log" 2>&1
  pg_port=$(free_ports 1)
  as_pg "$pg_bin/postgres" -D "$data" -p "$pg_port" -k "$data" -c listen_addresses=127.0.0.1 \
    -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c log_min_messages=warning \
    >>"$svc_dir/postgres.log" 2>&1 &
  launcher=$!
  for i in $(seq 1 600); do
    "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break
    kill -0 "$launcher" 2>/dev/null || { cat "$svc_dir/postgres.log" >&2; say "PostgreSQL did not start"; return 1; }
    sleep 0.1
  done
  # The postmaster itself (runuser stays as its parent): measured and stopped by this pid.
  pg_pid=$(head -1 "$data/postmaster.pid")
  pg_url="postgresql://postgres@127.0.0.1:$pg_port/vigil"
  say "  PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on port $pg_port (pid $pg_pid, fsync on)"
}

# A fresh database per run: no run reads another's tables.
reset_postgres() {
  "$pg_bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c 'DROP DATABASE IF EXISTS vigil WITH (FORCE)' -c 'CREATE DATABASE vigil' >>"$log" 2>&1
}

start_redis() {
  [ -n "$redis_pid" ] && return 0
  services_dir
  mkdir -p "$svc_dir/redis"
  redis_port=$(free_ports 1)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$svc_dir/redis" \
    --loglevel warning >>"$svc_dir/redis.log" 2>&1 &
  redis_pid=$!
  local i
  for i in $(seq 1 300); do
    [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
    kill -0 "$redis_pid" 2>/dev/null || { cat "$svc_dir/redis.log" >&2; say "redis-server did not start"; return 1; }
    sleep 0.1
  done
  redis_url="redis://127.0.0.1:$redis_port"
  say "  Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on port $redis_port (pid $redis_pid, no persistence)"
}

# Stops a process this script started: SIGTERM (or the signal given), then SIGKILL after 30 s.
stop_pid() {
  local pid=$1 sig=${2:-TERM} i
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_nodes() {
  local pid
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do stop_pid "$pid"; done
  node_pids=()
}

stop_services() {
  stop_nodes
  [ -n "$redis_pid" ] && stop_pid "$redis_pid"
  # SIGINT: PostgreSQL's fast shutdown; its runuser parent exits with it.
  [ -n "$pg_pid" ] && stop_pid "$pg_pid" INT
  redis_pid="" pg_pid=""
  wait 2>/dev/null || true
  [ -n "$svc_dir" ] && rm -rf "$svc_dir"
  svc_dir=""
}
trap stop_services EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ scenarios

if [ "$quick" = 1 ]; then
  export VIGIL_PING_INTERVAL=2 VIGIL_HEARTBEAT_TIMEOUT=10
  RAMP=1000,5000; RAMP_FASTAPI=1000; HOLD=2
  FAN_ALERTS=8000; BATCH_ALERTS=20000; FAN_SECONDS=2; EMB_ALERTS=40000
  DUR_ALERTS=15000; LAT_SECONDS=2; L19_CONNS=19000; L19_SECONDS=3; CL_PER_NODE=2000; CL_SETTLE=3
  STORM_CONNS=1000; STORM_SECONDS=3; STORM_AT=1; SLOW_CONNS=200; SLOW_SECONDS=2; MICRO_TIME=0.02
  HB_CONNS=2000; HB_PING=2; HB_HOLD=6
  PY_ALERTS=1000; PY_BATCH_ALERTS=10000; PY_CLI_ALERTS=100
  FAN10K=0; STALL_SECONDS=3
else
  export VIGIL_PING_INTERVAL=5 VIGIL_HEARTBEAT_TIMEOUT=20
  RAMP=1000,5000,10000,19000; RAMP_FASTAPI=$RAMP; HOLD=5
  FAN_ALERTS=40000; BATCH_ALERTS=100000; FAN_SECONDS=6; EMB_ALERTS=200000
  DUR_ALERTS=60000; LAT_SECONDS=6; L19_CONNS=19000; L19_SECONDS=10; CL_PER_NODE=19000; CL_SETTLE=20
  STORM_CONNS=5000; STORM_SECONDS=8; STORM_AT=3; SLOW_CONNS=500; SLOW_SECONDS=8; MICRO_TIME=0.3
  HB_CONNS=19000; HB_PING=30; HB_HOLD=120
  PY_ALERTS=5000; PY_BATCH_ALERTS=50000; PY_CLI_ALERTS=300
  FAN10K=1; STALL_SECONDS=20
fi
slow_runs=1  # the FastAPI peer's 19k ramp alone takes minutes: one run

s_idle() {
  say "== idle hold (ramp $RAMP, hold ${HOLD}s, ping every ${VIGIL_PING_INTERVAL}s)"
  fresh idle
  run idle vigil ramp "$runs" --ramp "$RAMP" --hold "$HOLD"
  run idle node ramp "$runs" --ramp "$RAMP" --hold "$HOLD"
  run idle fastapi ramp "$slow_runs" --ramp "$RAMP_FASTAPI" --hold "$HOLD"
}

s_fanout() {
  say "== fan-out throughput"
  fresh fanout
  # null: the machine's floor for the same wire work (bench/null_server.cpp).
  for s in vigil vigil-mem vigil-mem1 node fastapi null; do
    run fanout "$s" single-1k "$runs" --connections 1000 --alerts "$FAN_ALERTS" --duration "$FAN_SECONDS" --publishers 32
  done
  for s in vigil vigil-mem vigil-mem1 node fastapi null; do
    run fanout "$s" batch100-1k "$runs" --connections 1000 --alerts "$BATCH_ALERTS" --batch 100 --publishers 8 --duration "$FAN_SECONDS"
  done
  if [ "$FAN10K" = 1 ]; then
    for s in vigil node; do
      run fanout "$s" single-10k "$runs" --connections 10000 --alerts "$FAN_ALERTS" --duration "$FAN_SECONDS" --publishers 32
    done
  fi
}

s_embedded() {
  has vigil || return 0
  say "== fan-out through the embedding API"
  fresh embedded
  for store in memory sqlite; do
    local label=vigil; [ "$store" = memory ] && label=vigil-mem
    for i in $(seq 1 "$runs"); do
      local line
      line=$(timeout 600 "$bin/vigil_embedded_bench" --connections 1000 --alerts "$EMB_ALERTS" --store "$store" \
               --label "$label/embedded/$i" 2>>"$log" | tee -a "$log" | grep '^{"scenario"' | tail -1) || true
      [ -n "$line" ] && echo "$line" >>"$results/embedded.jsonl" && say "  embedded $label run $i: $(summary "$line")"
    done
  done
  record_cmd embedded "build/vigil_embedded_bench --connections 1000 --alerts $EMB_ALERTS --store memory|sqlite"
}

s_durable() {
  say "== durable publish throughput (group commit on/off; SQLite and PostgreSQL)"
  fresh durable
  for s in vigil vigil-nogc vigil-pg node; do
    run durable "$s" c128 "$runs" --connections 1000 --alerts "$DUR_ALERTS" --publishers 128 --duration "$FAN_SECONDS"
  done
}

s_latency() {
  say "== latency at 50 % of each server's peak"
  [ -s "$results/fanout.jsonl" ] || s_fanout
  fresh latency
  for s in vigil vigil-mem vigil-mem1 node fastapi; do
    server_enabled "$s" || continue
    local p rate
    p=$(peak "$s")
    rate=$(( p > 0 ? p / 2 : 1000 ))
    run latency "$s" half-peak "$runs" --connections 1000 --rate "$rate" --duration "$LAT_SECONDS" --publishers 32
  done
}

s_latency19k() {
  say "== latency at $L19_CONNS connections, 1000 alerts/s"
  fresh latency19k
  for s in vigil vigil-mem vigil-mem1 node null; do
    run latency19k "$s" 19k-1000 "$runs" --connections "$L19_CONNS" --rate 1000 --duration "$L19_SECONDS" --publishers 16
  done
  # The same without a heartbeat sweep during the measurement (ping interval 60 s): what the sweep costs.
  run latency19k vigil-noping 19k-1000 "$runs" --connections "$L19_CONNS" --rate 1000 --duration "$L19_SECONDS" --publishers 16
}

# A cluster on this one machine: N nodes (PostgreSQL store, Redis bus), each
# holding CL_PER_NODE connections, alerts published at 1,000/s through another
# node than the receivers' (vigil_load's cluster mode). Beside it, in the same
# run, one node with the same load at CL_PER_NODE connections: SQLite (the
# default) and PostgreSQL with the local bus.
CL_NODES="${VIGIL_BENCH_NODES:-5}"
# Two I/O threads per node (the default, one per core) rather than one: with
# 5 nodes × 19,000 connections here, p50 ~40 ms and p99 ~0.6 s against ~60 ms
# and ~1.1 s with one, for the same CPU per alert (runs alternated, loaded machine).
CL_THREADS="${VIGIL_BENCH_NODE_THREADS:-2}"
# Publisher connections (keep-alive, one request in flight each): enough that
# a PostgreSQL commit of tens of ms under load does not hold the rate below 1,000/s.
CL_PUBLISHERS=128
# Connections are held CL_SETTLE s before publishing starts (vigil_load
# --hold): opening a connection queues a replay read in the store (one
# PostgreSQL transaction each: 95,055 for 95,000 connections here), in the
# same queue as publishes, and with a 1 s hold the first publishes waited
# behind them for up to 6.6 s. The rows measure the steady state, not that backlog.
# An alert answered 201 and not received this many seconds after publishing
# stopped counts as lost (the run ends as soon as every alert is in).
CL_DRAIN=30
# The default heartbeat (not the 5 s of the other scenarios): 95,000
# connections pinged every 5 s would be 19,000 pings/s on these 2 cores, a
# measurement of the heartbeat sweep rather than of the path through
# PostgreSQL and Redis. Every row of the scenario runs with it.
CL_PING=30 CL_HEARTBEAT_TIMEOUT=60

# cluster_node K PORT: starts node nK in the background.
cluster_node() {
  mkdir -p "$svc_dir/n$1"
  "$bin/vigil" serve --host 127.0.0.1 --port "$2" --data-dir "$svc_dir/n$1" --log-level warn --threads "$CL_THREADS" \
    --store postgres --postgres-url "$pg_url" --bus redis --redis-url "$redis_url" --node-id "n$1" \
    >>"$svc_dir/n$1.log" 2>&1 &
  node_pids+=($!)
}

# Waits until every node answers /health with "ok" (store and bus up).
wait_nodes() {
  local port i
  for port in "$@"; do
    for i in $(seq 1 600); do
      curl -sf "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"status":"ok"' && continue 2
      sleep 0.1
    done
    say "  node on port $port not healthy after 60 s"
    return 1
  done
}

# Adds to a cluster run's JSON line the nodes' I/O threads, the bus's trouble
# during the run, summed over the nodes' /metrics (bus_errors,
# bus_reconnects, bus_publish_dropped: alerts the receivers had to read from
# the store instead), and the time Redis spent executing commands over the
# whole run, connections included (redis_busy_s; redis_presence_s of it in
# HSET and HSCAN, the presence snapshots written and read; INFO commandstats,
# reset before the run).
cluster_extras() {
  local line=$1 token port
  shift
  token=$("$bin/vigil" token --user bench-monitor --role admin --ttl 600)
  {
    for port in "$@"; do
      curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" || true
    done
    redis-cli -p "$redis_port" info commandstats | tr -d '\r'
  } | /usr/bin/python3 -c '
import json, re, sys
names = {"vigil_bus_errors_total": "bus_errors", "vigil_bus_reconnects_total": "bus_reconnects",
         "vigil_bus_publish_dropped_total": "bus_publish_dropped"}
r = json.loads(sys.argv[1])
sums = dict.fromkeys(names.values(), 0)
busy = presence = 0
for l in sys.stdin:
    m = re.match(r"cmdstat_(\w+):calls=\d+,usec=(\d+)", l)
    if m:
        busy += int(m.group(2))
        if m.group(1) in ("hset", "hscan"):
            presence += int(m.group(2))
        continue
    if l.startswith("#") or not l.strip():
        continue
    metric = l.split("{")[0].split()[0]
    if metric in names:
        sums[names[metric]] += int(float(l.split()[-1]))
r.update(sums)
r["redis_busy_s"] = round(busy / 1e6, 3)
r["redis_presence_s"] = round(presence / 1e6, 3)
r["node_threads"] = int(sys.argv[2])
print(json.dumps(r, separators=(",", ":")))' "$line" "$CL_THREADS"
}

s_cluster() {
  has vigil || return 0
  local total=$((CL_NODES * CL_PER_NODE)) variant
  variant="$((total / 1000))k-1000"
  say "== cluster: $CL_NODES nodes × $CL_PER_NODE connections = $total, 1000 alerts/s through other nodes; one node beside it"
  fresh cluster
  start_postgres
  start_redis
  local -x VIGIL_PING_INTERVAL=$CL_PING VIGIL_HEARTBEAT_TIMEOUT=$CL_HEARTBEAT_TIMEOUT
  local single="$((CL_PER_NODE / 1000))k-1000"
  run cluster vigil "$single" "$runs" --connections "$CL_PER_NODE" --rate 1000 --duration "$L19_SECONDS" \
    --publishers "$CL_PUBLISHERS" --drain "$CL_DRAIN" --hold "$CL_SETTLE"
  run cluster vigil-pg "$single" "$runs" --connections "$CL_PER_NODE" --rate 1000 --duration "$L19_SECONDS" \
    --publishers "$CL_PUBLISHERS" --drain "$CL_DRAIN" --hold "$CL_SETTLE"

  local label="vigil-cluster$CL_NODES" ports urls pids k i line cmd
  cmd="build/vigil_load latency --url ws://127.0.0.1:PORT1,...,ws://127.0.0.1:PORT$CL_NODES --server-pid PID1,...,PID$CL_NODES"
  cmd+=" --backing-pid POSTMASTER,REDIS --connections $total --rate 1000 --duration $L19_SECONDS --publishers $CL_PUBLISHERS --drain $CL_DRAIN --hold $CL_SETTLE"
  cmd+="  # nodes (VIGIL_PING_INTERVAL=$CL_PING): build/vigil serve --threads $CL_THREADS --store postgres --postgres-url \$PG_URL --bus redis --redis-url \$REDIS_URL --node-id nK"
  record_cmd cluster "$cmd"
  for i in $(seq 1 "$runs"); do
    reset_postgres
    redis-cli -p "$redis_port" flushall >/dev/null
    redis-cli -p "$redis_port" config resetstat >/dev/null
    read -r -a ports <<<"$(free_ports "$CL_NODES")"
    for k in $(seq 1 "$CL_NODES"); do cluster_node "$k" "${ports[$((k - 1))]}"; done
    if ! wait_nodes "${ports[@]}"; then
      tail -n 20 "$svc_dir"/n*.log >&2
      stop_nodes
      say "  cluster $label/$variant run $i: no result (a node did not start)"
      continue
    fi
    urls=$(printf 'ws://127.0.0.1:%s,' "${ports[@]}")
    pids=$(IFS=,; echo "${node_pids[*]}")
    line=$(timeout 900 "$bin/vigil_load" latency --label "$label/$variant/$i" --url "${urls%,}" --server-pid "$pids" \
             --backing-pid "$pg_pid,$redis_pid" --connections "$total" --rate 1000 --duration "$L19_SECONDS" \
             --publishers "$CL_PUBLISHERS" --drain "$CL_DRAIN" --hold "$CL_SETTLE" 2>>"$log" | tee -a "$log" | grep '^{"scenario"' | tail -1) || true
    [ -n "$line" ] && line=$(cluster_extras "$line" "${ports[@]}")
    stop_nodes
    # The nodes log at warn: anything they said belongs with the run (but
    # web.none, the dashboard not built beside the binary, which is expected here).
    for k in $(seq 1 "$CL_NODES"); do
      local said
      said=$(grep -v '"event":"web.none"' "$svc_dir/n$k.log" || true)
      if [ -n "$said" ]; then
        { echo "== node n$k, run $i"; echo "$said"; } >>"$log"
        say "  node n$k logged $(echo "$said" | wc -l) line(s) (see $log)"
      fi
      : >"$svc_dir/n$k.log"
    done
    if [ -n "$line" ]; then
      echo "$line" >>"$results/cluster.jsonl"
      say "  cluster $label/$variant run $i: $(summary "$line")"
    else
      say "  cluster $label/$variant run $i: no result (see $log)"
    fi
  done
}

# Heartbeat cost: 19k idle connections at the default 30 s ping interval, in
# steady state: the first round (which also carries a protocol ping until a
# client shows it answers the JSON one) passes unmeasured, then four rounds
# are measured.
s_heartbeat() {
  local settle=$((HB_PING + 5))  # the first round, with the sweep's slack
  say "== heartbeat cost ($HB_CONNS connections, ${HB_PING}s pings, ${settle}s unmeasured, hold ${HB_HOLD}s)"
  fresh heartbeat
  for s in vigil node; do
    local n=$runs; [ "$s" = node ] && n=1
    VIGIL_PING_INTERVAL=$HB_PING VIGIL_HEARTBEAT_TIMEOUT=$((HB_PING * 2)) \
      run heartbeat "$s" "ping$HB_PING" "$n" --ramp "$HB_CONNS" --settle "$settle" --hold "$HB_HOLD"
  done
}

s_storm() {
  say "== reconnect storm ($STORM_CONNS clients)"
  fresh storm
  for s in vigil node fastapi; do
    run storm "$s" storm "$runs" --connections "$STORM_CONNS" --rate 1000 --duration "$STORM_SECONDS" --storm-at "$STORM_AT"
  done
}

s_slow() {
  say "== slow consumers"
  fresh slow
  for s in vigil node fastapi; do
    run slow "$s" slow10 "$runs" --connections "$SLOW_CONNS" --rate 2500 --duration "$SLOW_SECONDS" \
      --slow-fraction 0.1 --slow-bytes-per-s 1024
  done
}

# Alerts per second from one Python process (clients/python): single publishes,
# batches of 100, the background sender, and `vigil publish` (a process per
# alert) beside them. bench/python_publish.py starts its own server per run.
s_python() {
  has vigil || return 0
  say "== publishing from one Python process (clients/python) and from vigil publish"
  fresh python
  for store in sqlite memory; do
    local label=vigil; [ "$store" = memory ] && label=vigil-mem
    for i in $(seq 1 "$runs"); do
      local lines
      lines=$(timeout 900 /usr/bin/python3 "$root/bench/python_publish.py" --vigil "$bin/vigil" --store "$store" \
                --alerts "$PY_ALERTS" --batch-alerts "$PY_BATCH_ALERTS" --cli-alerts "$PY_CLI_ALERTS" \
                --label-prefix "$label" --run "$i" 2>>"$log" | tee -a "$log" | grep '^{"scenario"') || true
      if [ -n "$lines" ]; then
        echo "$lines" >>"$results/python.jsonl"
        say "  python $label run $i: $(echo "$lines" | /usr/bin/python3 -c '
import json, sys
print("; ".join("%s %s alerts/s" % (r["label"].split("/")[1], r["alerts_per_s"]) for r in map(json.loads, sys.stdin)))')"
      else
        say "  python $label run $i: no result (see $log)"
      fi
    done
  done
  record_cmd python "bench/python_publish.py --vigil build/vigil --store sqlite|memory --alerts $PY_ALERTS --batch-alerts $PY_BATCH_ALERTS --cli-alerts $PY_CLI_ALERTS"
}

s_micro() {
  say "== micro-benchmarks"
  "$bin/vigil_micro_bench" --benchmark_min_time="$MICRO_TIME" --benchmark_format=json \
    --benchmark_out="$results/micro.json" --benchmark_out_format=json >>"$log" 2>&1 || say "micro-benchmarks failed"
}

report() {
  /usr/bin/python3 "$root/bench/report.py" "$results" "$root/BENCHMARKS.md" "$root/bench/cost_vs_connections.png" >&2
}

scenarios="idle heartbeat fanout embedded durable latency latency19k cluster storm slow python micro"
for what in "${whats[@]}"; do
  case " all report $scenarios " in
    *" $what "*) ;;
    *) say "usage: scripts/bench.sh [all|idle|heartbeat|fanout|embedded|durable|latency|latency19k|cluster|storm|slow|python|micro|report]..."; exit 2 ;;
  esac
done
mkdir -p "$results"
if [ "${whats[*]}" != report ]; then
  build_all
  setup_peers
  case " ${whats[*]} " in
    *" all "*) rm -rf "$results"/*.jsonl "$results/commands" "$results/commands.txt" "$results/micro.json" ;;
  esac
  machine_info
fi
started=$(date +%s)
for what in "${whats[@]}"; do
  case "$what" in
    all) for s in $scenarios; do "s_$s"; done ;;
    report) ;;
    *) "s_$what" ;;
  esac
done
say "== done in $(( $(date +%s) - started )) s"
report
