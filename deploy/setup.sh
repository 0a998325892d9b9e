#!/usr/bin/env bash
# Installs what kroll's build, tests and lab need on a Debian machine, idempotently.
# Safe to run again: it installs only what is missing.
#
#   deploy/setup.sh           # everything: the build, the lab, the tests and the packages
#   deploy/setup.sh --build   # only what `cargo build` needs
#   deploy/setup.sh --demo    # the build and the lab (deploy/demo.sh): no browser, Prometheus,
#                             # packaging tools, cargo-deb or Python clients
set -euo pipefail
mode=${1:-}
case $mode in
  "" | --build | --demo) ;;
  *)
    echo "setup: unknown option \`$mode\` (deploy/setup.sh [--build | --demo])" >&2
    exit 2
    ;;
esac

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
install_missing() {
  ((${#need[@]})) || return 0
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  local sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  need=()
}

# What the build itself needs: librdkafka's TLS and SCRAM link the system's OpenSSL, found
# through pkg-config. `setup.sh --build` installs only these (CI builds while the rest installs).
for pkg in libssl-dev pkg-config; do
  have "$pkg" || need+=("$pkg")
done
install_missing
[ "$mode" != "--build" ] || exit 0

# The lab: zookeeper, the real ZooKeeper it runs; busybox-static, the shell in its images;
# openjdk-17-jdk-headless, javac/jlink/jstat for its JVM services (and the heap tests);
# docker-registry, fuse-overlayfs, iproute2: the Swarm lab (`kroll-lab up --swarm`) — its
# registry, its engines' storage driver, its network namespaces; the docker.io client.
lab=(zookeeper busybox-static openjdk-17-jdk-headless docker-registry fuse-overlayfs iproute2)
# The tests: kcat, an independent Kafka client. time: GNU time, the benchmarks' peak-memory
# oracle. python3 + python3-venv: the virtualenv of independent Kafka clients (confluent-kafka,
# kafka-python) the no-loss test drives. chromium + chromium-driver: the real browser (over
# WebDriver) that opens report.html and `kroll ui`. prometheus (with promtool) and
# prometheus-alertmanager: deploy/prometheus/'s rule checks and the tests that run both. The
# packages (deploy/package/build.sh) and their tests: dpkg-dev (dpkg-shlibdeps, which cargo-deb
# runs for Depends), binutils (strip, objdump), systemd (systemd-analyze verify of the agent's
# unit), zsh and fish (their completion scripts parsed), groff-base (man pages).
tests=(kcat time python3 python3-venv chromium chromium-driver prometheus prometheus-alertmanager dpkg-dev binutils systemd zsh fish groff-base)
[ "$mode" = "--demo" ] || lab+=("${tests[@]}")
for pkg in "${lab[@]}"; do
  have "$pkg" || need+=("$pkg")
done
command -v docker >/dev/null || need+=(docker.io)
install_missing
if ! docker info >/dev/null 2>&1; then
  echo "setup: the Docker engine is not reachable; start it (systemctl start docker) and retry" >&2
  exit 1
fi
[ "$mode" != "--demo" ] || exit 0

# cargo-deb builds the .deb packages (deploy/package/build.sh); pinned, built with this toolchain.
CARGO_DEB_VERSION=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "setup: installing cargo-deb $CARGO_DEB_VERSION" >&2
  cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi

# Independent Kafka clients (Python virtualenv) for the lab no-loss test.
"$(dirname "$0")/clients-venv.sh" >/dev/null
