#!/usr/bin/env bash
# Installs what the test suite needs, idempotently:
#  - .venv: nx-27017 (the test upstream, a MongoDB wire-protocol server from PyPI),
#    pymongo with its compression extras;
#  - tests/clients/node_modules: the Node driver and mongosh (npm);
#  - .venv-pymongo3: pymongo 3.13, an older driver line (tests/legacy_drivers.rs);
#  - haproxy (Debian), for the scale-out test and the benchmark baseline;
#  - libmongodb-java (Debian: the Java driver 3.6) and a JDK when javac is missing, for
#    tests/legacy_drivers.rs.
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

# The Java driver 3.x (and a JDK to compile the test program against it).
if [ ! -f /usr/share/java/mongo-java-driver.jar ] || ! command -v javac >/dev/null 2>&1; then
  echo "==> libmongodb-java and a JDK (Debian packages)"
  pkgs=libmongodb-java
  command -v javac >/dev/null 2>&1 || pkgs="$pkgs default-jdk-headless"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null) \
      || echo "warning: $pkgs could not be installed; the Java driver test will fail or skip"
  else
    echo "warning: not root; install $pkgs to run the Java driver test"
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

# pymongo 3.13 in a venv of its own (it cannot share one with pymongo 4).
if [ ! -x .venv-pymongo3/bin/python ] || [ ! -f .venv-pymongo3/.mongoward-deps ] || ! cmp -s tests/clients/requirements-pymongo3.txt .venv-pymongo3/.mongoward-deps; then
  echo "==> pymongo 3.13 (.venv-pymongo3)"
  "$PY" -m venv .venv-pymongo3
  .venv-pymongo3/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements-pymongo3.txt
  cp tests/clients/requirements-pymongo3.txt .venv-pymongo3/.mongoward-deps
fi
