#!/bin/sh
# Entrypoint of the lab's zookeeper image: the real ZooKeeper 3.8 (Debian's jars) configured
# through the environment the way the official `zookeeper` image is (ZOO_MY_ID, ZOO_SERVERS,
# ZOO_TICK_TIME, ...). Writes $ZOO_CONF_DIR/zoo.cfg and $ZOO_DATA_DIR/myid when they do not
# exist yet, then execs the JVM (so it is the container's main process).
set -eu
LAB_HOME=/opt/lab
JAVA_HOME=/opt/java
ZK_HOME=/opt/zookeeper

: "${ZOO_CONF_DIR:=/conf}" "${ZOO_DATA_DIR:=/data}" "${ZOO_DATA_LOG_DIR:=/datalog}"
: "${ZOO_LOG_DIR:=/logs}" "${ZOO_PORT:=2181}" "${ZOO_TICK_TIME:=2000}" "${ZOO_INIT_LIMIT:=5}"
: "${ZOO_SYNC_LIMIT:=2}" "${ZOO_MAX_CLIENT_CNXNS:=60}" "${ZOO_STANDALONE_ENABLED:=true}"
: "${ZOO_ADMINSERVER_ENABLED:=false}" "${ZOO_AUTOPURGE_PURGEINTERVAL:=0}"
: "${ZOO_AUTOPURGE_SNAPRETAINCOUNT:=3}" "${ZOO_4LW_COMMANDS_WHITELIST:=srvr,ruok,mntr}"
: "${ZOO_MY_ID:=1}" "${ZK_SERVER_HEAP:=1000}"

case "$ZOO_MY_ID" in
    ''|*[!0-9]*) echo "ZOO_MY_ID must be a number, got '$ZOO_MY_ID'" >&2; exit 1 ;;
esac

cfg="$ZOO_CONF_DIR/zoo.cfg"
if [ ! -f "$cfg" ]; then
    mkdir -p "$ZOO_CONF_DIR"
    {
        echo "dataDir=$ZOO_DATA_DIR"
        echo "dataLogDir=$ZOO_DATA_LOG_DIR"
        echo "tickTime=$ZOO_TICK_TIME"
        echo "initLimit=$ZOO_INIT_LIMIT"
        echo "syncLimit=$ZOO_SYNC_LIMIT"
        echo "autopurge.snapRetainCount=$ZOO_AUTOPURGE_SNAPRETAINCOUNT"
        echo "autopurge.purgeInterval=$ZOO_AUTOPURGE_PURGEINTERVAL"
        echo "maxClientCnxns=$ZOO_MAX_CLIENT_CNXNS"
        echo "standaloneEnabled=$ZOO_STANDALONE_ENABLED"
        echo "admin.enableServer=$ZOO_ADMINSERVER_ENABLED"
        echo "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST"
        if [ -z "${ZOO_SERVERS:-}" ]; then
            echo "clientPort=$ZOO_PORT"
            echo "server.$ZOO_MY_ID=localhost:2888:3888;$ZOO_PORT"
        else
            for server in $ZOO_SERVERS; do echo "$server"; done
        fi
        for extra in ${ZOO_CFG_EXTRA:-}; do echo "$extra"; done
    } > "$cfg"
fi
mkdir -p "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"
[ -f "$ZOO_DATA_DIR/myid" ] || echo "$ZOO_MY_ID" > "$ZOO_DATA_DIR/myid"

echo "===> Launching zookeeper $(cat "$LAB_HOME/VERSION") (ZooKeeper $(cat "$ZK_HOME/ZOOKEEPER_VERSION"), id $ZOO_MY_ID)"
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" "-Xmx${ZK_SERVER_HEAP}m" ${SERVER_JVMFLAGS:-} ${JVMFLAGS:-} \
    "-Dzookeeper.log.dir=$ZOO_LOG_DIR" -cp "$ZK_HOME/conf:$ZK_HOME/lib/*" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg"
