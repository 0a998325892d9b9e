#!/bin/sh
# Entrypoint of the lab's rest image (like cp-kafka-rest): KAFKA_REST_* -> properties.
LAB_HOME=/opt/lab
JAVA_HOME=/opt/java
set -eu
. "$LAB_HOME/bin/lib.sh"

ensure KAFKA_REST_BOOTSTRAP_SERVERS

conf="$(conf_dir)/kafka-rest.properties"
env_to_props KAFKA_REST_ '^KAFKA_REST_(LOG4J_.*)$' > "$conf"

heap="${KAFKAREST_HEAP_OPTS:--Xmx256M}"
echo "===> Launching kafka-rest $(platform_version)"
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" $heap ${KAFKAREST_OPTS:-} -Dkroll.lab.dir="$LAB_HOME" \
    -cp "$LAB_HOME/lib/lab-rest.jar" kroll.lab.rest.RestProxyMain "$conf"
