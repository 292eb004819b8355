#!/usr/bin/env bash
# Two builds of vigil side by side, in alternating runs of the same
# vigil_load scenarios, so that the machine's drift hits both alike
# (docs/decisions/0015-measurement-method.md). Prints each run and, per row,
# the medians and the ratio new/old.
#
#   bench/compare.sh OLD_DIR NEW_DIR [ROUNDS]
#
# Each DIR holds a `vigil` binary; vigil_load is taken from NEW_DIR (or
# build/). Rows: the SQLite default and the memory store on one I/O thread,
# single-alert and batched fan-out (delivered alerts per server CPU-second)
# and paced latency (p99).
set -euo pipefail
old=$(cd "$1" && pwd); new=$(cd "$2" && pwd); rounds=${3:-3}
load="$new/vigil_load"
[ -x "$load" ] || load="$(cd "$(dirname "$0")/.." && pwd)/build/vigil_load"
export VIGIL_JWT_SECRET="compare-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export VIGIL_PING_INTERVAL=5 VIGIL_HEARTBEAT_TIMEOUT=20
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

rows=(
  "sqlite single|fanout --connections 1000 --alerts 40000 --publishers 32|"
  "sqlite batch100|fanout --connections 1000 --alerts 200000 --batch 100 --publishers 8|"
  "sqlite p99 1k/s|latency --connections 1000 --rate 1000 --duration 6 --publishers 16|"
  "memory-1thread single|fanout --connections 1000 --alerts 40000 --publishers 32|--store memory --threads 1"
  "memory-1thread batch100|fanout --connections 1000 --alerts 200000 --batch 100 --publishers 8|--store memory --threads 1"
  "memory-1thread p99 1k/s|latency --connections 1000 --rate 1000 --duration 6 --publishers 16|--store memory --threads 1"
)

run() {  # build row_args server_args -> one JSON line
  local dir=$1 args=$2 extra=$3
  # shellcheck disable=SC2086
  timeout 300 "$load" $args -- "$dir/vigil" serve --host 127.0.0.1 --port 0 --data-dir {tmpdir} --log-level warn $extra \
    2>/dev/null | grep '^{"scenario"' | tail -1 || true
}

for r in $(seq 1 "$rounds"); do
  for row in "${rows[@]}"; do
    IFS='|' read -r name args extra <<<"$row"
    # Alternate which build goes first, round by round.
    if [ $((r % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
    for which in $order; do
      dir=$old; [ "$which" = new ] && dir=$new
      line=$(run "$dir" "$args" "$extra")
      echo "$name|$which|$line" >>"$out/results"
      echo "round $r  $name  $which: $(python3 -c '
import json,sys
l=sys.argv[1]
if not l: print("no result"); sys.exit()
r=json.loads(l)
print("%s per CPU-s, p99 %s ms, lost %s, dup %s" % (r.get("delivered_per_server_cpu_s"), r.get("latency_p99_ms"), r.get("lost"), r.get("duplicates")))' "$line")"
    done
  done
done

python3 - "$out/results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, which, js = line.rstrip("\n").split("|", 2)
    if not js:
        continue
    r = json.loads(js)
    metric = "latency_p99_ms" if "p99" in name else "delivered_per_server_cpu_s"
    rows.setdefault(name, {}).setdefault(which, []).append(r.get(metric) or 0)
print("\n| row | old (median) | new (median) | new/old | runs |")
print("|---|---|---|---|---|")
for name, v in rows.items():
    o, n = v.get("old", []), v.get("new", [])
    if not o or not n:
        continue
    mo, mn = statistics.median(o), statistics.median(n)
    unit = " ms" if "p99" in name else ""
    print("| %s | %.4g%s | %.4g%s | %.2f | %s vs %s |" % (name, mo, unit, mn, unit, mn / mo if mo else float("nan"),
          ", ".join("%.4g" % x for x in o), ", ".join("%.4g" % x for x in n)))
PY
