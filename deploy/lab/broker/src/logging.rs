//! Kafka-like log lines (`[2024-05-01 12:00:00,123] INFO message (kafka.server.KafkaServer)`)
//! and the lab's structured `LAB-EVENT {json}` lifecycle lines.

use std::fmt;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::macros::format_description;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events like Kafka's log4j console appender; the target plays the logger name.
#[derive(Debug, Clone, Copy)]
pub struct KafkaFormat;

impl<S, N> FormatEvent<S, N> for KafkaFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let format = format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second],[subsecond digits:3]"
        );
        let now = OffsetDateTime::now_utc()
            .format(&format)
            .unwrap_or_default();
        let level = event.metadata().level().as_str();
        write!(writer, "[{now}] {level} ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer, " ({})", event.metadata().target())
    }
}

/// The tracing filter of Confluent's log settings: `KAFKA_LOG4J_ROOT_LOGLEVEL` for everything,
/// `KAFKA_LOG4J_LOGGERS` (`logger=LEVEL,…`, e.g. `kafka.request.logger=DEBUG`) per logger.
fn filter_directives(root: Option<&str>, loggers: Option<&str>) -> String {
    let mut directives = vec![
        root.unwrap_or("INFO").to_lowercase(),
        "zookeeper_client=warn".to_owned(),
    ];
    for pair in loggers.unwrap_or_default().split(',') {
        if let Some((logger, level)) = pair.trim().split_once('=') {
            directives.push(format!("{}={}", logger.trim(), level.trim().to_lowercase()));
        }
    }
    directives.join(",")
}

/// Installs the Kafka-like formatter on stdout, filtered by `filter_directives`.
pub fn install() {
    let root = std::env::var("KAFKA_LOG4J_ROOT_LOGLEVEL").ok();
    let loggers = std::env::var("KAFKA_LOG4J_LOGGERS").ok();
    let filter = tracing_subscriber::EnvFilter::try_new(filter_directives(
        root.as_deref(),
        loggers.as_deref(),
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .event_format(KafkaFormat)
        .with_writer(std::io::stdout)
        .try_init();
}

/// Milliseconds since the Unix epoch (events are compared across processes).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Prints one `LAB-EVENT {"event":…,"broker":…,"t_ms":…, …}` line on stdout.
pub fn event(name: &str, broker: i32, extra: serde_json::Value) {
    let mut map = serde_json::Map::new();
    map.insert("event".into(), name.into());
    map.insert("broker".into(), broker.into());
    map.insert("t_ms".into(), now_ms().into());
    if let serde_json::Value::Object(fields) = extra {
        map.extend(fields);
    }
    let line = format!("LAB-EVENT {}\n", serde_json::Value::Object(map));
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confluent_log_settings_become_tracing_directives() {
        let cases = [
            (None, None, "info,zookeeper_client=warn"),
            (Some("WARN"), None, "warn,zookeeper_client=warn"),
            (
                None,
                Some("kafka.request.logger=DEBUG, kafka.controller=TRACE"),
                "info,zookeeper_client=warn,kafka.request.logger=debug,kafka.controller=trace",
            ),
            (None, Some("nonsense"), "info,zookeeper_client=warn"),
        ];
        for (root, loggers, want) in cases {
            assert_eq!(
                filter_directives(root, loggers),
                want,
                "{root:?} {loggers:?}"
            );
        }
    }
}
