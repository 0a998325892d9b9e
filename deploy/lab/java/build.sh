#!/bin/sh
# Builds the lab's JVM services: build.sh <outdir>
# Produces <outdir>/lab-connect.jar, lab-schema-registry.jar, lab-rest.jar, lab-kafdrop.jar
# (each = the shared packages + its own), compiled with plain javac for Java 17. No dependencies.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh <outdir>}
mkdir -p "$out"
out=$(cd "$out" && pwd)
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
[ -x "$JAVA_HOME/bin/javac" ] || JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
classes="$out/classes"
rm -rf "$classes"
mkdir -p "$classes"
find "$here/src" -name '*.java' > "$out/sources.txt"
"$JAVA_HOME/bin/javac" --release 17 -encoding UTF-8 -Xlint:unchecked -nowarn -d "$classes" @"$out/sources.txt"
rm -f "$out/sources.txt"

# jar <name> <main class> <own package dirs...>
mkjar() {
    name=$1; main=$2; shift 2
    dirs="kroll/lab/common kroll/lab/avro kroll/lab/kafka"
    for d in "$@"; do dirs="$dirs kroll/lab/$d"; done
    # shellcheck disable=SC2086
    (cd "$classes" && "$JAVA_HOME/bin/jar" --create --file "$out/$name" --main-class "$main" $dirs)
}
mkjar lab-schema-registry.jar kroll.lab.sr.SchemaRegistryMain sr
mkjar lab-connect.jar kroll.lab.connect.ConnectMain connect
mkjar lab-rest.jar kroll.lab.rest.RestProxyMain rest
mkjar lab-kafdrop.jar kroll.lab.kafdrop.KafdropMain kafdrop
echo "built $(ls "$out"/*.jar | wc -l) jars in $out"
