#!/usr/bin/env bash
# Soak test (issue 13 §6): mongoward holds many authenticated TLS connections for a long
# time with churn and traffic, in front of the in-repo fast upstream; reports the proxy's
# RSS drift, errors and descriptor counts as one JSON line (benches/soak.rs). Reported,
# never asserted. Loopback only.
#
#   benches/soak.sh [--conns N] [--secs S] [--churn PER_SEC] [--ops PER_SEC] [--keep DIR]
#   defaults: 10000 connections, 1800 s, 20 reconnects/s, 500 finds/s
#
# Each held connection costs the proxy two descriptors (client and upstream side): the
# open-file limit must exceed 2 x N plus a reserve, and the soak client needs N more.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CONNS=10000 SECS=1800 CHURN=20 OPS=500 KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --conns) CONNS=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --churn) CHURN=$2; shift ;;
    --ops) OPS=$2; shift ;;
    --keep) KEEP=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [ $((CONNS * 2 + 200)) -gt "$NOFILE" ]; then
  echo "soak: $CONNS connections need more than $((CONNS * 2 + 200)) descriptors; the limit is $NOFILE" >&2
  exit 2
fi
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}

W=${KEEP:-$(mktemp -d /tmp/mongoward-soak.XXXXXX)}
mkdir -p "$W"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$KEEP" ] || rm -rf "$W"
}
trap cleanup EXIT
log() { echo "[soak] $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listening on port $1"; exit 1
}
exe() { grep -o "\"executable\":\"[^\"]*$1[^\"]*\"" <<<"$2" | tail -1 | cut -d'"' -f4; }

log "building (release)"
json=$(cd "$REPO" && cargo build --release --bin mongoward --bench fast_upstream --bench loadgen \
  --bench soak --message-format=json --quiet)
MW="$REPO/target/release/mongoward"
UPSTREAM=$(exe fast_upstream "$json") LOADGEN=$(exe loadgen "$json") SOAK=$(exe soak "$json")

"$MW" dev-certs --out "$W/certs" >/dev/null
UP_PORT=$(free_port) MW_PORT=$(free_port)
PASSWORD="soak-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
"$UPSTREAM" --port "$UP_PORT" >"$W/upstream.log" 2>&1 &
PIDS+=("$!"); wait_port "$UP_PORT"
{
  printf '[server]\nlisten = ["127.0.0.1:%s"]\n' "$MW_PORT"
  printf '[tls]\ncert_file = "%s"\nkey_file = "%s"\n' "$W/certs/server.pem" "$W/certs/server-key.pem"
  printf '[[clusters]]\nname = "default"\nuri = "mongodb://127.0.0.1:%s"\n' "$UP_PORT"
  printf '[[access_list]]\ncidr = "127.0.0.1/32"\n'
  printf '[[users]]\nuser = "soak"\ndb = "admin"\nroles = ["readWrite@bench"]\n'
  "$LOADGEN" --mode creds --user soak --password "$PASSWORD"
} >"$W/mongoward.toml"
RUST_LOG=warn "$MW" run --config "$W/mongoward.toml" >>"$W/mongoward.log" 2>&1 &
MW_PID=$!; PIDS+=("$MW_PID"); wait_port "$MW_PORT"

URI="mongodb://soak:$PASSWORD@127.0.0.1:$MW_PORT/?tls=true&tlsCAFile=$W/certs/ca.pem&directConnection=true&authSource=admin"
log "workdir $W; $CONNS connections for ${SECS}s, churn $CHURN/s, $OPS finds/s; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$SOAK" --uri "$URI" --conns "$CONNS" --secs "$SECS" --churn "$CHURN" --ops "$OPS" --pid "$MW_PID"
log "proxy log warnings: $(grep -c WARN "$W/mongoward.log" || true); load $(cut -d' ' -f1-3 /proc/loadavg)"
