//! How the coordinator reaches a REST service over HTTPS with basic auth: the inventory's
//! `[connect]` and `[schema_registry]` sections (the services' URLs stay on their
//! `[[nodes]].services` entries).
//!
//! ```toml
//! [connect]
//! ca_file = "certs/rest-ca.pem"         # trust only this CA bundle (absent: the system roots)
//! cert_file = "certs/kroll-rest.pem"    # optional client certificate for mutual TLS …
//! key_file = "certs/kroll-rest-key.pem" # … and its key (both or neither)
//! username = "kroll"
//! password_file = "/run/secrets/connect-password"   # or password_env = "KROLL_CONNECT_PASSWORD"
//! ```
//!
//! A password is never written in the inventory: an inline `password` is refused (its value is
//! discarded unread, so no error can echo it), and so are credentials in a service URL
//! (`https://user:pass@host`). This module only checks the shape; the coordinator reads the
//! files and the variable when it builds its clients (`kroll::secret`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Document, KeyPath};

/// `[connect]` / `[schema_registry]`: TLS trust, client certificate and basic auth.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestAccess {
    /// A PEM bundle of CA certificates: when set, the only roots trusted for this service
    /// (a private CA should not be widened by the public ones); absent, the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// A PEM client certificate (chain) for services that require mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// The PEM private key of `cert_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// The HTTP basic-auth user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A file whose content (trailing newline trimmed) is the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// An environment variable of the coordinator's process that holds the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// An inline password: accepted by the parser only to be refused by name. Its value is
    /// never kept (`IgnoredAny`), so it cannot reach a message, a log or `Debug`.
    #[serde(default, skip_serializing)]
    pub password: Option<serde::de::IgnoredAny>,
}

/// Where a password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// `password_file`: the file's content.
    File(PathBuf),
    /// `password_env`: the variable's value.
    Env(String),
}

impl RestAccess {
    /// Where the password comes from, when one is configured.
    pub fn password_source(&self) -> Option<PasswordSource> {
        password_source(&self.password_file, &self.password_env)
    }

    /// Checks the section's shape; `at` is its key (`connect`, `schema_registry`).
    pub fn validate(&self, doc: &Document, at: &KeyPath) -> Result<(), ConfigError> {
        check_password_keys(
            doc,
            at,
            self.password.is_some(),
            &self.password_file,
            &self.password_env,
        )?;
        let has_password = self.password_file.is_some() || self.password_env.is_some();
        match &self.username {
            Some(u) if u.is_empty() || u.contains(':') => {
                return Err(doc.invalid(
                    &at.key("username"),
                    "must not be empty nor contain `:` (HTTP basic auth separates user and password with it)",
                ));
            }
            Some(_) if !has_password => {
                return Err(doc.invalid(
                    &at.key("username"),
                    "a username needs a password: add `password_file` or `password_env`",
                ));
            }
            None if has_password => {
                let key = if self.password_file.is_some() {
                    "password_file"
                } else {
                    "password_env"
                };
                return Err(doc.invalid(
                    &at.key(key),
                    "a password needs a `username` (HTTP basic auth)",
                ));
            }
            _ => {}
        }
        check_key_pair(doc, at, &self.cert_file, &self.key_file)
    }

    /// Resolves the section's paths against the inventory's directory.
    pub fn resolve_paths(&mut self, doc: &Document) {
        resolve_each(
            doc,
            [
                &mut self.ca_file,
                &mut self.cert_file,
                &mut self.key_file,
                &mut self.password_file,
            ],
        );
    }
}

/// Resolves each of a section's paths that is set against the inventory's directory.
pub(crate) fn resolve_each<const N: usize>(doc: &Document, paths: [&mut Option<PathBuf>; N]) {
    for p in paths.into_iter().flatten() {
        *p = doc.resolve(p);
    }
}

/// Loads section `[name]` (`body` its lines) of an inventory at `/etc/kroll/inventory.toml`,
/// then `finish` validates it and resolves its paths: how the unit tests of `[kafka]`,
/// `[connect]` and `[schema_registry]` load what they check.
#[cfg(test)]
pub(crate) fn load_section<T: serde::de::DeserializeOwned>(
    name: &str,
    body: &str,
    finish: impl FnOnce(&mut T, &Document, &KeyPath) -> Result<(), ConfigError>,
) -> Result<T, ConfigError> {
    let doc = Document::from_text("/etc/kroll/inventory.toml", format!("[{name}]\n{body}"));
    let mut sections: std::collections::BTreeMap<String, T> = doc.parse()?;
    let Some(mut section) = sections.remove(name) else {
        panic!("[{name}] was not parsed");
    };
    finish(&mut section, &doc, &KeyPath::root().key(name))?;
    Ok(section)
}

/// Where a password comes from: `password_file` wins (both are refused by validation).
pub(crate) fn password_source(
    file: &Option<PathBuf>,
    env: &Option<String>,
) -> Option<PasswordSource> {
    match (file, env) {
        (Some(f), _) => Some(PasswordSource::File(f.clone())),
        (None, Some(v)) => Some(PasswordSource::Env(v.clone())),
        (None, None) => None,
    }
}

/// The password keys every section with a password shares: an inline `password` is refused
/// (`inline`: it was given; its value was never kept), `password_file` and `password_env`
/// exclude each other, and the variable must be a name.
pub(crate) fn check_password_keys(
    doc: &Document,
    at: &KeyPath,
    inline: bool,
    file: &Option<PathBuf>,
    env: &Option<String>,
) -> Result<(), ConfigError> {
    if inline {
        return Err(doc.invalid(
            &at.key("password"),
            "an inline password is refused (an inventory is read, copied and shown): put it in a file readable only by kroll and name it with `password_file`, or in an environment variable named with `password_env`",
        ));
    }
    if file.is_some() && env.is_some() {
        return Err(doc.invalid(
            &at.key("password_env"),
            "give `password_file` or `password_env`, not both",
        ));
    }
    if let Some(v) = env
        && (v.is_empty() || v.contains('=') || v.contains('\0'))
    {
        return Err(doc.invalid(
            &at.key("password_env"),
            "is not an environment variable name",
        ));
    }
    Ok(())
}

/// A client certificate and its key come together.
pub(crate) fn check_key_pair(
    doc: &Document,
    at: &KeyPath,
    cert: &Option<PathBuf>,
    key: &Option<PathBuf>,
) -> Result<(), ConfigError> {
    match (cert, key) {
        (Some(_), None) => Err(doc.invalid(
            &at.key("cert_file"),
            "a client certificate needs its `key_file`",
        )),
        (None, Some(_)) => {
            Err(doc.invalid(&at.key("key_file"), "a client key needs its `cert_file`"))
        }
        _ => Ok(()),
    }
}

/// Whether a URL carries user info (`scheme://user[:pass]@host`), which kroll refuses: the URL
/// is printed in every message.
pub fn url_has_credentials(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest[..authority_end].contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(section: &str) -> Result<RestAccess, ConfigError> {
        load_section("connect", section, |a: &mut RestAccess, doc, at| {
            a.validate(doc, at)?;
            a.resolve_paths(doc);
            Ok(())
        })
    }

    #[test]
    fn a_full_section_loads_with_resolved_paths() {
        let a = check(
            "ca_file = \"ca.pem\"\ncert_file = \"c.pem\"\nkey_file = \"/k.pem\"\nusername = \"kroll\"\npassword_file = \"pw\"\n",
        )
        .expect("valid");
        assert_eq!(a.ca_file, Some(PathBuf::from("/etc/kroll/ca.pem")));
        assert_eq!(a.key_file, Some(PathBuf::from("/k.pem")));
        assert_eq!(
            a.password_source(),
            Some(PasswordSource::File("/etc/kroll/pw".into()))
        );
        let env = check("username = \"kroll\"\npassword_env = \"CONNECT_PW\"\n").expect("valid");
        assert_eq!(
            env.password_source(),
            Some(PasswordSource::Env("CONNECT_PW".into()))
        );
        assert_eq!(check("").expect("empty is fine"), RestAccess::default());
    }

    #[test]
    fn mistakes_are_named_by_key_and_an_inline_password_is_never_echoed() {
        let cases = [
            (
                "username = \"kroll\"\npassword = \"hunter2\"\n",
                "connect.password",
                "an inline password is refused",
            ),
            (
                "username = \"kroll\"\npassword_file = \"f\"\npassword_env = \"E\"\n",
                "connect.password_env",
                "not both",
            ),
            (
                "username = \"kroll\"\n",
                "connect.username",
                "needs a password",
            ),
            (
                "password_env = \"E\"\n",
                "connect.password_env",
                "needs a `username`",
            ),
            (
                "username = \"a:b\"\npassword_env = \"E\"\n",
                "connect.username",
                "must not be empty nor contain `:`",
            ),
            (
                "username = \"k\"\npassword_env = \"A=B\"\n",
                "connect.password_env",
                "not an environment variable name",
            ),
            (
                "cert_file = \"c.pem\"\n",
                "connect.cert_file",
                "needs its `key_file`",
            ),
            (
                "key_file = \"k.pem\"\n",
                "connect.key_file",
                "needs its `cert_file`",
            ),
        ];
        for (section, key, says) in cases {
            let err = check(section).expect_err(section);
            let text = err.to_string();
            assert_eq!(err.key(), Some(key), "{text}");
            assert!(text.contains(says), "{text}");
            assert!(text.contains("/etc/kroll/inventory.toml"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        let err = check("passwd = \"hunter2\"\n").expect_err("unknown key");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("passwd"), "{err}");
    }

    #[test]
    fn credentials_in_urls_are_found() {
        for (url, has) in [
            ("https://u:p@h:8083", true),
            ("https://u@h:8083/", true),
            ("https://h:8083/a@b", false),
            ("https://h:8083?x=a@b", false),
            ("http://127.0.0.1:1", false),
        ] {
            assert_eq!(url_has_credentials(url), has, "{url}");
        }
    }
}
