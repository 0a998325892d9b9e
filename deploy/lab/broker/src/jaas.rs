//! The JAAS login configuration file Kafka reads for SASL (`-Djava.security.auth.login.config=`
//! in `KAFKA_OPTS`), parsed with the grammar of Java's `ConfigFile`:
//!
//! ```text
//! KafkaServer {
//!     org.apache.kafka.common.security.plain.PlainLoginModule required
//!     username="admin" password="…" user_admin="…" user_kroll="…";
//! };
//! ```
//!
//! Sections hold login modules (class, control flag, `key=value` options, `;`); values are bare
//! words or double-quoted strings (`\` escapes the next character); `//` and `/* */` are comments.
//! Errors name the file and the line. Passwords are kept in [`Password`], whose `Debug` never
//! shows them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::BrokerError;

/// Kafka's PLAIN login module class.
pub const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";

/// A password from the JAAS file: compared, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The password itself (for the SASL PLAIN token the inter-broker client sends).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this password (compares every byte, whatever differs first).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let mine = self.0.as_bytes();
        let mut diff = mine.len() ^ candidate.len();
        for (i, b) in candidate.iter().enumerate() {
            diff |= usize::from(mine.get(i).copied().unwrap_or(0) ^ b);
        }
        diff == 0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// One login module entry of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginModule {
    /// Fully qualified class name.
    pub class: String,
    /// `required`, `requisite`, `sufficient` or `optional`.
    pub flag: String,
    /// Options in file order (values may be passwords: never log them).
    pub options: Vec<(String, String)>,
    /// Line of the class name.
    pub line: usize,
}

/// One named section (`KafkaServer`, `sasl_int.KafkaServer`, `Client`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Section name.
    pub name: String,
    /// Its login modules.
    pub modules: Vec<LoginModule>,
    /// Line of the name.
    pub line: usize,
}

/// A parsed JAAS file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Sections in file order.
    pub sections: Vec<Section>,
}

/// PLAIN credentials of one listener: the users it accepts and the broker's own client login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// `user_<name>="<password>"` entries.
    pub users: BTreeMap<String, Password>,
    /// `username` / `password`: what this broker sends when it is the client (inter-broker).
    pub client: Option<(String, Password)>,
    /// The section they came from (for messages).
    pub section: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Punct(char),
}

impl JaasFile {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<Self, BrokerError> {
        let text = std::fs::read_to_string(path)
            .map_err(BrokerError::io("reading the JAAS configuration", path))?;
        Self::parse(path, &text)
    }

    /// Parses `text` (read from `path`, named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, BrokerError> {
        let err = |line: usize, reason: String| BrokerError::Jaas {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let toks = tokenize(text).map_err(|(line, reason)| err(line, reason))?;
        let mut it = toks.into_iter().peekable();
        let mut sections = Vec::new();
        let last_line = text.matches('\n').count() + 1;
        while let Some((line, tok)) = it.next() {
            let Tok::Word(name) = tok else {
                return Err(err(line, format!("expected a section name, found {tok:?}")));
            };
            expect(&mut it, '{', last_line).map_err(|(l, r)| err(l, r))?;
            let mut modules = Vec::new();
            loop {
                match it.next() {
                    Some((_, Tok::Punct('}'))) => break,
                    Some((mline, Tok::Word(class))) => {
                        let flag = match it.next() {
                            Some((_, Tok::Word(f))) => f.to_lowercase(),
                            other => {
                                return Err(err(
                                    other.map_or(last_line, |o| o.0),
                                    format!(
                                        "login module {class} needs a control flag (required, requisite, sufficient or optional)"
                                    ),
                                ));
                            }
                        };
                        if !["required", "requisite", "sufficient", "optional"]
                            .contains(&flag.as_str())
                        {
                            return Err(err(
                                mline,
                                format!(
                                    "login module {class}: `{flag}` is not a control flag (required, requisite, sufficient or optional)"
                                ),
                            ));
                        }
                        let options = module_options(&mut it, &class, last_line)
                            .map_err(|(l, r)| err(l, r))?;
                        modules.push(LoginModule {
                            class,
                            flag,
                            options,
                            line: mline,
                        });
                    }
                    Some((l, other)) => {
                        return Err(err(
                            l,
                            format!(
                                "expected a login module class or `}}` in section {name}, found {other:?}"
                            ),
                        ));
                    }
                    None => {
                        return Err(err(
                            last_line,
                            format!("section {name} is not closed (`}};` missing)"),
                        ));
                    }
                }
            }
            expect(&mut it, ';', last_line).map_err(|(l, r)| err(l, r))?;
            if sections.iter().any(|s: &Section| s.name == name) {
                return Err(err(line, format!("section {name} appears twice")));
            }
            sections.push(Section {
                name,
                modules,
                line,
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            sections,
        })
    }

    /// The PLAIN credentials a SASL listener uses: section `<listener>.KafkaServer` (lower case
    /// listener name), else `KafkaServer` — Kafka's lookup order.
    pub fn plain_for_listener(&self, listener: &str) -> Result<PlainCredentials, BrokerError> {
        let specific = format!("{}.KafkaServer", listener.to_lowercase());
        let section = self
            .sections
            .iter()
            .find(|s| s.name == specific)
            .or_else(|| self.sections.iter().find(|s| s.name == "KafkaServer"))
            .ok_or_else(|| BrokerError::Jaas {
                path: self.path.clone(),
                line: 1,
                reason: format!(
                    "Could not find a '{specific}' or 'KafkaServer' entry in the JAAS configuration (listener {listener} is SASL)"
                ),
            })?;
        let module = section
            .modules
            .iter()
            .find(|m| m.class == PLAIN_LOGIN_MODULE)
            .ok_or_else(|| BrokerError::Jaas {
                path: self.path.clone(),
                line: section.line,
                reason: format!(
                    "section {} has no {PLAIN_LOGIN_MODULE} (the lab serves SASL mechanism PLAIN only)",
                    section.name
                ),
            })?;
        let mut users = BTreeMap::new();
        let mut username = None;
        let mut password = None;
        for (key, value) in &module.options {
            if let Some(user) = key.strip_prefix("user_") {
                users.insert(user.to_string(), Password::new(value.clone()));
            } else if key == "username" {
                username = Some(value.clone());
            } else if key == "password" {
                password = Some(Password::new(value.clone()));
            }
        }
        let client = match (username, password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(BrokerError::Jaas {
                    path: self.path.clone(),
                    line: module.line,
                    reason: format!(
                        "section {}: `username` and `password` go together (the broker's own inter-broker login)",
                        section.name
                    ),
                });
            }
        };
        Ok(PlainCredentials {
            users,
            client,
            section: section.name.clone(),
        })
    }
}

type Toks = std::iter::Peekable<std::vec::IntoIter<(usize, Tok)>>;

fn expect(it: &mut Toks, want: char, last_line: usize) -> Result<(), (usize, String)> {
    match it.next() {
        Some((_, Tok::Punct(c))) if c == want => Ok(()),
        Some((line, other)) => Err((line, format!("expected `{want}`, found {other:?}"))),
        None => Err((last_line, format!("expected `{want}` at end of file"))),
    }
}

fn module_options(
    it: &mut Toks,
    class: &str,
    last_line: usize,
) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut options: Vec<(String, String)> = Vec::new();
    loop {
        match it.next() {
            Some((_, Tok::Punct(';'))) => return Ok(options),
            Some((line, Tok::Word(key))) => {
                expect(it, '=', last_line)
                    .map_err(|(l, _)| (l, format!("option `{key}` of {class} needs `=value`")))?;
                let value = match it.next() {
                    Some((_, Tok::Word(v) | Tok::Quoted(v))) => v,
                    _ => return Err((line, format!("option `{key}` of {class} has no value"))),
                };
                if options.iter().any(|(k, _)| *k == key) {
                    return Err((line, format!("option `{key}` of {class} is given twice")));
                }
                options.push((key, value));
            }
            Some((line, other)) => {
                return Err((
                    line,
                    format!(
                        "expected an option or `;` after login module {class}, found {other:?}"
                    ),
                ));
            }
            None => {
                return Err((
                    last_line,
                    format!("login module {class} is not ended with `;`"),
                ));
            }
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(usize, Tok)>, (usize, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let start = line;
                i += 2;
                loop {
                    match chars.get(i) {
                        None => return Err((start, "comment `/*` is not closed".into())),
                        Some('*') if chars.get(i + 1) == Some(&'/') => {
                            i += 2;
                            break;
                        }
                        Some('\n') => line += 1,
                        Some(_) => {}
                    }
                    i += 1;
                }
            }
            '{' | '}' | ';' | '=' => {
                out.push((line, Tok::Punct(c)));
                i += 1;
            }
            '"' => {
                let start = line;
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err((
                                start,
                                "quoted value is not closed (`\"` missing)".into(),
                            ));
                        }
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some(n) => value.push(*n),
                                None => return Err((start, "quoted value is not closed".into())),
                            }
                        }
                        Some(ch) => {
                            if *ch == '\n' {
                                line += 1;
                            }
                            value.push(*ch);
                        }
                    }
                    i += 1;
                }
                i += 1;
                out.push((start, Tok::Quoted(value)));
            }
            c if is_word_char(c) => {
                let mut word = String::new();
                while let Some(&ch) = chars.get(i).filter(|ch| is_word_char(**ch)) {
                    word.push(ch);
                    i += 1;
                }
                out.push((line, Tok::Word(word)));
            }
            other => return Err((line, format!("unexpected character `{other}`"))),
        }
    }
    Ok(out)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '$' | '*' | '/' | ':' | '@')
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOURNAL: &str = r#"
// the broker's JAAS file, as a Docker secret
KafkaServer {
    org.apache.kafka.common.security.plain.PlainLoginModule required
    username="admin"
    password="admin-secret"
    user_admin="admin-secret"
    user_kroll="kroll \"quoted\" secret";
};
/* ZooKeeper client login: not used by the lab */
Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username=kafka password=zk-secret;
};
"#;

    fn parse(text: &str) -> Result<JaasFile, BrokerError> {
        JaasFile::parse(Path::new("/run/secrets/KAFKA_JAAS"), text)
    }

    #[test]
    fn the_journal_style_file_gives_users_and_the_inter_broker_login() {
        let file = parse(JOURNAL).expect("parses");
        assert_eq!(file.sections.len(), 2);
        assert_eq!(file.sections[0].line, 3);
        let creds = file.plain_for_listener("SASL_INT").expect("plain");
        assert_eq!(creds.section, "KafkaServer");
        let (user, pw) = creds.client.as_ref().expect("client login");
        assert_eq!(user, "admin");
        assert!(pw.matches(b"admin-secret"));
        assert!(creds.users["kroll"].matches(br#"kroll "quoted" secret"#));
        assert!(!creds.users["kroll"].matches(b"kroll"));
        assert!(!creds.users["admin"].matches(b"admin-secret-longer"));
        assert_eq!(creds.users.len(), 2);
    }

    #[test]
    fn a_listener_specific_section_wins() {
        let text = format!(
            "{JOURNAL}\nsasl_ext.KafkaServer {{\n {PLAIN_LOGIN_MODULE} required user_ext=\"e\";\n}};\n"
        );
        let file = parse(&text).expect("parses");
        let ext = file.plain_for_listener("SASL_EXT").expect("ext");
        assert_eq!(ext.section, "sasl_ext.KafkaServer");
        assert!(ext.client.is_none());
        assert_eq!(ext.users.keys().collect::<Vec<_>>(), ["ext"]);
        assert_eq!(
            file.plain_for_listener("SASL_INT").expect("int").section,
            "KafkaServer"
        );
    }

    #[test]
    fn passwords_never_show_in_debug() {
        let file = parse(JOURNAL).expect("parses");
        let creds = file.plain_for_listener("SASL_INT").expect("plain");
        let shown = format!("{creds:?}");
        assert!(!shown.contains("admin-secret"), "{shown}");
        assert!(!shown.contains("quoted"), "{shown}");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "KafkaServer {\n  x.Y required a=\"b\"\n",
                3,
                "not ended with `;`",
            ),
            (
                "KafkaServer {\n  x.Y maybe a=b;\n};",
                2,
                "not a control flag",
            ),
            ("KafkaServer {\n  x.Y required a=;\n};", 2, "has no value"),
            ("KafkaServer {\n  x.Y required a=\"b;\n};", 2, "not closed"),
            (
                "KafkaServer {\n  x.Y required a=b a=c;\n};",
                2,
                "given twice",
            ),
            ("KafkaServer {\n};\nKafkaServer {\n};", 3, "appears twice"),
            ("KafkaServer {\n};\n/* open", 3, "comment"),
            ("KafkaServer {\n x.Y required a=b;\n}", 3, "expected `;`"),
            ("\n\n# not a comment\n", 3, "unexpected character `#`"),
        ];
        for (text, line, what) in cases {
            let e = parse(text).expect_err(text).to_string();
            assert!(
                e.starts_with(&format!(
                    "JAAS configuration /run/secrets/KAFKA_JAAS line {line}:"
                )),
                "{text:?}: {e}"
            );
            assert!(e.contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn missing_sections_and_modules_are_named() {
        let file = parse("Client {\n a.B required;\n};").expect("parses");
        let e = file
            .plain_for_listener("SASL_INT")
            .expect_err("no section")
            .to_string();
        assert!(e.contains("'sasl_int.KafkaServer' or 'KafkaServer'"), "{e}");
        let file = parse("KafkaServer {\n a.B required;\n};").expect("parses");
        let e = file
            .plain_for_listener("SASL_INT")
            .expect_err("no plain")
            .to_string();
        assert!(e.contains("PlainLoginModule"), "{e}");
        let file = parse(&format!(
            "KafkaServer {{\n {PLAIN_LOGIN_MODULE} required username=a;\n}};"
        ))
        .expect("parses");
        let e = file
            .plain_for_listener("SASL_INT")
            .expect_err("half login")
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }
}
