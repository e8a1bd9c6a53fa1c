#!/usr/bin/env bash
# The whole test suite: unit, property and integration tests (real drivers over TLS
# against a real wire-protocol upstream). Installs its own test dependencies first.
set -euo pipefail
cd "$(dirname "$0")/.."
# Cheap gates first: formatting and lints fail in seconds, before the slow parts.
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
bash scripts/setup-test-env.sh
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
# Benches must keep compiling; they are run by benches/compare.sh, never timed in tests.
cargo build --release --benches --quiet
# Smoke pass of the HAProxy/direct/mongoward comparison (numbers are never asserted).
if [ -z "${MONGOWARD_SKIP_BENCH_SMOKE:-}" ]; then
  bash benches/compare.sh --quick
fi
# Library, binary and integration tests (bench targets are built above, not run here).
cargo nextest run --no-fail-fast "$@"
# A short smoke of every fuzz target (scripts/fuzz.sh; needs nightly, else skipped).
if [ -z "${MONGOWARD_SKIP_FUZZ_SMOKE:-}" ]; then
  bash scripts/fuzz.sh --smoke
fi
