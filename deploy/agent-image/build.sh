#!/usr/bin/env bash
# Builds kroll-agent's container image on this machine, pulling nothing: FROM scratch with the
# kroll-agent binary (stripped) and the shared libraries `ldd` says it loads (glibc of the build
# host), so it runs on any x86_64 Docker engine.
#
#   deploy/agent-image/build.sh                          # release build → kroll-agent:<version>
#   deploy/agent-image/build.sh BINARY TAG [docker build options…]
#
# Run it (host pid namespace to read JVM heaps; the capabilities of deploy/kroll-agent.service):
#   docker run -d --name kroll-agent --restart unless-stopped --pid host --network host \
#     --cap-drop ALL --cap-add SYS_PTRACE --cap-add DAC_READ_SEARCH \
#     -v /var/run/docker.sock:/var/run/docker.sock -v /etc/kroll:/etc/kroll:ro \
#     -v kroll-agent-state:/var/lib/kroll kroll-agent:<version>
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-}
TAG=${2:-}
[ $# -ge 2 ] && shift 2 || shift $#
if [ -z "$BIN" ]; then
  (cd "$ROOT" && cargo build --release --locked --bins -p kroll-agent)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/kroll-agent
fi
[ -x "$BIN" ] || { echo "build.sh: $BIN is not an executable" >&2; exit 2; }
VERSION=$("$BIN" --version | awk '{print $2}')
TAG=${TAG:-kroll-agent:$VERSION}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/bin" "$root/etc/kroll" "$root/var/lib/kroll" "$root/tmp"
chmod 1777 "$root/tmp"
strip -o "$root/usr/bin/kroll-agent" "$BIN"
# `ldd` lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and the loader's own path.
for lib in $(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp "$ROOT/deploy/agent-image/Dockerfile" "$ctx/"
docker build -q -t "$TAG" --label "org.opencontainers.image.version=$VERSION" "$@" "$ctx" >/dev/null
echo "$TAG"
