#!/usr/bin/env bash
# Control-plane benchmark (issue 12, "Performance"): admin API latency at 50 concurrent HTTPS
# clients, change -> enforcement latency, and the same at 10,000 users + 10,000 access-list
# entries. Real release processes on loopback; JSON lines on stdout; never asserts numbers.
#
#   benches/control.sh [--sqlite] [--postgres] [--scale] [--quick]
#                      [--secs S] [--samples N] [--clients C] [--keep DIR]
#   (no part named: all three)
#   --sqlite:   API operations, then change -> enforcement on one instance, on SQLite.
#   --postgres: API operations, then change -> enforcement with two instances sharing a
#               throwaway PostgreSQL (measured on the instance that did not take the call).
#   --scale:    10,000 users + 10,000 entries loaded through the store (SQLite), then
#               change -> enforcement and the instance's memory.
#   --quick:    2 s windows, 5 samples, 1,000 + 1,000 records (a smoke run).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PARTS="" SECS=10 WARMUP=2 SAMPLES=100 CLIENTS=50 BULK=10000 KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sqlite) PARTS="$PARTS sqlite" ;;
    --postgres) PARTS="$PARTS postgres" ;;
    --scale) PARTS="$PARTS scale" ;;
    --quick) SECS=2; WARMUP=1; SAMPLES=5; BULK=1000 ;;
    --secs) SECS=$2; shift ;;
    --samples) SAMPLES=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --keep) KEEP=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
PARTS=${PARTS:-sqlite postgres scale}
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log() { echo "[control] $*" >&2; }

log "building (release)"
json=$(cd "$REPO" && cargo build --release --bin mongoward --bench fast_upstream --bench control \
  --message-format=json --quiet)
MW="$REPO/target/release/mongoward"
exe() { grep -o "\"executable\":\"[^\"]*$1[^\"]*\"" <<<"$json" | tail -1 | cut -d'"' -f4; }
UPSTREAM=$(exe fast_upstream) BENCH=$(exe 'control-')
[ -x "$MW" ] && [ -x "$UPSTREAM" ] && [ -x "$BENCH" ] || { log "executables not found"; exit 1; }

# bench NAME ARGS...: one run of the benchmark binary (NAME: its --keep subdirectory).
bench() {
  local keep=()
  [ -z "$KEEP" ] || keep=(--keep "$KEEP/$1")
  shift
  "$BENCH" --mw "$MW" --upstream "$UPSTREAM" "${keep[@]}" "$@"
}
common=(--clients "$CLIENTS" --warmup-secs "$WARMUP" --secs "$SECS" --samples "$SAMPLES")
FAILED=0
for part in $PARTS; do
  log "$part (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  case "$part" in
    sqlite)
      bench sqlite-api --mode api "${common[@]}" || FAILED=1
      bench sqlite-enforce --mode enforce "${common[@]}" || FAILED=1 ;;
    postgres)
      bench pg-api --mode api --postgres "${common[@]}" || FAILED=1
      bench pg-enforce --mode enforce --postgres --instances 2 "${common[@]}" || FAILED=1 ;;
    scale)
      bench scale --mode enforce "${common[@]}" --bulk-users "$BULK" --bulk-entries "$BULK" \
        || FAILED=1 ;;
  esac
done
exit "$FAILED"
