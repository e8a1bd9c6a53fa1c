#!/usr/bin/env bash
# README command 1: run mongoward on its embedded default setup.
#  - builds the proxy, makes development certificates (certs/, not for production),
#  - starts a local test upstream (nx-27017, a MongoDB wire-protocol server from PyPI) on
#    127.0.0.1:27017 unless something already listens there (a real mongod, say),
#  - runs `mongoward run` on config.example.toml, unmodified (it holds no date that can
#    pass), and prints the connection string.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
bin=target/release/mongoward
[ -f certs/server.pem ] || "$bin" dev-certs --out certs

upstream_pid=""
cleanup() { [ -n "$upstream_pid" ] && kill "$upstream_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
if ! (exec 3<>/dev/tcp/127.0.0.1/27017) 2>/dev/null; then
  if [ ! -x .venv/bin/nx-27017 ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check nx-27017==0.8.1
  fi
  echo "==> starting the test upstream (nx-27017, in memory) on 127.0.0.1:27017"
  .venv/bin/nx-27017 --data-dir memory --host 127.0.0.1 --port 27017 \
    --log-file target/nx-27017.log --pid-file target/nx-27017.pid >/dev/null 2>&1 &
  upstream_pid=$!
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/27017) 2>/dev/null && break; sleep 0.1; done
fi

cat <<MSG

mongoward is starting on 127.0.0.1:27018 (TLS). Connect as the example application user:

  mongosh "mongodb://prod_app_user:app-example-Pw1@127.0.0.1:27018/ecommerce?authSource=admin&tls=true&tlsCAFile=certs/ca.pem"

Press Ctrl-C to stop.
MSG
"$bin" run --config config.example.toml
