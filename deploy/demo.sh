#!/usr/bin/env bash
# kroll's main job, end to end on this machine.
#
# Today (foundation): two "nodes" on the local Docker engine, each with a kroll-agent on its
# own loopback address and mutual-TLS certificates from `kroll certs init`, containers named
# like the journal's stack, then `kroll status`, a graceful `kroll restart`, and `kroll status
# --output json`. The 5-node lab and the 7.1.1 → 7.7.1 rolling upgrade replace this as they land
# (issues #3 and #4).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
deploy/setup.sh
echo "== building kroll (release)" >&2
cargo build --release --locked --bins -p kroll-coordinator -p kroll-agent -p kroll-labbox
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
KROLL="$BIN/kroll"

RUN=$ROOT/lab-run/demo
rm -rf "$RUN" && mkdir -p "$RUN"
cd "$RUN"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  docker ps -aq --filter label=kroll.demo=1 | xargs -r docker rm -f -v >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== kroll lab images" >&2
"$KROLL" lab images
echo "== kroll certs init" >&2
"$KROLL" certs init --out certs --cluster demo --node rhodrylab-01=127.77.0.1 --node rhodrylab-02=127.77.0.2

start_box() { # name node [args...]
  local name=$1 node=$2; shift 2
  docker run -d --name "demo-$name" --hostname "$name" --label kroll.demo=1 --label "kroll.node=$node" \
    kroll-lab.local/labbox:dev "$@" >/dev/null
}
start_box zookeeper-01 rhodrylab-01
start_box kafka-01 rhodrylab-01 --stop-delay-ms 1500
start_box connect-01 rhodrylab-01
start_box kafka-02 rhodrylab-02 --stop-delay-ms 1500
start_box connect-02 rhodrylab-02 --exit-after-ms 500 --exit-code 1

port=$((20000 + RANDOM % 20000))
for n in 1 2; do
  cat > "agent-$n.toml" <<CONF
node = "rhodrylab-0$n"
listen = "127.77.0.$n:$port"
[tls]
ca = "certs/ca.pem"
cert = "certs/agent-rhodrylab-0$n.pem"
key = "certs/agent-rhodrylab-0$n-key.pem"
[allow]
labels = { "kroll.node" = "rhodrylab-0$n", "kroll.demo" = "1" }
[audit]
path = "audit-0$n.log"
CONF
  "$BIN/kroll-agent" --config "agent-$n.toml" 2>"agent-$n.log" &
  pids+=($!)
done
cat > kroll.toml <<INV
[cluster]
name = "demo"
[tls]
ca = "certs/ca.pem"
cert = "certs/coordinator.pem"
key = "certs/coordinator-key.pem"
[[nodes]]
name = "rhodrylab-01"
agent = "127.77.0.1:$port"
services = [
  { kind = "zookeeper", container = "demo-zookeeper-01", zookeeper_id = 1 },
  { kind = "broker", container = "demo-kafka-01", broker_id = 1 },
  { kind = "connect", container = "demo-connect-01" },
]
[[nodes]]
name = "rhodrylab-02"
agent = "127.77.0.2:$port"
services = [
  { kind = "broker", container = "demo-kafka-02", broker_id = 2 },
  { kind = "connect", container = "demo-connect-02" },
]
INV
for n in 1 2; do
  for _ in $(seq 50); do grep -q "Agent serving" "agent-$n.log" && break; sleep 0.1; done
done
sleep 1 # let connect-02 crash, as the journal's workers did

echo; echo "\$ kroll status" >&2
"$KROLL" status || echo "(exit $?: problems found, as expected — demo-connect-02 crashed)"
echo; echo "\$ kroll restart demo-kafka-02 --stop-timeout 30s" >&2
"$KROLL" restart demo-kafka-02 --stop-timeout 30s
echo; echo "\$ kroll status --output json | (first node's first container)" >&2
"$KROLL" status --output json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(json.dumps(s["rows"][0], indent=2)); print("problems:", s["problems"])' || true
echo; echo "audit log of rhodrylab-02:" >&2
cat audit-02.log
