//! What a scalar means to `docker stack deploy`, and how to write a value back.
//!
//! The Docker CLI reads stack files with go-yaml and turns every environment
//! value into a string with Go's `fmt.Sprint`. So an unquoted `3.10` reaches the
//! container as `3.1`, `010` as `8` and `~` or nothing as "no value"; with go-yaml
//! v2 (Docker CLI 20.10) `yes`, `on` and `y` are booleans too, printed `true`,
//! while go-yaml v3 (Docker CLI 28.2, measured with `docker stack config`) keeps
//! them as strings. [`compose_string`] reproduces that for plain scalars; quoted
//! and block scalars are strings as written. A value kroll writes is plain only
//! when both readers take it as that same string.

/// How a scalar is written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unquoted.
    Plain,
    /// `'single quoted'`.
    Single,
    /// `"double quoted"`.
    Double,
    /// A `|` or `>` block scalar.
    Block,
}

impl Style {
    /// The style of a scalar's source text.
    pub(crate) fn of(text: &str) -> Self {
        match text.chars().next() {
            Some('\'') => Self::Single,
            Some('"') => Self::Double,
            Some('|' | '>') => Self::Block,
            _ => Self::Plain,
        }
    }
}

/// Which YAML library the Docker CLI that deploys the stack reads it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CliYaml {
    /// go-yaml v2 (Docker CLI 20.10): YAML 1.1 booleans (`yes`, `on`, `y`, …), a
    /// mapping may hold several `<<:` keys and a later one overrides an earlier one.
    #[default]
    GoYamlV2,
    /// go-yaml v3 (Docker CLI 28.2 here): only `true`/`false` are booleans, a
    /// second `<<:` key in one mapping is an error, own keys always win.
    GoYamlV3,
}

/// The value `docker stack deploy` passes on for a scalar: `None` for a null.
///
/// `decoded` is the scalar's string content (quotes and escapes removed, lines
/// folded); `style` says whether typing applies (plain scalars only).
pub(crate) fn compose_string(decoded: &str, style: Style, reader: CliYaml) -> Option<String> {
    if style != Style::Plain {
        return Some(decoded.to_owned());
    }
    match decoded {
        "" | "~" | "null" | "Null" | "NULL" => return None,
        "true" | "True" | "TRUE" => return Some("true".to_owned()),
        "false" | "False" | "FALSE" => return Some("false".to_owned()),
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" if reader == CliYaml::GoYamlV2 => {
            return Some("true".to_owned());
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" if reader == CliYaml::GoYamlV2 => {
            return Some("false".to_owned());
        }
        _ => {}
    }
    Some(
        go_int(decoded)
            .or_else(|| go_float(decoded))
            .unwrap_or_else(|| decoded.to_owned()),
    )
}

/// Whether `value` may be written as a plain scalar and still read back as the
/// string `value` (so neither retyped nor mis-parsed).
pub(crate) fn plain_is_string(value: &str) -> bool {
    // `9101` reads back as "9101" but is an integer to every YAML reader; a new
    // value is only written plain when it is a string to all of them.
    plain_round_trips(value)
        && go_int(value).is_none()
        && go_float(value).is_none()
        && !matches!(value, "true" | "false")
}

/// Whether `value` written plain reads back as the same text (it may be typed,
/// e.g. an integer, as long as Docker turns it back into exactly `value`).
pub(crate) fn plain_round_trips(value: &str) -> bool {
    plain_is_safe(value)
        && [CliYaml::GoYamlV2, CliYaml::GoYamlV3]
            .into_iter()
            .all(|reader| compose_string(value, Style::Plain, reader).as_deref() == Some(value))
}

/// Renders `value` as a scalar in `style` (block styles are written double-quoted).
pub(crate) fn render(value: &str, style: Style) -> String {
    match style {
        Style::Plain => value.to_owned(),
        Style::Single if !value.contains('\n') => format!("'{}'", value.replace('\'', "''")),
        _ => {
            let mut out = String::with_capacity(value.len() + 2);
            out.push('"');
            for c in value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

/// Whether a plain scalar with this text parses as one scalar with this text.
fn plain_is_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    if value.trim() != value || value.contains(['\n', '\r', '\t']) {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-x` and `:x` are fine as plain scalars, but a writer need not be clever.
        let indicator_ok = matches!(first, '-' | '?' | ':')
            && value
                .chars()
                .nth(1)
                .is_some_and(|c| !c.is_whitespace() && !",[]{}".contains(c));
        if !indicator_ok {
            return false;
        }
    }
    !value.contains(": ") && !value.contains(" #") && !value.ends_with(':')
}

/// Go's `strconv.ParseInt(s, 0, 64)` after go-yaml's underscore removal, printed in decimal.
fn go_int(text: &str) -> Option<String> {
    let plain = text.replace('_', "");
    let (negative, digits) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    let (radix, body) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, hex)
    } else if let Some(bin) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, bin)
    } else if let Some(oct) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, oct)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    (i128::from(i64::MIN)..=i128::from(u64::MAX))
        .contains(&value)
        .then(|| value.to_string())
}

/// go-yaml v2's float forms, printed like Go's `%v` (shortest, exponent outside 1e-4..1e21).
fn go_float(text: &str) -> Option<String> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some("+Inf".into()),
        "-.inf" | "-.Inf" | "-.INF" => return Some("-Inf".into()),
        ".nan" | ".NaN" | ".NAN" => return Some("NaN".into()),
        _ => {}
    }
    let plain = text.replace('_', "");
    if !is_yaml_float(&plain) {
        return None;
    }
    let value: f64 = plain.parse().ok()?;
    Some(go_format_float(value))
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

fn go_format_float(value: f64) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, like Go's precision -1.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..21).contains(&exponent) {
        let mut out = format!("{sign}{}", &digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let (esign, eabs) = if exponent < 0 {
            ('-', -exponent)
        } else {
            ('+', exponent)
        };
        return format!("{out}e{esign}{eabs:02}");
    }
    format!("{value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_reach_the_container_as_docker_prints_them() {
        let table: &[(&str, Option<&str>)] = &[
            ("2000", Some("2000")),
            ("3.1", Some("3.1")),
            ("3.10", Some("3.1")),
            ("3.0", Some("3")),
            ("1e21", Some("1e+21")),
            ("0.00001", Some("1e-05")),
            ("0.0001", Some("0.0001")),
            ("1_000", Some("1000")),
            ("010", Some("8")),
            ("0x1F", Some("31")),
            ("-5", Some("-5")),
            ("yes", Some("true")),
            ("Off", Some("false")),
            ("~", None),
            ("", None),
            ("null", None),
            ("3.1-IV0", Some("3.1-IV0")),
            ("zookeeper-01:12181/kafka", Some("zookeeper-01:12181/kafka")),
            (".inf", Some("+Inf")),
            ("1.", Some("1")),
            ("08", Some("8")),
            ("1_0.5", Some("10.5")),
        ];
        for (text, want) in table {
            assert_eq!(
                compose_string(text, Style::Plain, CliYaml::GoYamlV2).as_deref(),
                *want,
                "{text:?}"
            );
        }
        // go-yaml v3 keeps YAML 1.1's other booleans as strings.
        for (text, want) in [
            ("yes", "yes"),
            ("on", "on"),
            ("y", "y"),
            ("True", "true"),
            ("3.10", "3.1"),
        ] {
            assert_eq!(
                compose_string(text, Style::Plain, CliYaml::GoYamlV3).as_deref(),
                Some(want),
                "{text:?}"
            );
        }
        assert_eq!(
            compose_string("3.10", Style::Double, CliYaml::GoYamlV2).as_deref(),
            Some("3.10")
        );
        assert_eq!(
            compose_string("", Style::Single, CliYaml::GoYamlV3).as_deref(),
            Some("")
        );
    }

    #[test]
    fn new_values_are_plain_only_when_every_reader_sees_a_string() {
        let table: &[(&str, bool)] = &[
            ("connect", true),
            ("http://0.0.0.0:8083", true),
            ("-Xmx12G -Xms12G", true),
            ("3.1", false),
            ("9101", false),
            ("true", false),
            ("yes", false),
            ("", false),
            (" padded", false),
            ("a: b", false),
            ("a #b", false),
            ("*alias", false),
            ("${CI_REGISTRY_IMAGE}/kafka", true),
            ("'q'", false),
        ];
        for (value, plain) in table {
            assert_eq!(plain_is_string(value), *plain, "{value:?}");
        }
        assert!(plain_round_trips("9101"));
        assert!(!plain_round_trips("3.10"));
        assert!(!plain_round_trips("on"));
    }

    #[test]
    fn rendering_escapes_what_the_style_needs() {
        assert_eq!(render("3.7", Style::Double), "\"3.7\"");
        assert_eq!(render("it's", Style::Single), "'it''s'");
        assert_eq!(render("a\"b\\c", Style::Double), "\"a\\\"b\\\\c\"");
        assert_eq!(render("x", Style::Plain), "x");
        assert_eq!(render("x\ny", Style::Block), "\"x\\ny\"");
    }
}
