//! The tables a Debezium MySQL connector captures, as far as its config tells.
//!
//! Debezium's filters are comma-separated Java regexes matched case-insensitively
//! against the whole `db.table` (tables) or `db` (databases). An include-list
//! entry that is a plain name (`shop.orders`, `shop\.orders`) names a table; any
//! other entry is a pattern and can only be evaluated against table names the
//! caller supplies. Both 1.9 (`table.whitelist`, …) and 3.0 spellings are read.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::error::FilterError;
use crate::route::whole_match;

/// A MySQL table: database and table name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TableId {
    /// The database (MySQL schema) name.
    pub database: String,
    /// The table name.
    pub table: String,
}

impl TableId {
    /// A table id.
    pub fn new(database: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            table: table.into(),
        }
    }

    /// Parses `db.table` (exactly one dot, both parts non-empty).
    pub fn parse(text: &str) -> Option<Self> {
        let (database, table) = text.split_once('.')?;
        let valid = !database.is_empty() && !table.is_empty() && !table.contains('.');
        valid.then(|| Self::new(database, table))
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.database, self.table)
    }
}

/// The captured tables of a connector.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CapturedTables {
    /// Tables known to be captured, sorted.
    pub tables: Vec<TableId>,
    /// Whether `tables` is every table the connector captures (only when the table
    /// include list consists of plain names).
    pub complete: bool,
    /// Include-list entries that are patterns rather than names.
    pub patterns: Vec<String>,
}

/// Splits a Debezium list on commas not escaped with a backslash; entries trimmed.
fn split_list(list: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in list.chars() {
        if c == ',' && !escaped {
            entries.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
        escaped = c == '\\' && !escaped;
    }
    entries.push(current);
    entries
        .into_iter()
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect()
}

/// The table an include-list entry names, if it is a plain name.
fn literal_table(entry: &str) -> Option<TableId> {
    let unescaped = entry.replace(r"\.", ".");
    let special = |c: char| r"\^$*+?()[]{}|".contains(c);
    if unescaped.contains(special) {
        return None;
    }
    TableId::parse(&unescaped)
}

struct Filter {
    entries: Vec<String>,
    patterns: Vec<Regex>,
}

impl Filter {
    /// Reads the first of `keys` present (3.0 spelling first).
    fn read(config: &Config, keys: [&'static str; 2]) -> Result<Option<Self>, FilterError> {
        let Some((key, list)) = keys
            .iter()
            .find_map(|key| config.get(*key).map(|list| (*key, list)))
        else {
            return Ok(None);
        };
        let entries = split_list(list);
        let patterns = entries
            .iter()
            .map(|entry| {
                whole_match(entry, true).map_err(|e| FilterError {
                    key: key.to_owned(),
                    pattern: entry.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(Self { entries, patterns }))
    }

    fn matches(&self, text: &str) -> bool {
        self.patterns.iter().any(|p| p.is_match(text))
    }
}

/// The tables `config` captures, from its filters and the tables the caller knows of.
pub fn captured_tables(config: &Config, known: &[TableId]) -> Result<CapturedTables, FilterError> {
    let table_include = Filter::read(config, ["table.include.list", "table.whitelist"])?;
    let table_exclude = Filter::read(config, ["table.exclude.list", "table.blacklist"])?;
    let db_include = Filter::read(config, ["database.include.list", "database.whitelist"])?;
    let db_exclude = Filter::read(config, ["database.exclude.list", "database.blacklist"])?;

    let mut candidates: Vec<TableId> = known.to_vec();
    let mut patterns = Vec::new();
    if let Some(include) = &table_include {
        for entry in &include.entries {
            match literal_table(entry) {
                Some(table) => candidates.push(table),
                None => patterns.push(entry.clone()),
            }
        }
    }
    let captured = |table: &TableId| {
        let name = table.to_string();
        table_include.as_ref().is_none_or(|f| f.matches(&name))
            && !table_exclude.as_ref().is_some_and(|f| f.matches(&name))
            && db_include
                .as_ref()
                .is_none_or(|f| f.matches(&table.database))
            && !db_exclude
                .as_ref()
                .is_some_and(|f| f.matches(&table.database))
    };
    let mut tables: Vec<TableId> = candidates.into_iter().filter(|t| captured(t)).collect();
    tables.sort();
    tables.dedup_by(|a, b| a.to_string().eq_ignore_ascii_case(&b.to_string()));
    let complete = table_include.is_some() && patterns.is_empty();
    Ok(CapturedTables {
        tables,
        complete,
        patterns,
    })
}

/// The filter keys read by [`captured_tables`] that are present in `config`.
pub fn filter_keys(config: &Config) -> Vec<&'static str> {
    [
        "table.include.list",
        "table.whitelist",
        "table.exclude.list",
        "table.blacklist",
        "database.include.list",
        "database.whitelist",
        "database.exclude.list",
        "database.blacklist",
    ]
    .into_iter()
    .filter(|key| config.contains_key(*key))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn plain_include_entries_name_tables_and_make_the_set_complete() {
        let cfg = config(&[(
            "table.whitelist",
            r"digikala_fulfillment\.receipts, digikala_fulfillment.shipments",
        )]);
        let captured = captured_tables(&cfg, &[]).expect("valid filters");
        assert!(captured.complete);
        assert_eq!(
            captured.tables,
            vec![
                TableId::new("digikala_fulfillment", "receipts"),
                TableId::new("digikala_fulfillment", "shipments")
            ]
        );
    }

    #[test]
    fn patterns_filter_known_tables_case_insensitively() {
        let cfg = config(&[
            ("table.include.list", r"shop\.order_.*,shop.users"),
            ("database.exclude.list", "archive"),
        ]);
        let known = [
            TableId::new("shop", "ORDER_lines"),
            TableId::new("shop", "payments"),
            TableId::new("archive", "users"),
        ];
        let captured = captured_tables(&cfg, &known).expect("valid filters");
        assert!(!captured.complete);
        assert_eq!(captured.patterns, vec![r"shop\.order_.*".to_owned()]);
        assert_eq!(
            captured.tables,
            vec![
                TableId::new("shop", "ORDER_lines"),
                TableId::new("shop", "users")
            ]
        );
    }

    #[test]
    fn database_lists_and_exclusions_apply_to_known_tables() {
        let cfg = config(&[
            ("database.whitelist", "shop"),
            ("table.blacklist", r"shop\.tmp_.*"),
        ]);
        let known = [
            TableId::new("shop", "orders"),
            TableId::new("shop", "tmp_x"),
            TableId::new("other", "orders"),
        ];
        let captured = captured_tables(&cfg, &known).expect("valid filters");
        assert_eq!(captured.tables, vec![TableId::new("shop", "orders")]);
        assert!(!captured.complete);
        assert_eq!(
            filter_keys(&cfg),
            vec!["table.blacklist", "database.whitelist"]
        );
    }

    #[test]
    fn escaped_commas_stay_inside_an_entry_and_bad_patterns_are_errors() {
        assert_eq!(
            split_list(r"a\,b, c"),
            vec![r"a\,b".to_owned(), "c".to_owned()]
        );
        let err = captured_tables(&config(&[("table.include.list", "a.(b")]), &[])
            .expect_err("unbalanced");
        assert_eq!(err.key, "table.include.list");
        assert_eq!(TableId::parse("a.b.c"), None);
    }
}
