#!/usr/bin/env bash
# Where the proxy's time per operation goes, mongoward next to HAProxy (issue 8's profile).
# Same set-up as benches/compare.sh (whose helpers it sources): fast upstream, both proxies
# pinned to CPU1, the Rust-driver load generator on CPU0, find-by-_id, all gates on.
#
#   1. system calls and context switches per operation (perf tracepoints), both proxies;
#   2. a sampled CPU profile of mongoward (perf record) -> its top functions;
#   3. exact instructions per operation (valgrind --tool=callgrind), both proxies: the one
#      figure here that is not noisy on a shared VM (which has no hardware counters).
#
#   benches/profile.sh [--clients N] [--secs S] [--no-callgrind] [--out DIR]
# Prints a summary; the raw perf and callgrind files stay in DIR (default: a temp dir).
# mongoward runs as in compare.sh: worker_threads = 1, the single-threaded runtime (under
# valgrind, which runs one thread at a time, the work-stealing one is very slow).
set -euo pipefail

P_CLIENTS=8 P_SECS=5 P_CALLGRIND=1 P_OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) P_CLIENTS=$2; shift ;;
    --secs) P_SECS=$2; shift ;;
    --no-callgrind) P_CALLGRIND=0 ;;
    --out) P_OUT=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
P_OUT=${P_OUT:-$(mktemp -d /tmp/mongoward-profile.XXXXXX)}
mkdir -p "$P_OUT"
# shellcheck source=benches/compare.sh
source "$(dirname "$0")/compare.sh" --keep "$P_OUT"

ensure_tools() {
  command -v perf >/dev/null || apt-get install -y linux-perf >/dev/null
  [ "$P_CALLGRIND" = 0 ] || command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
}

proxy_pid() { case "$1" in haproxy) echo "$HA_PID" ;; *) echo "$MW_PID" ;; esac; }

# load VARIANT SECS [extra loadgen args...]: one run without warm-up; prints its JSON line.
load() {
  local v=$1 secs=$2 uvar="URI_$1"
  shift 2
  taskset -c "$CLIENT_CPU" "$LOADGEN" --uri "${!uvar}" --clients "$P_CLIENTS" --workload find \
    --warmup-secs 0 --secs "$secs" --label "$v" "$@" 2>>"$W/loadgen.err"
}

ops_of() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["ops"])'; }

# Syscalls and context switches per operation, counted over the whole run (the few
# connection set-ups included, which is a rounding error at tens of thousands of ops).
count_syscalls() {
  local v=$1 pid ops
  pid=$(proxy_pid "$v")
  perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$pid" -o "$W/stat-$v.csv" &
  local perf_pid=$!
  sleep 0.3
  ops=$(load "$v" "$P_SECS" | ops_of)
  kill -INT "$perf_pid"; wait "$perf_pid" || true
  python3 - "$W/stat-$v.csv" "$ops" "$v" <<'PY'
import sys
path, ops, v = sys.argv[1], int(sys.argv[2]), sys.argv[3]
counts = {}
for line in open(path):
    f = line.strip().split(",")
    if len(f) > 2 and f[0].replace(".", "").isdigit():
        counts[f[2]] = float(f[0])
sc, cs = counts.get("raw_syscalls:sys_enter", 0), counts.get("context-switches", 0)
print(f"{v:>10}: {ops} ops, {sc / ops:.2f} syscalls/op, {cs / ops:.3f} context switches/op")
PY
}

# perf record of mongoward under load; the report lists functions by self time.
cpu_profile() {
  perf record -F 2999 -g -p "$MW_PID" -o "$W/perf-mongoward.data" 2>>"$W/perf.err" &
  local perf_pid=$!
  sleep 0.3
  load mongoward "$P_SECS" >/dev/null
  kill -INT "$perf_pid"; wait "$perf_pid" || true
  perf report -i "$W/perf-mongoward.data" --no-children --sort dso,symbol --percent-limit 1 \
    --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -40
}

# Instructions per operation under callgrind (slow: a fixed number of operations).
callgrind() {
  local v=$1 ops out="$W/callgrind.$1.out"
  kill "$(proxy_pid "$v")" 2>/dev/null || true
  wait "$(proxy_pid "$v")" 2>/dev/null || true
  case "$v" in
    haproxy) taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$out" \
        haproxy -db -f "$W/haproxy.cfg" >>"$W/valgrind.log" 2>&1 & HA_PID=$! ;;
    *) TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c "$SERVER_CPU" valgrind --tool=callgrind \
        --callgrind-out-file="$out" "$MW" run --config "$W/mongoward.toml" >>"$W/valgrind.log" 2>&1 &
       MW_PID=$! ;;
  esac
  PIDS+=("$(proxy_pid "$v")")
  wait_port "$( [ "$v" = haproxy ] && echo "$HA_PORT" || echo "$MW_PORT")"
  # Two runs that differ only in their number of operations: the difference cancels what
  # both pay once (process start, TLS + SCRAM set-up of the pool's connections).
  local pid small big ops_small ops_big
  pid=$(proxy_pid "$v")
  read -r ops_small small < <(counted "$v" "$pid" 2000)
  read -r ops_big big < <(counted "$v" "$pid" 12000)
  echo "$v: $(((big - small) / (ops_big - ops_small))) instructions/op in user space" \
    "(callgrind, $P_CLIENTS clients, ($big - $small) / ($ops_big - $ops_small) ops)"
  cp "$(ls -t "$out".* | head -1)" "$W/callgrind-$v.measured"
}

# counted VARIANT PID OPS: zero the counters, run OPS operations, dump; prints "ops Ir".
counted() {
  local v=$1 pid=$2 n=$3 ops file
  callgrind_control --zero "$pid" >/dev/null 2>&1
  ops=$(load "$v" 120 --max-ops "$n" | ops_of)
  callgrind_control --dump="ops$n" "$pid" >/dev/null 2>&1
  file=$(ls -t "$W/callgrind.$v.out".* | head -1)
  echo "$ops $(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')"
}

profile_main() {
  ensure_haproxy
  ensure_tools
  build
  start_servers
  log "workdir $W; profiling at $P_CLIENTS clients, ${P_SECS}s per run"
  echo "== system calls per find-by-_id ($P_CLIENTS clients) =="
  count_syscalls haproxy
  count_syscalls mongoward
  echo
  echo "== mongoward CPU profile (perf record, self time, >= 1%) =="
  cpu_profile
  if [ "$P_CALLGRIND" = 1 ]; then
    echo
    echo "== instructions per operation (callgrind; steady state after connection set-up) =="
    callgrind haproxy
    callgrind mongoward
    echo "top functions: callgrind_annotate $W/callgrind-mongoward.measured | head -40"
  fi
}

profile_main
