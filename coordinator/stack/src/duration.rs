//! Go durations (`stop_grace_period: 1m30s`), read and written.

use std::time::Duration;

/// Swarm's stop grace period when the file sets none.
pub const DEFAULT_STOP_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// Parses a Go duration (`300ms`, `10s`, `1m30s`, `2h`, `1.5s`, `0`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1e0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number * nanos_per_unit;
        rest = &rest[unit_len..];
    }
    // Whole nanoseconds; durations in a stack file are far below u64::MAX ns.
    let nanos = total.round();
    (0.0..1.8e19)
        .contains(&nanos)
        .then(|| Duration::from_nanos(nanos as u64))
}

/// Writes a duration the way a person would in a stack file (`2m`, `1m30s`, `500ms`).
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) || millis == 0 {
        return format!("{millis}ms");
    }
    let secs = duration.as_secs();
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (value, unit) in [(hours, "h"), (minutes, "m"), (seconds, "s")] {
        if value != 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        let table: &[(&str, Option<u64>)] = &[
            ("10s", Some(10_000)),
            ("1m30s", Some(90_000)),
            ("2h", Some(7_200_000)),
            ("1.5s", Some(1_500)),
            ("300ms", Some(300)),
            ("0", Some(0)),
            ("10", None),
            ("", None),
            ("5 s", None),
            ("1d", None),
        ];
        for (text, millis) in table {
            assert_eq!(
                parse_duration(text).map(|d| d.as_millis() as u64),
                *millis,
                "{text:?}"
            );
        }
    }

    #[test]
    fn durations_are_written_short_and_read_back() {
        for (millis, text) in [
            (120_000, "2m"),
            (90_000, "1m30s"),
            (500, "500ms"),
            (3_600_000, "1h"),
            (0, "0ms"),
        ] {
            let duration = Duration::from_millis(millis);
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration(text), Some(duration));
        }
    }
}
