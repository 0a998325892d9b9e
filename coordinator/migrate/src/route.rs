//! The topic a record lands in after a connector's routing transforms.
//!
//! Kafka Connect's `RegexRouter` does, in Java:
//! `if (matcher(topic).matches()) topic = matcher.replaceFirst(replacement)`.
//! Two details matter and are kept here: the regex must match the *whole* topic,
//! but the replacement then applies to the first match that `find()` returns
//! (which for `a|ab` on `ab` is just `a`); and the replacement uses Java's syntax
//! (`$n` takes as many digits as still name an existing group, `${name}`, `\x`
//! escapes `x`; a group that did not participate contributes nothing).
//!
//! Regexes are evaluated with the `regex` crate, whose leftmost-first semantics
//! match Java's for the syntax both support. Java-only syntax (backreferences,
//! look-around, possessive quantifiers, `\Q…\E`) is reported as an error, never
//! approximated. Topic names are ASCII, so Unicode-aware classes such as `\w`
//! and `\d` behave as Java's ASCII ones.

use regex::{Captures, Regex, RegexBuilder};

use crate::Config;
use crate::error::RouteError;

/// Kafka Connect's regex routing transform.
pub const REGEX_ROUTER: &str = "org.apache.kafka.connect.transforms.RegexRouter";

/// Transforms known to rename topics in ways not modelled here.
const OTHER_TOPIC_CHANGERS: &[&str] = &[
    "org.apache.kafka.connect.transforms.TimestampRouter",
    "io.debezium.transforms.ByLogicalTableRouter",
    "io.debezium.transforms.ContentBasedRouter",
    "io.debezium.transforms.outbox.EventRouter",
    "io.confluent.connect.transforms.ExtractTopic$Key",
    "io.confluent.connect.transforms.ExtractTopic$Value",
    "io.confluent.connect.transforms.ExtractTopic$Header",
];

/// Compiles a Java pattern to match a whole string (`Matcher.matches()`).
pub(crate) fn whole_match(pattern: &str, case_insensitive: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&format!(r"\A(?:{pattern})\z"))
        .case_insensitive(case_insensitive)
        .build()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

/// One `RegexRouter`: its regex and parsed replacement.
#[derive(Debug, Clone)]
pub struct RegexRoute {
    whole: Regex,
    first: Regex,
    pieces: Vec<Piece>,
}

impl RegexRoute {
    /// Compiles `regex` and parses `replacement` for the transform `alias`.
    pub fn new(alias: &str, regex: &str, replacement: &str) -> Result<Self, RouteError> {
        let regex_error = |e: regex::Error| RouteError::Regex {
            alias: alias.to_owned(),
            pattern: regex.to_owned(),
            reason: e.to_string(),
        };
        let whole = whole_match(regex, false).map_err(regex_error)?;
        let first = Regex::new(regex).map_err(regex_error)?;
        let pieces =
            parse_replacement(&first, replacement).map_err(|reason| RouteError::Replacement {
                alias: alias.to_owned(),
                replacement: replacement.to_owned(),
                reason,
            })?;
        Ok(Self {
            whole,
            first,
            pieces,
        })
    }

    /// The topic after this transform.
    pub fn apply(&self, topic: &str) -> String {
        if !self.whole.is_match(topic) {
            return topic.to_owned();
        }
        let Some(captures) = self.first.captures(topic) else {
            return topic.to_owned();
        };
        let Some(found) = captures.get(0) else {
            return topic.to_owned();
        };
        let mut out = String::with_capacity(topic.len() + 16);
        out.push_str(&topic[..found.start()]);
        self.expand(&captures, &mut out);
        out.push_str(&topic[found.end()..]);
        out
    }

    fn expand(&self, captures: &Captures<'_>, out: &mut String) {
        for piece in &self.pieces {
            let text = match piece {
                Piece::Text(text) => Some(text.as_str()),
                Piece::Group(index) => captures.get(*index).map(|m| m.as_str()),
                Piece::Named(name) => captures.name(name).map(|m| m.as_str()),
            };
            out.push_str(text.unwrap_or(""));
        }
    }
}

/// Parses the group reference after a `$` (Java `appendReplacement` rules).
fn parse_reference(
    regex: &Regex,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<Piece, String> {
    let groups = regex.captures_len() - 1;
    match chars.next() {
        Some('{') => {
            let mut name = String::new();
            loop {
                match chars.next() {
                    Some('}') => break,
                    Some(c) => name.push(c),
                    None => return Err("group name is missing its closing '}'".into()),
                }
            }
            if regex.capture_names().flatten().all(|n| n != name) {
                return Err(format!("no group named {name:?}"));
            }
            Ok(Piece::Named(name))
        }
        Some(d) if d.is_ascii_digit() => {
            // The first digit always counts; later ones only while they still name a group.
            let mut index = d as usize - '0' as usize;
            while let Some(next) = chars.peek().and_then(|c| c.to_digit(10)) {
                let longer = index * 10 + next as usize;
                if longer > groups {
                    break;
                }
                index = longer;
                chars.next();
            }
            if index > groups {
                return Err(format!("no group {index} (the regex has {groups})"));
            }
            Ok(Piece::Group(index))
        }
        _ => Err("illegal group reference".to_owned()),
    }
}

/// Parses a Java replacement string against the groups of `regex`.
fn parse_replacement(regex: &Regex, replacement: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.push(chars.next().ok_or("character to be escaped is missing")?),
            '$' => {
                let reference = parse_reference(regex, &mut chars)?;
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(reference);
            }
            other => text.push(other),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// The aliases listed in `transforms`, in order.
fn aliases(config: &Config) -> impl Iterator<Item = &str> {
    config
        .get("transforms")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|alias| !alias.is_empty())
}

/// The `RegexRouter`s of a connector's transform chain, in order.
///
/// Errors on a router that cannot be evaluated, on a router with a predicate, and on
/// another transform known to change topics. Other transforms are taken to keep the topic.
pub fn routes(config: &Config) -> Result<Vec<RegexRoute>, RouteError> {
    let mut routes = Vec::new();
    for alias in aliases(config) {
        let get = |suffix: &str| config.get(&format!("transforms.{alias}.{suffix}"));
        let class = get("type").map(|c| c.trim()).unwrap_or_default();
        let unsupported = |detail: &str| RouteError::Unsupported {
            alias: alias.to_owned(),
            class: class.to_owned(),
            detail: detail.to_owned(),
        };
        if class == REGEX_ROUTER {
            if get("predicate").is_some() {
                return Err(unsupported(": it is applied conditionally (predicate)"));
            }
            let required = |suffix: &str| {
                get(suffix).ok_or_else(|| RouteError::Missing {
                    alias: alias.to_owned(),
                    key: format!("transforms.{alias}.{suffix}"),
                })
            };
            routes.push(RegexRoute::new(
                alias,
                required("regex")?,
                required("replacement")?,
            )?);
        } else if OTHER_TOPIC_CHANGERS.contains(&class) {
            return Err(unsupported(""));
        }
    }
    Ok(routes)
}

/// The topic a record written to `topic` lands in after the connector's transforms.
pub fn route_topic(config: &Config, topic: &str) -> Result<String, RouteError> {
    Ok(routes(config)?
        .iter()
        .fold(topic.to_owned(), |topic, route| route.apply(&topic)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(regex: &str, replacement: &str) -> RegexRoute {
        RegexRoute::new("route", regex, replacement).expect("valid route")
    }

    const JOURNAL_REGEX: &str = r"([^.]+)\.([^.]+)\.([^.]+)";

    #[test]
    fn journal_router_rewrites_the_prefix() {
        let cdc = route(JOURNAL_REGEX, "supernova.$2.$3");
        assert_eq!(
            cdc.apply("cdc-digikala_fulfillment-slave.digikala_fulfillment.receipts"),
            "supernova.digikala_fulfillment.receipts"
        );
        let ct = route(JOURNAL_REGEX, "ct.$2.$3");
        assert_eq!(ct.apply("ct-x.db.t"), "ct.db.t");
        // Not a whole match (four parts): the topic is left alone.
        assert_eq!(ct.apply("a.b.c.d"), "a.b.c.d");
    }

    #[test]
    fn replace_first_uses_find_semantics_after_a_whole_match() {
        // matches() needs "ab", but find() stops at the first alternative "a".
        assert_eq!(route("a|ab", "X").apply("ab"), "Xb");
    }

    #[test]
    fn replacement_syntax_follows_java() {
        let groups = r"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)";
        // $11 names group 11 when it exists; $1 then a literal 2 otherwise.
        assert_eq!(route(groups, "$11").apply("abcdefghijk"), "k");
        assert_eq!(route("(a)(b)", "$12").apply("ab"), "a2");
        assert_eq!(route("(?<db>x)y", "${db}-\\$1").apply("xy"), "x-$1");
        // A group that did not participate contributes nothing.
        assert_eq!(route("(a)|(b)", "[$1$2]").apply("b"), "[b]");
        for bad in ["$5", "$", "$x", "\\", "${nope}", "${db"] {
            assert!(
                matches!(
                    RegexRoute::new("r", "(a)", bad),
                    Err(RouteError::Replacement { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn java_only_regex_syntax_is_an_error_not_a_guess() {
        let err = RegexRoute::new("r", r"(a)\1", "x").expect_err("backreference");
        assert!(matches!(err, RouteError::Regex { .. }), "{err}");
        assert!(RegexRoute::new("r", "(?=a)a", "x").is_err());
    }

    #[test]
    fn chain_applies_routers_in_order_and_refuses_unknown_routers() {
        let mut config: Config = [
            ("transforms", "unwrap, route ,second"),
            (
                "transforms.unwrap.type",
                "io.debezium.transforms.ExtractNewRecordState",
            ),
            ("transforms.route.type", REGEX_ROUTER),
            ("transforms.route.regex", JOURNAL_REGEX),
            ("transforms.route.replacement", "ct.$2.$3"),
            ("transforms.second.type", REGEX_ROUTER),
            ("transforms.second.regex", r"ct\.(.*)"),
            ("transforms.second.replacement", "final.$1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(route_topic(&config, "p.db.t"), Ok("final.db.t".to_owned()));
        config.insert(
            "transforms.unwrap.type".into(),
            OTHER_TOPIC_CHANGERS[0].into(),
        );
        assert!(matches!(
            route_topic(&config, "p.db.t"),
            Err(RouteError::Unsupported { .. })
        ));
        config.remove("transforms");
        assert_eq!(route_topic(&config, "p.db.t"), Ok("p.db.t".to_owned()));
    }

    #[test]
    fn router_without_replacement_is_reported() {
        let config: Config = [
            ("transforms", "route"),
            ("transforms.route.type", REGEX_ROUTER),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let err = route_topic(&config, "t").expect_err("missing regex");
        assert_eq!(
            err.to_string(),
            "transform \"route\": transforms.route.regex is not set"
        );
    }
}
