# Shared helpers of the lab's JVM entrypoints (POSIX sh, busybox). Installed as /opt/lab/bin/lib.sh.

# ensure NAME: exit 1 with Confluent's wording when a required variable is unset or empty.
ensure() {
    eval "lab_v=\${$1:-}"
    if [ -z "$lab_v" ]; then
        echo "$1 is required." >&2
        exit 1
    fi
}

# env_to_props PREFIX EXCLUDE_REGEX: print every PREFIX* variable as a Java property, the way
# Confluent's images do: strip PREFIX, lower-case, ___ -> -, __ -> _, _ -> .
env_to_props() {
    awk -v pfx="$1" -v excl="$2" 'BEGIN {
        for (k in ENVIRON) {
            if (index(k, pfx) != 1 || length(k) == length(pfx)) continue
            if (excl != "" && k ~ excl) continue
            n = tolower(substr(k, length(pfx) + 1))
            gsub(/___/, "-", n); gsub(/__/, "%U%", n); gsub(/_/, ".", n); gsub(/%U%/, "_", n)
            v = ENVIRON[k]
            gsub(/\\/, "\\\\", v); gsub(/\n/, "\\n", v)
            print n "=" v
        }
    }'
}

# platform_version: the platform version of this image (7.1.1, 7.7.1, ...).
platform_version() {
    cat "$LAB_HOME/VERSION"
}

# conf_dir: where the entrypoint writes the service's properties (writable by appuser).
conf_dir() {
    lab_d="${TMPDIR:-/tmp}/lab-conf"
    mkdir -p "$lab_d"
    echo "$lab_d"
}
