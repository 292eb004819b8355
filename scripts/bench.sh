#!/usr/bin/env bash
# Benchmarks vigil against the two reference peers and writes BENCHMARKS.md (issue #5).
#
#   scripts/bench.sh [all|idle|fanout|embedded|durable|latency|latency19k|storm|slow|python|micro|report]
#
#   VIGIL_BENCH_QUICK=1    the ~2-3 minute version: one run each, small sizes
#   VIGIL_BENCH_RUNS=N     runs per configuration (default 3, quick 1); figures are medians
#   VIGIL_BENCH_PEERS=DIR  where node_ws/ and fastapi_ref/ live (default /work/shared/peers,
#                          else ../shared/peers); copied to a scratch folder before running
#   VIGIL_BENCH_SERVERS    which servers take part (default "vigil node fastapi")
#   VIGIL_BENCH_BUILD=DIR  build folder (default build/, RelWithDebInfo)
#   VIGIL_BENCH_COMMIT=ID  what to call the source in BENCHMARKS.md (default: git describe of the checkout)
#
# Builds vigil and the bench targets, then runs each scenario against a fresh
# server per run (vigil_load starts it from the command after `--`, finds its
# port, measures it through /proc and stops it). Raw JSON lines go to
# $BUILD/bench-results/<scenario>.jsonl; bench/report.py turns them into
# BENCHMARKS.md (and bench/cost_vs_connections.png when gnuplot is there).
# Running one scenario replaces that scenario's results and regenerates the report.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${VIGIL_BENCH_BUILD:-$root/build}"
quick="${VIGIL_BENCH_QUICK:-0}"
if [ "$quick" = 1 ]; then runs="${VIGIL_BENCH_RUNS:-1}"; else runs="${VIGIL_BENCH_RUNS:-3}"; fi
servers="${VIGIL_BENCH_SERVERS:-vigil node fastapi}"
what="${1:-all}"
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
    echo "commit:      ${VIGIL_BENCH_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet 2>/dev/null || echo ' + uncommitted changes')}"
    echo "cpu:         $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(grep -m1 'cpu MHz' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') MHz)"
    echo "memory:      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel:      $(uname -sr)"
    echo "open files:  $(ulimit -n) per process"
    echo "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) at start (other work on the machine skews absolute figures)"
    echo "mode:        $([ "$quick" = 1 ] && echo "quick (VIGIL_BENCH_QUICK=1)" || echo full), $runs run(s) per configuration"
    echo "vigil:       build/vigil, copied to $bin at start ($(grep -m1 CMAKE_BUILD_TYPE "$build/CMakeCache.txt" | cut -d= -f2)), 2 I/O threads (one per core) on $(grep -q -- -DBOOST_ASIO_HAS_IO_URING "$build/build.ninja" && echo io_uring || echo epoll)"
    echo "node peer:   node $(node --version 2>/dev/null || echo -), ws $(node -p 'require(process.argv[1]).version' "$peers/node_ws/node_modules/ws/package.json" 2>/dev/null || echo -)"
    echo "fastapi:     python $(/usr/bin/python3 -c 'import sys,fastapi,uvicorn; print(sys.version.split()[0], "fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__)' 2>/dev/null || echo -)"
    echo "heartbeats:  VIGIL_PING_INTERVAL=$VIGIL_PING_INTERVAL VIGIL_HEARTBEAT_TIMEOUT=$VIGIL_HEARTBEAT_TIMEOUT (all servers)"
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
    vigil-nogc) echo "$bin/vigil serve --host 127.0.0.1 --port 0 --data-dir {tmpdir} --log-level warn --group-commit false" ;;
    vigil-noping) echo "env VIGIL_PING_INTERVAL=60 $bin/vigil serve --host 127.0.0.1 --port 0 --data-dir {tmpdir} --log-level warn" ;;
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
  local file="$results/$scenario.jsonl" cmd lscen=$scenario
  case "$scenario" in latency19k) lscen=latency ;; heartbeat) lscen=idle ;; esac
  # shellcheck disable=SC2046
  cmd="$bin/vigil_load $lscen $* -- $(server_cmd "$server")"
  cmd=$(echo "$cmd" | sed "s|$bin/|build/|g; s|$peers/|peers/|g")
  grep -qxF "$cmd" "$results/commands.txt" 2>/dev/null || echo "$cmd" >>"$results/commands.txt"
  for i in $(seq 1 "$n"); do
    local line
    # shellcheck disable=SC2086
    line=$(timeout 600 "$bin/vigil_load" "$lscen" --label "$server/$variant/$i" "$@" \
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
    print("%s delivered/s, %s per server CPU-s, p99 %s ms, lost %s, dup %s, %s" % (
        r.get("delivered_per_s"), r.get("delivered_per_server_cpu_s"), r.get("latency_p99_ms"),
        r.get("lost"), r.get("duplicates"), r.get("result")))
PY
}

fresh() { rm -f "$results/$1.jsonl"; }

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

# ------------------------------------------------------------------ scenarios

if [ "$quick" = 1 ]; then
  export VIGIL_PING_INTERVAL=2 VIGIL_HEARTBEAT_TIMEOUT=10
  RAMP=1000,5000; RAMP_FASTAPI=1000; HOLD=2
  FAN_ALERTS=8000; BATCH_ALERTS=20000; FAN_SECONDS=2; EMB_ALERTS=40000
  DUR_ALERTS=15000; LAT_SECONDS=2; L19_CONNS=19000; L19_SECONDS=3
  STORM_CONNS=1000; STORM_SECONDS=3; STORM_AT=1; SLOW_CONNS=200; SLOW_SECONDS=2; MICRO_TIME=0.02
  HB_CONNS=2000; HB_PING=2; HB_HOLD=6
  PY_ALERTS=1000; PY_BATCH_ALERTS=10000; PY_CLI_ALERTS=100
  FAN10K=0; STALL_SECONDS=3
else
  export VIGIL_PING_INTERVAL=5 VIGIL_HEARTBEAT_TIMEOUT=20
  RAMP=1000,5000,10000,19000; RAMP_FASTAPI=$RAMP; HOLD=5
  FAN_ALERTS=40000; BATCH_ALERTS=100000; FAN_SECONDS=6; EMB_ALERTS=200000
  DUR_ALERTS=60000; LAT_SECONDS=6; L19_CONNS=19000; L19_SECONDS=10
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
  echo "build/vigil_embedded_bench --connections 1000 --alerts $EMB_ALERTS --store memory|sqlite" >>"$results/commands.txt"
}

s_durable() {
  say "== durable publish throughput (group commit on/off)"
  fresh durable
  for s in vigil vigil-nogc node; do
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
  echo "bench/python_publish.py --vigil build/vigil --store sqlite|memory --alerts $PY_ALERTS --batch-alerts $PY_BATCH_ALERTS --cli-alerts $PY_CLI_ALERTS" >>"$results/commands.txt"
}

s_micro() {
  say "== micro-benchmarks"
  "$bin/vigil_micro_bench" --benchmark_min_time="$MICRO_TIME" --benchmark_format=json \
    --benchmark_out="$results/micro.json" --benchmark_out_format=json >>"$log" 2>&1 || say "micro-benchmarks failed"
}

report() {
  /usr/bin/python3 "$root/bench/report.py" "$results" "$root/BENCHMARKS.md" "$root/bench/cost_vs_connections.png" >&2
}

mkdir -p "$results"
if [ "$what" != report ]; then
  build_all
  setup_peers
  [ "$what" = all ] && rm -f "$results"/*.jsonl "$results/commands.txt" "$results/micro.json"
  machine_info
fi
started=$(date +%s)
case "$what" in
  all) s_idle; s_heartbeat; s_fanout; s_embedded; s_durable; s_latency; s_latency19k; s_storm; s_slow; s_python; s_micro ;;
  idle|heartbeat|fanout|embedded|durable|latency|latency19k|storm|slow|python|micro) "s_$what" ;;
  report) ;;
  *) say "usage: scripts/bench.sh [all|idle|heartbeat|fanout|embedded|durable|latency|latency19k|storm|slow|python|micro|report]"; exit 2 ;;
esac
say "== done in $(( $(date +%s) - started )) s"
report
