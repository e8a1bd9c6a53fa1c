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
cp_pid=""
cleanup() {
  [ -n "$upstream_pid" ] && kill "$upstream_pid" 2>/dev/null || true
  [ -n "$cp_pid" ] && kill "$cp_pid" 2>/dev/null || true
}
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

# The control plane: a second instance in store mode (SQLite), its admin API on 8443.
cp_dir="$PWD/target/quickstart-cp"
mkdir -p "$cp_dir"
cat > "$cp_dir/mongoward.toml" <<TOML
[server]
listen = ["127.0.0.1:27020"]
[tls]
cert_file = "$PWD/certs/server.pem"
key_file = "$PWD/certs/server-key.pem"
[control_plane]
store = "sqlite://$cp_dir/state.db"
listen = ["127.0.0.1:8443"]
TOML
if [ ! -s "$cp_dir/owner.json" ]; then
  rm -f "$cp_dir"/state.db*
  "$bin" admin init --config "$cp_dir/mongoward.toml" --org-name quickstart > "$cp_dir/owner.json"
fi
"$bin" run --config "$cp_dir/mongoward.toml" > target/quickstart-cp.log 2>&1 &
cp_pid=$!
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$cp_dir/owner.json" "$1"; }
org_id=$(field orgId); client_id=$(field clientId); client_secret=$(field clientSecret)

cat <<MSG

The control plane (admin API, Atlas-shaped) is starting on https://localhost:8443, its
store in $cp_dir/state.db. The organization's first owner (shown once; keep it safe):

  orgId        $org_id
  clientId     $client_id
  clientSecret $client_secret

Create a project, a cluster in front of 127.0.0.1:27017, an access-list entry and a
database user through the API, then connect as that user (paste into a shell):

  export CID='$client_id' CSECRET='$client_secret' ORG='$org_id'
MSG
cat <<'MSG'
  API=https://localhost:8443/api/atlas/v2; A="--cacert certs/ca.pem -H Content-Type:application/json"
  TOKEN=$(curl -s --cacert certs/ca.pem -u "$CID:$CSECRET" -d grant_type=client_credentials \
    https://localhost:8443/api/oauth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  G=$(curl -s $A -H "Authorization: Bearer $TOKEN" -d "{\"name\":\"demo\",\"orgId\":\"$ORG\"}" \
    $API/groups | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  curl -s $A -H "Authorization: Bearer $TOKEN" $API/groups/$G/clusters \
    -d '{"name":"demo","upstream":{"uri":"mongodb://127.0.0.1:27017"},"listen":["127.0.0.1:27019"]}'
  curl -s $A -H "Authorization: Bearer $TOKEN" $API/groups/$G/accessList -d '[{"ipAddress":"127.0.0.1"}]'
  curl -s $A -H "Authorization: Bearer $TOKEN" $API/groups/$G/databaseUsers \
    -d '{"username":"demo","databaseName":"admin","password":"demo-Passw0rd","roles":[{"roleName":"readWriteAnyDatabase","databaseName":"admin"}]}'
  mongosh "mongodb://demo:demo-Passw0rd@127.0.0.1:27019/?authSource=admin&tls=true&tlsCAFile=certs/ca.pem"

MSG

cat <<MSG

mongoward is starting on 127.0.0.1:27018 (TLS). Connect as the example application user:

  mongosh "mongodb://prod_app_user:app-example-Pw1@127.0.0.1:27018/ecommerce?authSource=admin&tls=true&tlsCAFile=certs/ca.pem"

Press Ctrl-C to stop.
MSG
"$bin" run --config config.example.toml
