#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ (frame codec, classifier, SCRAM server, PROXY
# protocol, reply inspection and filters) for a number of executions each.
#
#   scripts/fuzz.sh [--runs N] [--seconds S] [--smoke] [--sanitizer address|none] [TARGET...]
#
# --runs N      executions per target (default 1000000)
# --seconds S   stop each target after S seconds instead (libFuzzer -max_total_time)
# --smoke       a short pass for CI (scripts/test.sh): 2000 executions per target;
#               skipped with a message, not failed, when no nightly toolchain can be had
# --sanitizer   default none: the crate has no unsafe code, and without ASan the build
#               and each execution are several times faster; pass address for C deps
#
# Needs the nightly toolchain (installed with rustup when missing) and cargo-fuzz
# (installed with `cargo install cargo-fuzz --locked` when missing). Crashes are
# written to fuzz/artifacts/TARGET/ and make the script fail; the corpus grows in
# fuzz/corpus/TARGET/ (both ignored by git), starting from the committed seeds in
# fuzz/seeds/TARGET/ (valid frames, commands, SCRAM messages, PROXY headers, replies).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=1000000
seconds=""
smoke=0
sanitizer=none
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --smoke) smoke=1; runs=2000; shift ;;
    --sanitizer) sanitizer="$2"; shift 2 ;;
    -h|--help) sed -n 2,18p "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

unavailable() {
  echo "fuzz.sh: $1" >&2
  if [ "$smoke" = 1 ]; then
    echo "fuzz.sh: fuzz smoke SKIPPED (not a failure); run scripts/fuzz.sh where nightly is available" >&2
    exit 0
  fi
  exit 1
}

if ! cargo +nightly --version >/dev/null 2>&1; then
  if command -v rustup >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal ||
      unavailable "cannot install the nightly toolchain with rustup"
  else
    unavailable "no nightly toolchain, and no rustup to install one"
  fi
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked || unavailable "cannot install cargo-fuzz"
fi

if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi
limit=(-runs="$runs")
if [ -n "$seconds" ]; then
  limit=(-max_total_time="$seconds")
fi
cd fuzz
cargo +nightly fuzz build --sanitizer "$sanitizer"
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "fuzz.sh: $t: ${limit[*]}"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  cargo +nightly fuzz run --sanitizer "$sanitizer" "$t" "corpus/$t" "${seeds[@]}" -- \
    "${limit[@]}" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1
done
echo "fuzz.sh: ${#targets[@]} targets, no crash"
