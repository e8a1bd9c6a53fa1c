#!/usr/bin/env bash
# Upstream pooling benchmarks (issue 15 §4). Same set-up as benches/compare.sh, whose helpers
# it sources: the fast upstream and the proxies pinned to CPU1, the Rust-driver load generator
# on CPU0, find-by-_id, every gate on. Each mongoward run gets a fresh process whose config
# differs only in the cluster's `pool` table, so the upstream's connection peak is that run's.
#
#   1. throughput: 64 clients; HAProxy, mongoward in connection mode, request mode (pool 16),
#      and direct, interleaved, order rotated each repetition;
#   2. idle: 10,000 idle authenticated clients held open + 64 active, request mode (pool 32);
#      direct and connection mode for comparison (connection mode needs two descriptors per
#      client, so it gets as many idle clients as the open-file limit allows);
#   3. contention: 256 clients; request mode with pools of 8 and 64, connection mode, direct.
#
#   benches/pool.sh [--quick] [--reps R] [--secs S] [--warmup S] [--idle N] [--keep DIR]
#                   [--only "tput idle cont"]
#   --quick: 1 repetition, 1 s warm-up + 2 s, 1,000 idle clients (a smoke run, about 1 min).
# Upstream connections are counted by the fast upstream (peak open, reset before each run;
# SIGUSR1) and cross-checked with `ss` (established sockets to the upstream port, sampled
# every 0.5 s); request-mode runs also scrape the proxy's mongoward_pool_* metrics before and
# after (wait-time quantiles come from the histogram's buckets). Prints tables; never
# asserts numbers.
set -euo pipefail

PL_REPS=4 PL_SECS=5 PL_WARMUP=2 PL_IDLE=10000 PL_KEEP="" PL_ONLY="tput idle cont"
PL_ACTIVE=64 PL_CONT=256 PL_MAX_WAITERS=1024
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) PL_REPS=1 PL_SECS=2 PL_WARMUP=1 PL_IDLE=1000 ;;
    --reps) PL_REPS=$2; shift ;;
    --secs) PL_SECS=$2; shift ;;
    --warmup) PL_WARMUP=$2; shift ;;
    --idle) PL_IDLE=$2; shift ;;
    --keep) PL_KEEP=$2; shift ;;
    --only) PL_ONLY=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
# shellcheck source=benches/compare.sh
source "$(dirname "${BASH_SOURCE[0]}")/compare.sh" --secs "$PL_SECS" --warmup "$PL_WARMUP" ${PL_KEEP:+--keep "$PL_KEEP"}
TABLE="$REPO/benches/support/pool_table.py"

# The request-mode pool table for a given size (max_waiters high enough that the 256-client
# contention run waits instead of being refused).
pool_of() {
  printf '{ mode = "request", max_size = %s, max_waiters = %s }' "$1" "$PL_MAX_WAITERS"
}

# mw_start NAME POOL: a fresh mongoward whose cluster has `pool = POOL` (empty: connection
# mode), with a metrics listener. Sets MWV_PID, MWV_PORT, MWV_METRICS, URI_mw.
mw_start() {
  local name=$1 pool=$2
  MWV_PORT=$(free_port) MWV_METRICS=$(free_port)
  {
    printf '[server]\nlisten = ["127.0.0.1:%s"]\nworker_threads = 1\n' "$MWV_PORT"
    # Request mode needs one descriptor per client, not two: the default cap assumes two.
    printf 'max_connections = %s\n' "$((PL_IDLE + PL_CONT + 200))"
    printf '[tls]\ncert_file = "%s"\nkey_file = "%s"\n' "$W/certs/server.pem" "$W/certs/server-key.pem"
    printf '[metrics]\nlisten = "127.0.0.1:%s"\n' "$MWV_METRICS"
    if [ -n "$pool" ]; then
      sed "/^uri = /a pool = $pool" "$W/policy.toml"
    else
      cat "$W/policy.toml"
    fi
  } >"$W/mw-$name.toml"
  TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c "$SERVER_CPU" "$MW" run --config "$W/mw-$name.toml" \
    >>"$W/mw-$name.log" 2>&1 &
  MWV_PID=$!; PIDS+=("$MWV_PID"); wait_port "$MWV_PORT"
  URI_mw="mongodb://bench:$MW_PASSWORD@127.0.0.1:$MWV_PORT/?tls=true&tlsCAFile=$W/certs/ca.pem&directConnection=true&authSource=admin"
}

mw_stop() {
  kill "$MWV_PID" 2>/dev/null || true
  wait "$MWV_PID" 2>/dev/null || true
  MWV_METRICS=""
}

# The fast upstream's connection counts since the previous call (which restarts the peak).
up_counts() {
  local before
  before=$(grep -c '^connections' "$W/upstream.log" || true)
  kill -USR1 "$UP_PID"
  for _ in $(seq 1 50); do
    [ "$(grep -c '^connections' "$W/upstream.log" || true)" -gt "$before" ] && break
    sleep 0.05
  done
  grep '^connections' "$W/upstream.log" | tail -1
}

scrape() {
  if [ -n "${MWV_METRICS:-}" ]; then curl -s "http://127.0.0.1:$MWV_METRICS/metrics" >"$1" || : >"$1"
  else : >"$1"; fi
}

# measure LABEL URI PIDS CLIENTS [loadgen args...]: one run, one annotated JSON line.
measure() {
  local label=$1 uri=$2 pids=$3 c=$4 out ss_pid counts
  shift 4
  up_counts >/dev/null
  scrape "$W/metrics-before"
  : >"$W/ss"
  (while :; do ss -Htn state established "( dport = :$UP_PORT )" | wc -l >>"$W/ss"; sleep 0.5; done) &
  ss_pid=$!
  if out=$(taskset -c "$CLIENT_CPU" "$LOADGEN" --uri "$uri" --clients "$c" --workload find \
      --warmup-secs "$WARMUP" --secs "$SECS" --pids "$pids" --label "$label" "$@" 2>"$W/loadgen.err"); then
    :
  else
    log "run $label failed: $(tail -1 "$W/loadgen.err")"; FAILED=1; out=""
  fi
  kill "$ss_pid" 2>/dev/null || true; wait "$ss_pid" 2>/dev/null || true
  counts=$(up_counts)
  scrape "$W/metrics-after"
  [ -n "$out" ] || return 0
  python3 "$TABLE" annotate --upstream "$counts" --ss "$W/ss" \
    --metrics-before "$W/metrics-before" --metrics-after "$W/metrics-after" <<<"$out" >>"$W/results.jsonl"
}

# run_variant SCENARIO VARIANT CLIENTS REP [loadgen args...]
run_variant() {
  local s=$1 v=$2 c=$3 rep=$4 label="$1/$2/$4"
  shift 4
  case "$v" in
    direct) measure "$label" "$URI_direct" "upstream=$UP_PID" "$c" "$@" ;;
    haproxy) measure "$label" "$URI_haproxy" "proxy=$HA_PID,upstream=$UP_PID" "$c" "$@" ;;
    conn|req*)
      local pool=""
      [ "$v" = conn ] || pool=$(pool_of "${v#req}")
      mw_start "$v" "$pool"
      measure "$label" "$URI_mw" "proxy=$MWV_PID,upstream=$UP_PID" "$c" "$@"
      mw_stop ;;
  esac
}

# Runs every variant once per repetition, rotating the order.
interleave() {
  local s=$1 c=$2 vs
  read -r -a vs <<<"$3"
  local n=${#vs[@]}
  for rep in $(seq 1 "$PL_REPS"); do
    for i in $(seq 0 $((n - 1))); do
      run_variant "$s" "${vs[$(((i + rep) % n))]}" "$c" "$rep"
    done
    log "$s: repetition $rep/$PL_REPS done"
  done
}

# Idle clients held through a 64-client run. Connection mode holds two descriptors per
# client, so it gets what the open-file limit leaves after the active clients and a reserve.
idle_runs() {
  local limit conn_idle
  limit=$(ulimit -n)
  conn_idle=$(((limit - 300) / 2 - PL_ACTIVE))
  [ "$conn_idle" -lt "$PL_IDLE" ] || conn_idle=$PL_IDLE
  for rep in $(seq 1 "$PL_REPS"); do
    run_variant idle req32 "$PL_ACTIVE" "$rep" --idle-conns "$PL_IDLE"
    run_variant idle direct "$PL_ACTIVE" "$rep" --idle-conns "$PL_IDLE"
    run_variant idle conn "$PL_ACTIVE" "$rep" --idle-conns "$conn_idle"
    log "idle: repetition $rep/$PL_REPS done"
  done
}

main_pool() {
  ensure_haproxy
  build
  start_servers
  # compare.sh's own mongoward (connection mode) is not used here.
  kill "$MW_PID" 2>/dev/null || true; wait "$MW_PID" 2>/dev/null || true
  log "workdir $W; upstream :$UP_PORT, haproxy :$HA_PORT; fd limit $(ulimit -n)"
  FAILED=0
  LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  : >"$W/results.jsonl"
  for s in $PL_ONLY; do
    case "$s" in
      tput) interleave tput "$PL_ACTIVE" "haproxy conn req16 direct" ;;
      idle) idle_runs ;;
      cont) interleave cont "$PL_CONT" "req8 req64 conn direct" ;;
      *) log "unknown scenario $s"; exit 2 ;;
    esac
  done
  python3 "$TABLE" table "$W/results.jsonl" \
    --settings "reps=$PL_REPS warmup=${WARMUP}s secs=${SECS}s idle=$PL_IDLE max_waiters=$PL_MAX_WAITERS; pinning client=$CLIENT_CPU,servers=$SERVER_CPU; $(nproc) CPUs; load average before ${LOAD_BEFORE}, after $(cut -d' ' -f1-3 /proc/loadavg)"
  [ -n "$KEEP" ] && log "raw results: $W/results.jsonl"
  return "$FAILED"
}

# Sourced (e.g. for a profile), it only defines the helpers.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main_pool; fi
