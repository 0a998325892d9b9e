#!/usr/bin/env bash
# kroll's test command: installs what is missing, builds every binary, runs every test
# (unit, real Docker, real JVMs, the lab), and removes anything a test left behind.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/setup.sh

sweep() {
  # Containers and volumes created by kroll's tests carry the label kroll.test.run.
  docker ps -aq --filter label=kroll.test.run | xargs -r docker rm -f -v >/dev/null 2>&1 || true
  docker volume ls -q --filter label=kroll.test.run | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  docker network ls -q --filter label=kroll.test.run | xargs -r docker network rm >/dev/null 2>&1 || true
}
trap sweep EXIT

# A test's result line gets the time it was printed, at its end (`test x ... ok  [12:03:04]`: with
# one thread, the time between two of them is one test), and each stage says how long the one
# before it took — so a CI log shows where the suite's minutes go.
stamp() {
  while IFS= read -r line; do
    case $line in
      "test "*) printf '%s  [%(%H:%M:%S)T]\n' "$line" -1 ;;
      *) printf '%s\n' "$line" ;;
    esac
  done
}
# Counted from the script's start, so the first stage reported is the setup.
stage_began=0
stage() {
  echo "== $* (the stage before took $((SECONDS - stage_began)) s)" >&2
  stage_began=$SECONDS
}

stage "setup done; cargo build (all binaries)"
cargo build --workspace --bins --locked
# The lab upgrades (each a full lab, its JVMs, a whole rolling upgrade and, for the no-loss
# tests, independent clients at full speed) run one at a time after everything else: two at once
# on a 2-core machine starve each other's gates and clients into timeouts that say nothing about
# kroll.
# Filters name the integration tests' modules exactly (`--skip` matches substrings in every
# test binary of the workspace; none of these matches a unit test).
HEAVY=(upgrade::killed:: upgrade::swarm:: upgrade::production:: upgrade::failures:: upgrade::bumped:: lab::noloss:: lab::upgrade_connect:: lab::swarm::a_swarm_lab prom::rules:: prom::alertmanager::)
skip=()
for t in "${HEAVY[@]}"; do skip+=(--skip "$t"); done
stage "cargo test"
cargo test --workspace --locked -- --test-threads="${KROLL_TEST_THREADS:-2}" "${skip[@]}" 2>&1 | stamp
stage "cargo test: the lab upgrades, one at a time"
# `--workspace --test tests` (not `-p kroll-tests`) keeps the first pass's feature resolution, so
# nothing is compiled again; the other crates' `tests` targets match none of these filters.
cargo test --workspace --test tests --locked -- --test-threads=1 "${HEAVY[@]}" 2>&1 | stamp
stage "lab JVM services (Java harness against real lab brokers and ZooKeeper)"
deploy/lab/java/test.sh
stage "done"
