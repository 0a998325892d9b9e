//! Unix-millisecond timestamps (the unit the wire protocol uses) and human-readable durations.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now. Clocks before 1970 read as 0.
pub fn now_unix_ms() -> i64 {
    to_unix_ms(SystemTime::now())
}

/// Converts a system time to Unix milliseconds (0 for times before the epoch).
pub fn to_unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parses an RFC 3339 timestamp as Docker writes it (`2024-05-01T10:00:00.123456789Z`) into
/// Unix milliseconds. Docker's "never" (`0001-01-01T00:00:00Z`) and unparsable input give 0.
pub fn parse_rfc3339_ms(s: &str) -> i64 {
    match ::time::OffsetDateTime::parse(s, &::time::format_description::well_known::Rfc3339) {
        Ok(t) => {
            let ms = t.unix_timestamp_nanos() / 1_000_000;
            if ms <= 0 {
                0
            } else {
                i64::try_from(ms).unwrap_or(i64::MAX)
            }
        }
        Err(_) => 0,
    }
}

/// Formats a duration the way operators read uptimes: `45s`, `12m05s`, `3h07m`, `5d02h`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Formats a byte count with binary units: `512 B`, `1.5 KiB`, `41.2 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_timestamps_parse_to_millis() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.5Z"), 1500);
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T10:00:00.123456789Z"),
            1_714_557_600_123
        );
        assert_eq!(
            parse_rfc3339_ms("0001-01-01T00:00:00Z"),
            0,
            "Docker's 'never'"
        );
        assert_eq!(parse_rfc3339_ms("garbage"), 0);
    }

    #[test]
    fn durations_read_like_uptimes() {
        assert_eq!(human_duration(Duration::from_secs(45)), "45s");
        assert_eq!(human_duration(Duration::from_secs(725)), "12m05s");
        assert_eq!(
            human_duration(Duration::from_secs(3 * 3600 + 7 * 60)),
            "3h07m"
        );
        assert_eq!(
            human_duration(Duration::from_secs(5 * 86_400 + 2 * 3600)),
            "5d02h"
        );
    }

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(44_238_529_331), "41.2 GiB");
    }
}
