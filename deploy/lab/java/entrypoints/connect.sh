#!/bin/sh
# Entrypoint of the lab's connect image (like cp-kafka-connect): CONNECT_* -> worker properties.
# The 7.1.x image stands for the user's in-house image, which also accepts the unprefixed names of
# the journal's stack (BOOTSTRAP_SERVERS, GROUP_ID, ..., ADVERTISED_HOST_NAME, HEAP_OPTS).
LAB_HOME=/opt/lab
JAVA_HOME=/opt/java
set -eu
. "$LAB_HOME/bin/lib.sh"

version="$(platform_version)"
case "$version" in
    7.1.*)
        # in-house image: unprefixed names fill in the CONNECT_* ones that are not set
        for n in BOOTSTRAP_SERVERS GROUP_ID CONFIG_STORAGE_TOPIC OFFSET_STORAGE_TOPIC STATUS_STORAGE_TOPIC \
                 CONFIG_STORAGE_REPLICATION_FACTOR OFFSET_STORAGE_REPLICATION_FACTOR STATUS_STORAGE_REPLICATION_FACTOR \
                 KEY_CONVERTER VALUE_CONVERTER OFFSET_FLUSH_INTERVAL_MS OFFSET_FLUSH_TIMEOUT_MS; do
            eval "lab_old=\${$n:-}; lab_new=\${CONNECT_$n:-}"
            if [ -n "$lab_old" ] && [ -z "$lab_new" ]; then export "CONNECT_$n=$lab_old"; fi
        done
        if [ -n "${ADVERTISED_HOST_NAME:-}" ] && [ -z "${CONNECT_REST_ADVERTISED_HOST_NAME:-}" ]; then
            export CONNECT_REST_ADVERTISED_HOST_NAME="$ADVERTISED_HOST_NAME"
        fi
        if [ -n "${ADVERTISED_PORT:-}" ] && [ -z "${CONNECT_REST_ADVERTISED_PORT:-}" ]; then
            export CONNECT_REST_ADVERTISED_PORT="$ADVERTISED_PORT"
        fi
        # the in-house image honours HEAP_OPTS (this is why the journal's 12G worked on 7.1)
        if [ -n "${HEAP_OPTS:-}" ]; then export KAFKA_HEAP_OPTS="$HEAP_OPTS"; fi
        ;;
esac

ensure CONNECT_BOOTSTRAP_SERVERS
ensure CONNECT_GROUP_ID
ensure CONNECT_CONFIG_STORAGE_TOPIC
ensure CONNECT_OFFSET_STORAGE_TOPIC
ensure CONNECT_STATUS_STORAGE_TOPIC
ensure CONNECT_KEY_CONVERTER
ensure CONNECT_VALUE_CONVERTER
ensure CONNECT_REST_ADVERTISED_HOST_NAME

conf="$(conf_dir)/connect-distributed.properties"
env_to_props CONNECT_ '^CONNECT_LOG4J_' > "$conf"

heap="${KAFKA_HEAP_OPTS:--Xms256M -Xmx2G}"
perf="${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
echo "===> Launching kafka-connect $version"
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" $heap $perf ${KAFKA_OPTS:-} -Dkroll.lab.dir="$LAB_HOME" \
    -cp "$LAB_HOME/lib/lab-connect.jar" kroll.lab.connect.ConnectMain "$conf"
