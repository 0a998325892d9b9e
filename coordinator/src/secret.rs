//! Secrets the coordinator reads from a file or an environment variable (never from the
//! inventory itself), and the [`Secret`] type that keeps them out of messages.
//!
//! A [`Secret`] has no `Display` and no `Serialize`, and its `Debug` is `<redacted>`: the
//! only way to its value is [`Secret::expose`], called where it goes on the wire. A failure to
//! read one names the inventory key and the file or variable, never a value.
//!
//! A leaf module (it depends on nothing else of kroll's) so every section with a password
//! — Connect, Schema Registry, Kafka's SASL — reads it the same way.

use std::fmt;
use std::path::{Path, PathBuf};

pub use kroll_shared::rest_access::PasswordSource;

/// A secret value: printed nowhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(kroll_shared::secrets::REDACTED)
    }
}

impl Secret {
    /// A secret made in a unit test.
    #[cfg(test)]
    pub(crate) fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for the one place it is used (a request header, a client config).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A secret that could not be read: names the inventory key and where it was looked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("{key}: cannot read {}: {reason}", path.display())]
    File {
        key: String,
        path: PathBuf,
        reason: String,
    },
    #[error("{key}: the password file {} is empty", path.display())]
    EmptyFile { key: String, path: PathBuf },
    #[error("{key}: the environment variable `{var}` is not set (or not valid UTF-8)")]
    Unset { key: String, var: String },
    #[error("{key}: the environment variable `{var}` is empty")]
    EmptyVar { key: String, var: String },
}

/// Reads the secret of `source`; `section` is the inventory section it was configured in
/// (`[connect]`), for messages. A file's trailing line break is not part of the password.
pub fn read(section: &str, source: &PasswordSource) -> Result<Secret, SecretError> {
    read_with(section, source, |v| std::env::var(v).ok())
}

/// [`read`] with the environment given (for tests).
pub fn read_with(
    section: &str,
    source: &PasswordSource,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Secret, SecretError> {
    match source {
        PasswordSource::File(path) => {
            let key = format!("{section} password_file");
            let text = std::fs::read_to_string(path).map_err(|e| SecretError::File {
                key: key.clone(),
                path: path.clone(),
                reason: kroll_shared::config::io_reason(&e),
            })?;
            let value = trim_line_end(&text);
            if value.is_empty() {
                return Err(SecretError::EmptyFile {
                    key,
                    path: path.clone(),
                });
            }
            Ok(Secret(value.to_owned()))
        }
        PasswordSource::Env(var) => {
            let key = format!("{section} password_env");
            let value = env(var).ok_or_else(|| SecretError::Unset {
                key: key.clone(),
                var: var.clone(),
            })?;
            if value.is_empty() {
                return Err(SecretError::EmptyVar {
                    key,
                    var: var.clone(),
                });
            }
            Ok(Secret(value))
        }
    }
}

fn trim_line_end(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

/// Reads a PEM file the section names, for messages naming the key and the file.
pub fn read_file(section: &str, key: &str, path: &Path) -> Result<Vec<u8>, SecretError> {
    std::fs::read(path).map_err(|e| SecretError::File {
        key: format!("{section} {key}"),
        path: path.to_owned(),
        reason: kroll_shared::config::io_reason(&e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_comes_from_a_file_or_a_variable_and_is_never_shown() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("pw");
        std::fs::write(&file, "hunter2\n").expect("write");
        let s = read("[connect]", &PasswordSource::File(file.clone())).expect("read");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        std::fs::write(&file, "a b\r\n\n").expect("write");
        let s = read("[connect]", &PasswordSource::File(file)).expect("read");
        assert_eq!(s.expose(), "a b\r\n", "only the last line break is trimmed");
        let env = |v: &str| (v == "PW").then(|| "hunter2".to_owned());
        let s =
            read_with("[schema_registry]", &PasswordSource::Env("PW".into()), env).expect("env");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn failures_name_the_key_and_the_file_or_variable() {
        let dir = tempfile::tempdir().expect("tmp");
        let missing = dir.path().join("nothing");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").expect("write");
        let none = |_: &str| None;
        let blank = |_: &str| Some(String::new());
        type Env<'a> = &'a dyn Fn(&str) -> Option<String>;
        let cases: [(PasswordSource, Env<'_>, String); 4] = [
            (
                PasswordSource::File(missing.clone()),
                &none,
                format!(
                    "[connect] password_file: cannot read {}: no such file",
                    missing.display()
                ),
            ),
            (
                PasswordSource::File(empty.clone()),
                &none,
                format!(
                    "[connect] password_file: the password file {} is empty",
                    empty.display()
                ),
            ),
            (
                PasswordSource::Env("KROLL_PW".into()),
                &none,
                "[connect] password_env: the environment variable `KROLL_PW` is not set (or not valid UTF-8)".into(),
            ),
            (
                PasswordSource::Env("KROLL_PW".into()),
                &blank,
                "[connect] password_env: the environment variable `KROLL_PW` is empty".into(),
            ),
        ];
        for (source, env, want) in cases {
            let err = read_with("[connect]", &source, env).expect_err(&want);
            assert_eq!(err.to_string(), want);
        }
        let err = read_file("[connect]", "ca_file", &missing).expect_err("missing");
        assert!(err.to_string().starts_with("[connect] ca_file: "), "{err}");
    }
}
