#!/usr/bin/env bash
# kroll's main job, end to end on this machine, in the user's world: a 5-node Docker Swarm (five
# real engines, the journal's stack file with untagged images, a registry) running a Confluent
# 7.1.1 stand-in built from this machine's files — nothing is pulled —; its health, the plan and
# the whole rolling upgrade 7.1.1 → 7.7.1 through the Swarm manager (two IBP rolls, a health gate
# between every restart, journal and report, the stack file rewritten to say what runs), its
# health again; then the lab is removed.
#
#   deploy/demo.sh              # the Swarm lab, everything, then `lab down`
#   CONTAINERS=1 deploy/demo.sh # the same upgrade on plain containers (no Swarm)
#   KEEP_LAB=1 deploy/demo.sh   # keep the upgraded lab to look around (kroll-lab down --name demo)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# What the build needs first; the lab's Debian packages install while it compiles (the tests'
# browser, Prometheus and packaging tools are not needed here: deploy/test.sh installs them).
deploy/setup.sh --build
deploy/setup.sh --demo &
setup_pid=$!
trap 'kill "$setup_pid" 2>/dev/null || true' EXIT
echo "== building kroll and the lab (release)" >&2
# The shipped `kroll` and `kroll-agent`; the lab (`kroll-lab`, its labbox and broker) apart.
cargo build --release --locked --bins -p kroll-coordinator -p kroll-agent -p kroll-lab -p kroll-labbox -p kroll-lab-broker
if ! wait "$setup_pid"; then
  echo "demo: deploy/setup.sh --demo failed (its messages are above)" >&2
  exit 1
fi
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
kroll() { echo "\$ kroll $*" >&2; "$BIN/kroll" "$@"; }
kroll_lab() { echo "\$ kroll-lab $*" >&2; "$BIN/kroll-lab" "$@"; }

LAB=demo
DIR=$ROOT/lab-run/$LAB
"$BIN/kroll-lab" down --name "$LAB" --dir "$DIR" >/dev/null 2>&1 || true
cleanup() {
  if [ -z "${KEEP_LAB:-}" ]; then
    "$BIN/kroll-lab" down --name "$LAB" --dir "$DIR" >&2 || true
  else
    echo "The lab is kept: kroll --inventory $DIR/kroll.toml status; remove it with: $BIN/kroll-lab down --name $LAB" >&2
  fi
}
trap cleanup EXIT

if [ -n "${CONTAINERS:-}" ]; then
  kroll_lab up --name "$LAB" --dir "$DIR" --version 7.1.1
  # The registry the lab stands in for holds the upgrade target: build its images too.
  kroll_lab images --version 7.7.1
else
  kroll_lab up --swarm --name "$LAB" --dir "$DIR" --version 7.1.1
  # The journal's CI: the new images pushed to the lab's registry under the untagged names the
  # stack deploys (`--release` moves `latest`); kroll reads their version from their labels.
  kroll_lab images --version 7.7.1 --lab "$LAB" --dir "$DIR" --release
fi
export KROLL_INVENTORY=$DIR/kroll.toml
echo >&2
kroll status
echo >&2
kroll plan --to 7.7.1
echo >&2
FAST=(--broker-stop-timeout 60s --stop-timeout 30s --gate-timeout 120s)
# The lab's connectors are the journal's: their Debezium 3.0 value schemas are incompatible with
# what 1.9 registered, so the run halts before resuming Connect (exit 1), connectors still
# stopped and backed up, and says why; the operator accepts it and resumes the same run.
set +e
kroll upgrade --to 7.7.1 --yes --runs "$DIR/runs" "${FAST[@]}"
rc=$?
set -e
if [ "$rc" -ne 1 ]; then
  echo "demo: expected the upgrade to halt before resuming Connect (exit 1), got exit $rc" >&2
  exit 1
fi
echo >&2
kroll upgrade --resume --yes --runs "$DIR/runs" --allow-incompatible-values "${FAST[@]}"
echo >&2
kroll status
