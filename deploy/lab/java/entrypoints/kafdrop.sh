#!/bin/sh
# Entrypoint of the lab's kafdrop image (like obsidiandynamics/kafdrop): KAFKA_BROKERCONNECT,
# SERVER_PORT, SERVER_SERVLET_CONTEXTPATH, SCHEMAREGISTRY_CONNECT, JVM_OPTS.
LAB_HOME=/opt/lab
JAVA_HOME=/opt/java
set -eu
. "$LAB_HOME/bin/lib.sh"

conf="$(conf_dir)/kafdrop.properties"
{
    echo "kafka.brokerConnect=${KAFKA_BROKERCONNECT:-localhost:9092}"
    echo "server.port=${SERVER_PORT:-9000}"
    echo "server.servlet.context-path=${SERVER_SERVLET_CONTEXTPATH:-/}"
    echo "management.server.port=${MANAGEMENT_SERVER_PORT:-${SERVER_PORT:-9000}}"
    echo "schemaregistry.connect=${SCHEMAREGISTRY_CONNECT:-}"
} > "$conf"

echo "===> Launching kafdrop $(platform_version)"
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" ${JVM_OPTS:-} ${JAVA_OPTS:-} -Dkroll.lab.dir="$LAB_HOME" \
    -cp "$LAB_HOME/lib/lab-kafdrop.jar" kroll.lab.kafdrop.KafdropMain "$conf"
