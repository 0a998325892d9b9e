//! How Debezium adjusts schema and field names for Avro, in 1.9 and in 3.0.
//!
//! Debezium checks a schema's *full* name (`prefix.db.table.Key`) character by
//! character, as Java `char`s (UTF-16 code units): only the first character of
//! the whole name is held to the "first character" rule; a dot is valid
//! anywhere after it. The versions differ in small ways that matter here:
//!
//! | rules | first char valid | later chars valid | invalid char becomes |
//! |---|---|---|---|
//! | 1.9 `avro` (the 1.9 default) | `[A-Za-z_]` | `[A-Za-z0-9_.]` | `_` (a leading digit is replaced) |
//! | 3.0 `none` (the 3.0 default) | anything | anything | — |
//! | 3.0 `avro` | `[A-Za-z_]` | `[A-Za-z0-9_.]` | `_`; a leading ASCII digit `d` becomes `_d` |
//! | 3.0 `avro_unicode` | `[A-Za-z]` | `[A-Za-z0-9.]` | `_u` + hex code unit (`_` itself is escaped) |
//!
//! `avro_unicode` escaping, exactly as Debezium writes it: `_u` followed by the
//! lower-case hexadecimal value of the UTF-16 code unit, prefixed with `00` only
//! when that hex has at most two digits. So `-` → `_u002d`, `_` → `_u005f`,
//! a tab → `_u009` (three digits), `Ω` (U+03A9) → `_u3a9`, `中` → `_u4e2d`, and a
//! character outside the BMP becomes two escapes, one per surrogate.
//!
//! Field names follow the same tables without the dot. In 1.9 they were only
//! adjusted with `sanitize.field.names=true` (a leading digit `d` becomes `_d`);
//! in 3.0 by `field.name.adjustment.mode`.
//!
//! Limitation: Java's `Character.isDigit` also accepts non-ASCII decimal digits
//! as a leading digit; here only `0-9` are, which differs only for a name that
//! starts with a non-ASCII digit.

use serde::{Deserialize, Serialize};

/// The naming rules one Debezium version applies to schema or field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameRules {
    /// Debezium 1.9, `schema.name.adjustment.mode=none` (or `sanitize.field.names=false`).
    V19None,
    /// Debezium 1.9, `avro` (the schema-name default; fields with `sanitize.field.names=true`).
    V19Avro,
    /// Debezium 3.0, `none` (the default of both modes).
    V30None,
    /// Debezium 3.0, `avro`.
    V30Avro,
    /// Debezium 3.0, `avro_unicode`.
    V30AvroUnicode,
}

impl NameRules {
    /// The 1.9 rules for a `schema.name.adjustment.mode` value (absent: the 1.9 default, `avro`).
    ///
    /// `None` for a value 1.9 does not know (it would have refused to start).
    pub fn v19_schema(mode: Option<&str>) -> Option<Self> {
        match mode.map(|m| m.trim().to_ascii_lowercase()).as_deref() {
            None | Some("avro") => Some(Self::V19Avro),
            Some("none") => Some(Self::V19None),
            Some(_) => None,
        }
    }

    /// The 3.0 rules for a `schema.name.adjustment.mode` or `field.name.adjustment.mode`
    /// value (absent: the 3.0 default, `none`). `None` for an unknown value.
    pub fn v30(mode: Option<&str>) -> Option<Self> {
        match mode.map(|m| m.trim().to_ascii_lowercase()).as_deref() {
            None | Some("none") => Some(Self::V30None),
            Some("avro") => Some(Self::V30Avro),
            Some("avro_unicode") => Some(Self::V30AvroUnicode),
            Some(_) => None,
        }
    }

    /// The config value that selects these rules.
    pub fn mode_name(self) -> &'static str {
        match self {
            Self::V19None | Self::V30None => "none",
            Self::V19Avro | Self::V30Avro => "avro",
            Self::V30AvroUnicode => "avro_unicode",
        }
    }

    /// Adjusts a schema full name (`prefix.db.table.Key`).
    pub fn schema_name(self, name: &str) -> String {
        adjust(self, name, true)
    }

    /// Adjusts a field (column) name.
    pub fn field_name(self, name: &str) -> String {
        adjust(self, name, false)
    }
}

fn is_letter(unit: u16) -> bool {
    matches!(unit, 0x41..=0x5a | 0x61..=0x7a)
}

fn is_digit(unit: u16) -> bool {
    matches!(unit, 0x30..=0x39)
}

const UNDERSCORE: u16 = b'_' as u16;
const DOT: u16 = b'.' as u16;

fn valid(rules: NameRules, unit: u16, first: bool, dots: bool) -> bool {
    let underscore_ok = rules != NameRules::V30AvroUnicode;
    if is_letter(unit) || (underscore_ok && unit == UNDERSCORE) {
        return true;
    }
    !first && (is_digit(unit) || (dots && unit == DOT))
}

fn unicode_escape(unit: u16) -> String {
    let hex = format!("{unit:x}");
    if hex.len() <= 2 {
        format!("_u00{hex}")
    } else {
        format!("_u{hex}")
    }
}

fn adjust(rules: NameRules, name: &str, dots: bool) -> String {
    if matches!(rules, NameRules::V19None | NameRules::V30None) {
        return name.to_owned();
    }
    let units: Vec<u16> = name.encode_utf16().collect();
    let mut out: Vec<u16> = Vec::with_capacity(units.len() + 4);
    for (index, &unit) in units.iter().enumerate() {
        let first = index == 0;
        if valid(rules, unit, first, dots) {
            out.push(unit);
            continue;
        }
        match rules {
            NameRules::V30AvroUnicode => out.extend(unicode_escape(unit).encode_utf16()),
            // 1.9 field sanitizing and 3.0 avro keep a leading digit after the underscore;
            // 1.9 schema names replace it.
            NameRules::V19Avro if first && is_digit(unit) && !dots => {
                out.extend([UNDERSCORE, unit])
            }
            NameRules::V30Avro if first && is_digit(unit) => out.extend([UNDERSCORE, unit]),
            _ => out.push(UNDERSCORE),
        }
    }
    // Surrogates are never valid, so every one was replaced by ASCII: the conversion is lossless.
    String::from_utf16_lossy(&out)
}

#[cfg(test)]
mod tests {
    use super::NameRules::*;
    use super::*;

    #[test]
    fn journal_prefix_keeps_dashes_only_under_30_none() {
        let name = "ct-digikala_fulfillment-slave.digikala_fulfillment.receipts.Key";
        let v19 = "ct_digikala_fulfillment_slave.digikala_fulfillment.receipts.Key";
        assert_eq!(V19Avro.schema_name(name), v19);
        assert_eq!(V30Avro.schema_name(name), v19);
        assert_eq!(V30None.schema_name(name), name);
        assert_eq!(V19None.schema_name(name), name);
        assert_eq!(
            V30AvroUnicode.schema_name(name),
            "ct_u002ddigikala_u005ffulfillment_u002dslave.digikala_u005ffulfillment.receipts.Key"
        );
    }

    #[test]
    fn leading_digit_differs_between_19_and_30() {
        assert_eq!(V19Avro.schema_name("3prefix.db.t.Key"), "_prefix.db.t.Key");
        assert_eq!(V30Avro.schema_name("3prefix.db.t.Key"), "_3prefix.db.t.Key");
        assert_eq!(
            V30AvroUnicode.schema_name("3prefix.db.t.Key"),
            "_u0033prefix.db.t.Key"
        );
        // Only the first character of the full name is held to the first-character rule.
        assert_eq!(V19Avro.schema_name("p.2020db.t.Key"), "p.2020db.t.Key");
    }

    #[test]
    fn unicode_escapes_follow_debeziums_padding() {
        assert_eq!(V30AvroUnicode.schema_name("a\tb"), "a_u009b");
        assert_eq!(V30AvroUnicode.schema_name("aΩ"), "a_u3a9");
        assert_eq!(V30AvroUnicode.schema_name("a中"), "a_u4e2d");
        assert_eq!(V30AvroUnicode.schema_name("a😀"), "a_ud83d_ude00");
        assert_eq!(V30AvroUnicode.schema_name("_x"), "_u005fx");
        // Underscore replacement works per UTF-16 unit too.
        assert_eq!(V19Avro.schema_name("a😀"), "a__");
    }

    #[test]
    fn field_names_never_keep_dots_and_keep_a_leading_digit() {
        assert_eq!(V19Avro.field_name("1st.col-x"), "_1st_col_x");
        assert_eq!(V30Avro.field_name("1st.col-x"), "_1st_col_x");
        assert_eq!(V30AvroUnicode.field_name("a.b_c"), "a_u002eb_u005fc");
        assert_eq!(V30None.field_name("1st.col-x"), "1st.col-x");
    }

    #[test]
    fn modes_parse_per_version() {
        assert_eq!(NameRules::v19_schema(None), Some(V19Avro));
        assert_eq!(NameRules::v19_schema(Some("NONE")), Some(V19None));
        assert_eq!(NameRules::v19_schema(Some("avro_unicode")), None);
        assert_eq!(NameRules::v30(None), Some(V30None));
        assert_eq!(NameRules::v30(Some("avro")), Some(V30Avro));
        assert_eq!(NameRules::v30(Some("avro_unicode")), Some(V30AvroUnicode));
        assert_eq!(NameRules::v30(Some("bogus")), None);
        assert_eq!(V30AvroUnicode.mode_name(), "avro_unicode");
    }
}
