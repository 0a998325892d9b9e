//! Reading TOML configuration so that every error names the file, the line and the key.
//!
//! [`Document::read`] loads a file; [`Document::parse`] deserialises it (types should use
//! `#[serde(deny_unknown_fields)]` so that a typo is an error, not a silently ignored key);
//! [`Document::invalid`] turns a semantic problem found after parsing ("two nodes named
//! rhodrylab-01") into an error that points at the offending key's line.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

/// A configuration file that could not be used. Every variant names the file; parse and
/// validation errors also name the line and, where known, the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The OS error is said once, in words (not also as the error's `source`, which callers
    /// that print the chain of causes would repeat; thiserror makes a field named `source` one).
    #[error("{path}: cannot read the file: {}", io_reason(cause))]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {key_part}{message}", key_part = key_prefix(key.as_deref()))]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    #[error("{path}:{line}: key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
}

/// An OS error in words: "no such file", "permission denied", else the OS's text.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => e.to_string(),
    }
}

fn key_prefix(key: Option<&str>) -> String {
    key.map(|k| format!("key `{k}`: ")).unwrap_or_default()
}

impl ConfigError {
    /// The line the error points at (1-based), when it points at one.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Read { .. } => None,
            Self::Parse { line, .. } | Self::Invalid { line, .. } => Some(*line),
        }
    }

    /// The key the error is about, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Read { .. } => None,
            Self::Parse { key, .. } => key.as_deref(),
            Self::Invalid { key, .. } => Some(key),
        }
    }
}

/// One segment of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path to a value in a document, e.g. `nodes[1].services[0].container`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    /// The root of the document.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path extended by a table key.
    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_owned()));
        Self(v)
    }

    /// This path extended by an array index.
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        Self(v)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The text of a TOML file and where it came from.
#[derive(Debug, Clone)]
pub struct Document {
    path: PathBuf,
    text: String,
}

impl Document {
    /// Reads a file.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })?;
        Ok(Self {
            path: path.to_owned(),
            text,
        })
    }

    /// A document from text already in memory (`path` is only used in messages).
    pub fn from_text(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// Where the document came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory relative paths in the document are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// Resolves a path written in the document relative to the document's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir().join(p)
        }
    }

    /// Deserialises the document; errors carry the file, line, column and (when it can be
    /// told) the key.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(&self.text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            let (line, column) = self.line_col(offset);
            ConfigError::Parse {
                path: self.path.clone(),
                line,
                column,
                key: self.key_at(offset, e.message()),
                message: e.message().trim().to_owned(),
            }
        })
    }

    /// An error about the value at `key` (found after parsing), pointing at its line.
    pub fn invalid(&self, key: &KeyPath, message: impl Into<String>) -> ConfigError {
        let line = self.locate(key).map(|o| self.line_col(o).0).unwrap_or(1);
        ConfigError::Invalid {
            path: self.path.clone(),
            line,
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Byte offset of the value at `key`, or of its nearest existing ancestor.
    fn locate(&self, key: &KeyPath) -> Option<usize> {
        let root = DeTable::parse(&self.text).ok()?;
        let mut offset = root.span().start;
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
        for seg in &key.0 {
            let value = match seg {
                Seg::Key(k) => table?
                    .iter()
                    .find(|(name, _)| name.get_ref() == k)
                    .map(|(_, v)| v),
                Seg::Index(i) => array.and_then(|a| a.get(*i)),
            };
            let Some(value) = value else { break };
            offset = value.span().start;
            table = value.get_ref().as_table();
            array = value.get_ref().as_array().map(|a| &a[..]);
        }
        Some(offset)
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset.min(self.text.len())).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// The key an error is about: the innermost key whose value (or name) spans `offset`,
    /// extended by the field serde names in "missing field `x`" style messages. Falls back to
    /// the `key = …` written on the line when the text does not parse as TOML at all.
    fn key_at(&self, offset: usize, message: &str) -> Option<String> {
        let named = message.split('`').nth(1).filter(|_| {
            [
                "unknown field",
                "missing field",
                "duplicate key",
                "duplicate field",
            ]
            .iter()
            .any(|m| message.contains(m))
        });
        let Ok(root) = DeTable::parse(&self.text) else {
            return self.key_on_line(offset);
        };
        let mut path = KeyPath(path_at(root.get_ref(), offset).unwrap_or_default());
        if let Some(named) = named
            && path.0.last() != Some(&Seg::Key(named.to_owned()))
        {
            path = path.key(named);
        }
        if path.0.is_empty() {
            None
        } else {
            Some(path.to_string())
        }
    }

    fn key_on_line(&self, offset: usize) -> Option<String> {
        let before = self.text.get(..offset.min(self.text.len())).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[line_start..].lines().next().unwrap_or("");
        line.split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_owned())
            .filter(|k| !k.is_empty() && !k.starts_with('['))
    }
}

/// The path to the innermost key of `table` whose name or value spans `offset`. Tables opened
/// by a `[header]` only span their header, so children are searched before their parents.
fn path_at(table: &DeTable<'_>, offset: usize) -> Option<Vec<Seg>> {
    for (name, value) in table.iter() {
        let key = Seg::Key(name.get_ref().to_string());
        if name.span().contains(&offset) {
            return Some(vec![key]);
        }
        if let Some(mut rest) = path_in(value.get_ref(), offset) {
            rest.insert(0, key);
            return Some(rest);
        }
        if value.span().contains(&offset) {
            return Some(vec![key]);
        }
    }
    None
}

fn path_in(value: &DeValue<'_>, offset: usize) -> Option<Vec<Seg>> {
    if let Some(t) = value.as_table() {
        return path_at(t, offset);
    }
    for (i, item) in value.as_array()?.iter().enumerate() {
        if let Some(mut rest) = path_in(item.get_ref(), offset) {
            rest.insert(0, Seg::Index(i));
            return Some(rest);
        }
        if item.span().contains(&offset) {
            return Some(vec![Seg::Index(i)]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Conf {
        name: String,
        server: Server,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Server {
        port: u16,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        id: u32,
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let doc = Document::from_text("a.toml", "name = \"x\"\n[server]\nport = 1\nprot = 2\n");
        let err = doc.parse::<Conf>().unwrap_err();
        assert_eq!(err.line(), Some(4), "{err}");
        assert_eq!(err.key(), Some("server.prot"), "{err}");
        assert!(err.to_string().starts_with("a.toml:4:"), "{err}");
    }

    #[test]
    fn type_errors_name_the_key_on_the_line() {
        let doc = Document::from_text("b.toml", "name = \"x\"\n\n[server]\nport = \"eighty\"\n");
        let err = doc.parse::<Conf>().unwrap_err();
        assert_eq!(err.line(), Some(4), "{err}");
        assert_eq!(err.key(), Some("server.port"), "{err}");
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let doc = Document::from_text("c.toml", "name = \"x\"\n[server\nport = 1\n");
        let err = doc.parse::<Conf>().unwrap_err();
        assert_eq!(err.line(), Some(2), "{err}");
    }

    #[test]
    fn semantic_errors_locate_nested_array_keys() {
        let text = "name = \"x\"\n[server]\nport = 1\n[[items]]\nid = 1\n[[items]]\nid = 1\n";
        let doc = Document::from_text("d.toml", text);
        doc.parse::<Conf>().expect("valid");
        let key = KeyPath::root().key("items").index(1).key("id");
        let err = doc.invalid(&key, "duplicate id 1");
        assert_eq!(
            err.to_string(),
            "d.toml:7: key `items[1].id`: duplicate id 1"
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_documents_directory() {
        let doc = Document::from_text("/etc/kroll/agent.toml", "");
        assert_eq!(
            doc.resolve(Path::new("certs/ca.pem")),
            PathBuf::from("/etc/kroll/certs/ca.pem")
        );
        assert_eq!(
            doc.resolve(Path::new("/abs.pem")),
            PathBuf::from("/abs.pem")
        );
        let bare = Document::from_text("agent.toml", "");
        assert_eq!(bare.resolve(Path::new("ca.pem")), PathBuf::from("./ca.pem"));
    }
}
