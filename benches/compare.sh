#!/usr/bin/env bash
# Side-by-side load test (issue 8): direct to the fast upstream, HAProxy TLS termination
# (mode tcp, ssl crt, nbthread 1), and mongoward with its gates on, interleaved and pinned
# (client on CPU0; proxy and upstream on CPU1). Prints a table; never asserts numbers.
#
#   benches/compare.sh [--quick] [--reps R] [--secs S] [--warmup S] [--clients "1 8 64"]
#                      [--idle "1000 9900"] [--keep DIR] [--store sqlite]
#   --quick: 1 repetition, 1 s warm-up + 2 s, 8 clients, 1,000 idle connections (CI smoke).
#   --store sqlite: mongoward takes the same policy (cluster, 10,000 entries, the user) from
#     the control-plane store instead of the TOML: `admin init`, `admin import`, then a
#     configuration with [control_plane] and no policy tables (the follower runs as usual).
# Environment: MW_AUTH=0 switches off the SCRAM user with 10 roles (see users_block); mongoward then refuses every command that needs authentication.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
REPS=8 SECS=5 WARMUP=2 CLIENT_SETS="1 8 64" IDLE_SETS="1000 9900" QUICK=0 KEEP=""
SETUP_SECS=3 STORE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; REPS=1; SECS=2; WARMUP=1; CLIENT_SETS="8"; IDLE_SETS="1000"; SETUP_SECS=2 ;;
    --reps) REPS=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --clients) CLIENT_SETS=$2; shift ;;
    --idle) IDLE_SETS=$2; shift ;;
    --keep) KEEP=$2; shift ;;
    --store) STORE=$2; shift
      [ "$STORE" = sqlite ] || { echo "--store: only sqlite" >&2; exit 2; } ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
MW_AUTH=${MW_AUTH:-1}
CLIENT_CPU=0 SERVER_CPU=1
if [ "$(nproc)" -lt 2 ]; then SERVER_CPU=0; echo "warning: one CPU: no pinning split" >&2; fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}

W=${KEEP:-$(mktemp -d /tmp/mongoward-compare.XXXXXX)}
mkdir -p "$W"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$KEEP" ] || rm -rf "$W"
}
trap cleanup EXIT

log() { echo "[compare] $*" >&2; }

ensure_haproxy() {
  command -v haproxy >/dev/null && return
  log "installing haproxy"
  if ! apt-get install -y haproxy >/dev/null 2>&1; then
    apt-get update >/dev/null && apt-get install -y haproxy >/dev/null
  fi
}

# Builds the proxy and both bench targets; sets MW, UPSTREAM, LOADGEN to their executables.
build() {
  log "building (release)"
  local json
  # One cargo invocation, so the proxy and the bench targets build in parallel.
  json=$(cd "$REPO" && cargo build --release --bin mongoward --bench fast_upstream --bench loadgen \
    --message-format=json --quiet)
  MW="$REPO/target/release/mongoward"
  UPSTREAM=$(grep -o '"executable":"[^"]*fast_upstream[^"]*"' <<<"$json" | tail -1 | cut -d'"' -f4)
  LOADGEN=$(grep -o '"executable":"[^"]*loadgen[^"]*"' <<<"$json" | tail -1 | cut -d'"' -f4)
  [ -x "$MW" ] && [ -x "$UPSTREAM" ] && [ -x "$LOADGEN" ] || { log "executables not found"; exit 1; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listening on port $1"; exit 1
}

# 10,000 access-list entries: 9,999 disjoint 10.x.y.z blocks of mixed sizes, plus loopback.
access_list() {
  awk 'BEGIN {
    for (i = 0; i < 9999; i++) {
      len = 24 + (i % 9); a = int(i / 256); b = i % 256;
      printf "[[access_list]]\ncidr = \"10.%d.%d.0/%d\"\n", a, b, len
    }
    printf "[[access_list]]\ncidr = \"127.0.0.1/32\"\ncomment = \"bench clients\"\n"
  }'
}

# The SCRAM user with 10 roles. Switched on with MW_AUTH=1 once main's config accepts users;
# adjust the table names here if the final [[users]] schema differs.
users_block() {
  [ "$MW_AUTH" = 1 ] || return 0
  printf '[[users]]\nuser = "bench"\ndb = "admin"\nroles = ["readWrite@bench"'
  for i in $(seq 1 9); do printf ', "read@db%d"' "$i"; done
  printf ']\n'
  "$LOADGEN" --mode creds --user bench --password "$MW_PASSWORD"
}

start_servers() {
  "$MW" dev-certs --out "$W/certs" >/dev/null
  cat "$W/certs/server.pem" "$W/certs/server-key.pem" >"$W/haproxy.pem"
  UP_PORT=$(free_port) HA_PORT=$(free_port) MW_PORT=$(free_port)
  # HAProxy needs two descriptors per connection and refuses a maxconn the fd limit cannot hold.
  HA_MAXCONN=$((($(ulimit -n) - 200) / 2))
  MW_PASSWORD="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
  taskset -c "$SERVER_CPU" "$UPSTREAM" --port "$UP_PORT" >"$W/upstream.log" 2>&1 &
  UP_PID=$!; PIDS+=("$UP_PID"); wait_port "$UP_PORT"
  write_configs
  start_haproxy
  start_mongoward
  local tls="tls=true&tlsCAFile=$W/certs/ca.pem&directConnection=true"
  local cred=""
  [ "$MW_AUTH" = 1 ] && cred="bench:$MW_PASSWORD@"
  URI_direct="mongodb://127.0.0.1:$UP_PORT/?directConnection=true"
  URI_haproxy="mongodb://127.0.0.1:$HA_PORT/?$tls"
  URI_mongoward="mongodb://${cred}127.0.0.1:$MW_PORT/?$tls${cred:+&authSource=admin}"
  PID_direct=""
}

write_configs() {
  cat >"$W/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn $HA_MAXCONN
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend fe
  bind 127.0.0.1:$HA_PORT ssl crt $W/haproxy.pem
  default_backend be
backend be
  server up 127.0.0.1:$UP_PORT
CFG
  {
    printf '[server]\nlisten = ["127.0.0.1:%s"]\n' "$MW_PORT"
    # One thread, like HAProxy's nbthread 1 (MW_RUNTIME=multi: tokio's work-stealing
    # scheduler with one worker instead of the single-threaded one).
    [ "${MW_RUNTIME:-current}" = multi ] || printf 'worker_threads = 1\n'
    printf '[tls]\ncert_file = "%s"\nkey_file = "%s"\n' "$W/certs/server.pem" "$W/certs/server-key.pem"
    [ -z "$STORE" ] || printf '[control_plane]\nstore = "sqlite://%s"\n' "$W/state.db"
  } >"$W/mongoward.toml"
  {
    printf '[[clusters]]\nname = "default"\nuri = "mongodb://127.0.0.1:%s"\n' "$UP_PORT"
    access_list
    users_block
  } >"$W/policy.toml"
  if [ -z "$STORE" ]; then
    cat "$W/policy.toml" >>"$W/mongoward.toml"
  else
    # The store holds the policy; the configuration the proxy runs on has none.
    cat "$W/mongoward.toml" "$W/policy.toml" >"$W/import.toml"
    "$MW" admin init --config "$W/mongoward.toml" --org-name bench >/dev/null
    "$MW" admin import --config "$W/import.toml" --project bench >"$W/import.json"
    log "policy imported into the store: $(cat "$W/import.json")"
  fi
}

start_haproxy() {
  taskset -c "$SERVER_CPU" haproxy -db -f "$W/haproxy.cfg" >>"$W/haproxy.log" 2>&1 &
  HA_PID=$!; PIDS+=("$HA_PID"); wait_port "$HA_PORT"
  PID_haproxy="proxy=$HA_PID,"
}

start_mongoward() {
  # One worker thread, like HAProxy's nbthread 1; warn level, as HAProxy logs nothing here.
  TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c "$SERVER_CPU" "$MW" run --config "$W/mongoward.toml" \
    >>"$W/mongoward.log" 2>&1 &
  MW_PID=$!; PIDS+=("$MW_PID"); wait_port "$MW_PORT"
  PID_mongoward="proxy=$MW_PID,"
}

# A fresh proxy process, so an idle-memory measurement does not reuse memory freed earlier.
restart_proxy() {
  local pid
  case "$1" in haproxy) pid=$HA_PID ;; *) pid=$MW_PID ;; esac
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  case "$1" in haproxy) start_haproxy ;; *) start_mongoward ;; esac
}

# run_load VARIANT CLIENTS REP: one measured run, one JSON line appended to results.
run_load() {
  local v=$1 c=$2 rep=$3 uri pids out
  local uvar="URI_$v" pvar="PID_$v"
  uri=${!uvar}; pids="${!pvar}upstream=$UP_PID"
  if out=$(taskset -c "$CLIENT_CPU" "$LOADGEN" --uri "$uri" --clients "$c" --workload find \
      --warmup-secs "$WARMUP" --secs "$SECS" --pids "$pids" --label "$v/$c/$rep" 2>"$W/loadgen.err"); then
    echo "$out" >>"$W/results.jsonl"
  else
    log "run $v/$c/$rep failed: $(tail -1 "$W/loadgen.err")"; FAILED=1
  fi
}

run_conn_tests() {
  local v uri pids uvar pvar
  for v in haproxy mongoward; do
    uvar="URI_$v" pvar="PID_$v"
    uri=${!uvar}; pids="${!pvar}upstream=$UP_PID"
    for n in $IDLE_SETS; do
      restart_proxy "$v"
      pvar="PID_$v"; pids="${!pvar}upstream=$UP_PID"
      taskset -c "$CLIENT_CPU" "$LOADGEN" --mode idle --uri "$uri" --conns "$n" --rounds 2 \
        --pids "$pids" --label "$v/$n" >>"$W/results.jsonl" \
        2>"$W/loadgen.err" || { log "idle $v/$n failed: $(tail -1 "$W/loadgen.err")"; FAILED=1; }
    done
    restart_proxy "$v"
    pvar="PID_$v"; pids="${!pvar}upstream=$UP_PID"
    taskset -c "$CLIENT_CPU" "$LOADGEN" --mode setup --uri "$uri" --clients 4 --warmup-secs 1 \
      --secs "$SETUP_SECS" --pids "$pids" --label "$v" \
      >>"$W/results.jsonl" 2>"$W/loadgen.err" || { log "setup $v failed: $(tail -1 "$W/loadgen.err")"; FAILED=1; }
  done
}

main() {
  ensure_haproxy
  build
  start_servers
  log "workdir $W; upstream :$UP_PORT, haproxy :$HA_PORT, mongoward :$MW_PORT (auth=$MW_AUTH)"
  FAILED=0
  POLICY="the TOML"
  [ -z "$STORE" ] || POLICY="the store ($STORE)"
  LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  : >"$W/results.jsonl"
  local variants=(direct haproxy mongoward)
  for rep in $(seq 1 "$REPS"); do
    for c in $CLIENT_SETS; do
      # Rotate the order each repetition so drift does not favour one variant.
      for i in 0 1 2; do
        run_load "${variants[$(((i + rep) % 3))]}" "$c" "$rep"
      done
    done
    log "repetition $rep/$REPS done"
  done
  run_conn_tests
  python3 "$REPO/benches/support/compare_table.py" "$W/results.jsonl" \
    --auth "$MW_AUTH" --cpus "client=$CLIENT_CPU,servers=$SERVER_CPU" \
    --settings "mongoward policy from $POLICY; reps=$REPS warmup=${WARMUP}s secs=${SECS}s clients=[$CLIENT_SETS] idle=[$IDLE_SETS]; load average before ${LOAD_BEFORE}, after $(cut -d' ' -f1-3 /proc/loadavg)"
  [ -n "$KEEP" ] && log "raw results: $W/results.jsonl"
  return "$FAILED"
}

# benches/profile.sh sources this file for its helpers and runs its own main.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main; fi
