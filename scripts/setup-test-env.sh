#!/usr/bin/env bash
# Installs what the test suite needs, idempotently:
#  - .venv: nx-27017 (the test upstream, a MongoDB wire-protocol server from PyPI),
#    pymongo with its compression extras;
#  - tests/clients/node_modules: the Node driver and mongosh (npm);
#  - haproxy (Debian), for the scale-out test and the benchmark baseline;
#  - postgresql (Debian), for the control-plane store tests.
# A real mongod can be used instead of nx-27017 by exporting MONGOD_URI.
set -euo pipefail
cd "$(dirname "$0")/.."

# HAProxy: the scale-out test (tests/ops_scaleout.rs) and the benchmark baseline.
if ! command -v haproxy >/dev/null 2>&1; then
  echo "==> haproxy (Debian package)"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null) \
      || echo "warning: haproxy could not be installed; the scale-out test will say it skipped"
  else
    echo "warning: not root; install haproxy to run the scale-out test"
  fi
fi

# PostgreSQL: the control-plane store tests start throwaway clusters (initdb, as the
# postgres user); they say they skipped when the binaries are absent.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  echo "==> postgresql (Debian package)"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      || echo "warning: postgresql could not be installed; the PostgreSQL store tests will say they skipped"
  else
    echo "warning: not root; install postgresql to run the PostgreSQL store tests"
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/nx-27017 ] || [ ! -f .venv/.mongoward-deps ] || ! cmp -s tests/clients/requirements.txt .venv/.mongoward-deps; then
  echo "==> python test dependencies (.venv)"
  "$PY" -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
  cp tests/clients/requirements.txt .venv/.mongoward-deps
fi

if [ ! -x tests/clients/node_modules/.bin/mongosh ] || [ tests/clients/package.json -nt tests/clients/node_modules/.installed ]; then
  echo "==> node test dependencies (tests/clients/node_modules)"
  (cd tests/clients && npm install --no-audit --no-fund --loglevel=error && touch node_modules/.installed)
fi
