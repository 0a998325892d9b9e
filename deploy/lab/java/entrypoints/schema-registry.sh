#!/bin/sh
# Entrypoint of the lab's schema-registry image (like cp-schema-registry): SCHEMA_REGISTRY_* -> properties.
LAB_HOME=/opt/lab
JAVA_HOME=/opt/java
set -eu
. "$LAB_HOME/bin/lib.sh"

ensure SCHEMA_REGISTRY_HOST_NAME
ensure SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS

conf="$(conf_dir)/schema-registry.properties"
env_to_props SCHEMA_REGISTRY_ '^SCHEMA_REGISTRY_(HEAP_OPTS|JVM_PERFORMANCE_OPTS|OPTS|LOG4J_.*)$' > "$conf"

heap="${SCHEMA_REGISTRY_HEAP_OPTS:--Xmx512M}"
perf="${SCHEMA_REGISTRY_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}"
echo "===> Launching schema-registry $(platform_version)"
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" $heap $perf ${SCHEMA_REGISTRY_OPTS:-} -Dkroll.lab.dir="$LAB_HOME" \
    -cp "$LAB_HOME/lib/lab-schema-registry.jar" kroll.lab.sr.SchemaRegistryMain "$conf"
