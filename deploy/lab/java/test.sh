#!/bin/sh
# Builds the lab JVM services and runs their tests: test.sh [Suite[.method] ...]
# Exits non-zero on failure; the last line is "N passed, N failed, N skipped".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
[ -x "$JAVA_HOME/bin/javac" ] || JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
work=$(mktemp -d "${TMPDIR:-/tmp}/kroll-labjava-build.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
JAVA_HOME=$JAVA_HOME "$here/build.sh" "$work/out" >/dev/null
mkdir -p "$work/test-classes"
find "$here/test" -name '*.java' > "$work/test-sources.txt"
"$JAVA_HOME/bin/javac" --release 17 -encoding UTF-8 -nowarn -cp "$work/out/classes" -d "$work/test-classes" @"$work/test-sources.txt"
# shellcheck disable=SC2086
"$JAVA_HOME/bin/java" -Xmx256m -cp "$work/out/classes:$work/test-classes" \
    -Dlab.jars="$work/out" -Dlab.entrypoints="$here/entrypoints" \
    -Dlab.broker.bin="${LAB_BROKER_BIN:-${CARGO_TARGET_DIR:-$here/../../../target}/debug/kroll-lab-broker}" \
    ${LAB_TEST_JAVA_OPTS:-} \
    kroll.lab.test.TestMain "$@"
