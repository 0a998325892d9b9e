#!/usr/bin/env bash
# Builds kroll's Debian packages from release binaries:
#   <target>/debian/kroll_<version>-1_amd64.deb        kroll (coordinator and CLI)
#   <target>/debian/kroll-agent_<version>-1_amd64.deb  kroll-agent, with its systemd unit
# each with its man pages and bash / zsh / fish completions, generated from the binaries' clap
# definitions by kroll-cli-docs (deploy/package/cli-docs).
#
# Built on Debian 12 (glibc 2.36), the binaries need glibc >= 2.36 and nothing else that an
# x86_64 Debian 12, Ubuntu 24.04 or newer lacks (the packages' Depends are computed from what the
# binaries link, by dpkg-shlibdeps' rules in cargo-deb).
#
#   deploy/package/build.sh                 # release build, then both packages
#   PROFILE=dev deploy/package/build.sh     # from the debug binaries already built (tests)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v cargo-deb >/dev/null || {
  echo "build.sh: cargo-deb is not installed; run deploy/setup.sh" >&2
  exit 1
}
PROFILE=${PROFILE:-release}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
case $PROFILE in
  release) DIR=$TARGET/release ;;
  dev) DIR=$TARGET/debug ;;
  *) echo "build.sh: PROFILE is release or dev, not \`$PROFILE\`" >&2; exit 2 ;;
esac
if [ "$PROFILE" = release ]; then
  # Only the shipped packages and the generator: never --workspace or kroll-tests (whose
  # dependency would turn the coordinator's test switches on).
  cargo build --release --locked --bins -p kroll-coordinator -p kroll-agent -p kroll-cli-docs
fi
"$DIR/kroll-cli-docs" "$DIR/cli-docs" >/dev/null
# Man pages compressed as Debian policy asks (cargo-deb leaves files from the target dir as they are).
find "$DIR/cli-docs" -name '*.1' -exec gzip -9nf {} +
for p in kroll-coordinator kroll-agent; do
  cargo deb --no-build --profile "$PROFILE" -p "$p" ${OUT:+--output "$OUT"}
done
