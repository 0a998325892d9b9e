//! JVM command-line options: the maximum heap and whether perf data is off.
//!
//! Pure functions over strings, used on `java.rt.vmArgs`, on
//! `/proc/<pid>/cmdline` and on a container's environment (to detect "heap
//! config drift": the container asked for 12G, the JVM runs with 2G).

/// A maximum-heap setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HeapSetting {
    /// An absolute size in bytes (`-Xmx`, `-XX:MaxHeapSize=`).
    Bytes(u64),
    /// A percentage of the container's memory (`-XX:MaxRAMPercentage=`, or
    /// `-XX:MaxRAMFraction=n` as `100 / n`), in force only without an
    /// absolute size.
    Percentage(f64),
}

/// Where [`max_heap_from_env`] found the setting.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvHeap {
    /// The winning setting.
    pub setting: HeapSetting,
    /// The variable it came from, e.g. `KAFKA_HEAP_OPTS`.
    pub var: String,
}

/// Parses a JVM size: digits with an optional `k`, `m`, `g` or `t` suffix
/// (either case), as `-Xmx` takes it. `None` on anything else or overflow.
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        b't' | b'T' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}

fn parse_percentage(s: &str) -> Option<f64> {
    s.parse::<f64>()
        .ok()
        .filter(|p| p.is_finite() && *p > 0.0 && *p <= 100.0)
}

/// One argument's effect on the maximum heap.
fn heap_arg(arg: &str) -> Option<HeapSetting> {
    if let Some(v) = arg.strip_prefix("-Xmx") {
        return parse_size(v).map(HeapSetting::Bytes);
    }
    let flag = arg.strip_prefix("-XX:")?;
    let (name, value) = flag.split_once('=')?;
    match name {
        "MaxHeapSize" => parse_size(value).map(HeapSetting::Bytes),
        "MaxRAMPercentage" => parse_percentage(value).map(HeapSetting::Percentage),
        "MaxRAMFraction" => {
            let n = value.parse::<u32>().ok().filter(|n| *n > 0)?;
            Some(HeapSetting::Percentage(100.0 / f64::from(n)))
        }
        _ => None,
    }
}

/// The maximum heap the JVM takes from these arguments, in order: the last
/// absolute size wins; a percentage counts only when no absolute size is set.
pub fn max_heap_from_args<'a>(args: impl IntoIterator<Item = &'a str>) -> Option<HeapSetting> {
    let (mut bytes, mut pct) = (None, None);
    for arg in args {
        match heap_arg(arg) {
            Some(b @ HeapSetting::Bytes(_)) => bytes = Some(b),
            Some(p @ HeapSetting::Percentage(_)) => pct = Some(p),
            None => {}
        }
    }
    bytes.or(pct)
}

/// [`max_heap_from_args`] over one whitespace-separated options string,
/// such as `KAFKA_HEAP_OPTS="-Xmx12G -Xms12G"`.
pub fn max_heap_from_opts(opts: &str) -> Option<HeapSetting> {
    max_heap_from_args(opts.split_whitespace())
}

/// Rank of an environment variable in the order the JVM sees its options
/// (later wins), or `None` for a variable that carries no JVM options.
///
/// `JAVA_TOOL_OPTIONS` is read by the JVM before the command line, and
/// `JDK_JAVA_OPTIONS` is prepended to it; the launch scripts (Kafka's
/// `kafka-run-class.sh`, Confluent's images, ZooKeeper's `zkEnv.sh`) put the
/// heap variables before the general ones, e.g. `$KAFKA_HEAP_OPTS … $KAFKA_OPTS`.
/// `ZK_SERVER_HEAP` is ZooKeeper's size in MiB, turned into `-Xmx<n>m`.
fn env_rank(var: &str) -> Option<u8> {
    Some(match var {
        "JAVA_TOOL_OPTIONS" => 0,
        "JDK_JAVA_OPTIONS" => 1,
        "ZK_SERVER_HEAP" => 2,
        "HEAP_OPTS" => 3,
        v if v.ends_with("_HEAP_OPTS") => 3,
        "JVM_OPTS" | "JAVA_OPTS" | "JVMFLAGS" | "SERVER_JVMFLAGS" => 4,
        v if v.ends_with("_JVM_PERFORMANCE_OPTS") => 4,
        "KAFKA_OPTS" => 5,
        v if v.ends_with("_OPTS") && !v.ends_with("_LOG4J_OPTS") => 5,
        _ => return None,
    })
}

fn env_setting(var: &str, value: &str) -> Option<HeapSetting> {
    if var == "ZK_SERVER_HEAP" {
        let mib = value.trim().parse::<u64>().ok()?;
        return mib.checked_mul(1 << 20).map(HeapSetting::Bytes);
    }
    max_heap_from_opts(value)
}

/// The maximum heap a container's environment asks for (`KAFKA_HEAP_OPTS`,
/// `HEAP_OPTS`, `JAVA_OPTS`, `JVM_OPTS`, `JAVA_TOOL_OPTIONS`, `KAFKA_OPTS`,
/// any `*_HEAP_OPTS` / `*_OPTS`, `ZK_SERVER_HEAP`), applying the variables in
/// the order the JVM would see them. As with arguments, an absolute size
/// anywhere beats a percentage. `None` when no variable sets one.
pub fn max_heap_from_env<'a>(
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<EnvHeap> {
    let mut found: Vec<(u8, bool, &str, HeapSetting)> = vars
        .into_iter()
        .filter_map(|(var, value)| {
            let setting = env_setting(var, value)?;
            let absolute = matches!(setting, HeapSetting::Bytes(_));
            Some((env_rank(var)?, absolute, var, setting))
        })
        .collect();
    // Absolute sizes beat percentages, then later rank wins; ties by name for
    // a stable answer.
    found.sort_by(|a, b| (a.1, a.0, a.2).cmp(&(b.1, b.0, b.2)));
    found.pop().map(|(_, _, var, setting)| EnvHeap {
        setting,
        var: var.to_owned(),
    })
}

/// The option that turns perf data off, when these arguments (in order) do:
/// `-XX:-UsePerfData` or `-XX:+PerfDisableSharedMem`, the last mention of each
/// flag winning.
pub fn perf_data_disabled<'a>(args: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let (mut use_perf, mut disable_shared) = (true, false);
    for arg in args {
        match arg {
            "-XX:-UsePerfData" => use_perf = false,
            "-XX:+UsePerfData" => use_perf = true,
            "-XX:+PerfDisableSharedMem" => disable_shared = true,
            "-XX:-PerfDisableSharedMem" => disable_shared = false,
            _ => {}
        }
    }
    if !use_perf {
        Some("-XX:-UsePerfData")
    } else if disable_shared {
        Some("-XX:+PerfDisableSharedMem")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: u64 = 1 << 30;
    const M: u64 = 1 << 20;

    #[test]
    fn sizes_take_jvm_suffixes() {
        assert_eq!(parse_size("12G"), Some(12 * G));
        assert_eq!(parse_size("512m"), Some(512 * M));
        assert_eq!(parse_size("1024k"), Some(M));
        assert_eq!(parse_size("2T"), Some(2 << 40));
        assert_eq!(parse_size("1073741824"), Some(G));
        for bad in ["", "G", "1.5g", "-1g", "12GB", "9999999999999t", " 1g"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn last_absolute_size_wins_and_beats_percentage() {
        assert_eq!(
            max_heap_from_opts("-Xmx12G -Xms12G"),
            Some(HeapSetting::Bytes(12 * G))
        );
        assert_eq!(
            max_heap_from_opts("-Xmx1g -XX:MaxHeapSize=2g"),
            Some(HeapSetting::Bytes(2 * G))
        );
        assert_eq!(
            max_heap_from_opts("-XX:MaxHeapSize=536870912 -Xmx1g"),
            Some(HeapSetting::Bytes(G))
        );
        assert_eq!(
            max_heap_from_opts("-Xmx1g -XX:MaxRAMPercentage=75.0"),
            Some(HeapSetting::Bytes(G)),
            "an absolute size beats a later percentage"
        );
        assert_eq!(
            max_heap_from_opts("-XX:MaxRAMPercentage=75.0"),
            Some(HeapSetting::Percentage(75.0))
        );
        assert_eq!(
            max_heap_from_opts("-XX:MaxRAMFraction=4"),
            Some(HeapSetting::Percentage(25.0))
        );
        assert_eq!(max_heap_from_opts("-Xms1g -XX:+UseG1GC -Xmxfoo"), None);
        assert_eq!(
            max_heap_from_opts("-XX:MaxRAMPercentage=nan -XX:MaxRAMFraction=0"),
            None
        );
    }

    #[test]
    fn env_order_follows_the_launch_scripts() {
        let env = [("KAFKA_HEAP_OPTS", "-Xmx12G -Xms12G"), ("PATH", "/usr/bin")];
        let got = max_heap_from_env(env).unwrap();
        assert_eq!(
            (got.setting, got.var.as_str()),
            (HeapSetting::Bytes(12 * G), "KAFKA_HEAP_OPTS")
        );

        let env = [
            ("KAFKA_OPTS", "-Xmx2g"),
            ("KAFKA_HEAP_OPTS", "-Xmx12G"),
            ("JAVA_TOOL_OPTIONS", "-Xmx1g"),
        ];
        assert_eq!(
            max_heap_from_env(env).unwrap().var,
            "KAFKA_OPTS",
            "KAFKA_OPTS comes last"
        );

        let env = [
            ("JAVA_TOOL_OPTIONS", "-Xmx512m"),
            ("JAVA_OPTS", "-XX:MaxRAMPercentage=50"),
        ];
        assert_eq!(
            max_heap_from_env(env).unwrap().setting,
            HeapSetting::Bytes(512 * M)
        );

        let env = [
            ("ZK_SERVER_HEAP", "1000"),
            ("SCHEMA_REGISTRY_HEAP_OPTS", "-Xmx512M"),
        ];
        assert_eq!(
            max_heap_from_env(env).unwrap().var,
            "SCHEMA_REGISTRY_HEAP_OPTS"
        );
        assert_eq!(
            max_heap_from_env([("ZK_SERVER_HEAP", "1000")])
                .unwrap()
                .setting,
            HeapSetting::Bytes(1000 * M)
        );

        assert_eq!(
            max_heap_from_env([("HEAP_OPTS", "-Xms1g"), ("KAFKA_LOG4J_OPTS", "-Xmx1g")]),
            None
        );
        assert_eq!(
            max_heap_from_env([("JVM_OPTS", "-XX:MaxHeapSize=3g")])
                .unwrap()
                .var,
            "JVM_OPTS"
        );
    }

    #[test]
    fn perf_data_flags_last_mention_wins() {
        assert_eq!(
            perf_data_disabled(["java", "-XX:-UsePerfData", "Main"]),
            Some("-XX:-UsePerfData")
        );
        assert_eq!(
            perf_data_disabled(["-XX:+PerfDisableSharedMem"]),
            Some("-XX:+PerfDisableSharedMem")
        );
        assert_eq!(
            perf_data_disabled(["-XX:-UsePerfData", "-XX:+UsePerfData"]),
            None
        );
        assert_eq!(perf_data_disabled(["java", "-Xmx1g"]), None);
    }
}
