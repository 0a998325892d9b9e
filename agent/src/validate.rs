//! Checks of what a caller sends before anything acts on it (pure): operation ids and the
//! parts of a recreate request. A refusal here leaves everything as it was.

use kroll_shared::model::EnvPatch;

/// The longest operation id accepted (the coordinator's are `<run>/<step>[/rollback]`).
pub const MAX_OPERATION_ID: usize = 200;
/// Linux refuses to exec a process with one environment entry this long or longer
/// (`MAX_ARG_STRLEN`, including the terminating NUL).
pub const MAX_ENV_ENTRY: usize = 128 * 1024;
/// The longest environment variable name accepted.
pub const MAX_ENV_NAME: usize = 1024;

/// Why a request is refused before anything is done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("operation_id is required for a mutating call")]
    MissingOperationId,
    #[error("operation_id is {len} bytes long; at most {MAX_OPERATION_ID} are accepted")]
    OperationIdTooLong { len: usize },
    #[error(
        "operation_id may contain only letters, digits and `. _ - : / @ +` (found {found:?} at byte {at})"
    )]
    OperationIdCharacter { found: char, at: usize },
    #[error("environment variable name {name:?} is not valid: {why}")]
    EnvName { name: String, why: &'static str },
    #[error("the value of environment variable `{name}` {why}")]
    EnvValue { name: String, why: String },
    #[error("hostname `{0}` is not a valid host name (letters, digits, `-`, `.`)")]
    Hostname(String),
    #[error("image reference {0:?} is not valid")]
    Image(String),
}

fn id_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/' | '@' | '+')
}

/// An operation id: present, at most [`MAX_OPERATION_ID`] bytes, a small printable charset
/// (ids are written to the audit log and echoed in errors).
pub fn operation_id(id: &str) -> Result<(), Invalid> {
    if id.is_empty() {
        return Err(Invalid::MissingOperationId);
    }
    if id.len() > MAX_OPERATION_ID {
        return Err(Invalid::OperationIdTooLong { len: id.len() });
    }
    match id.char_indices().find(|(_, c)| !id_char_ok(*c)) {
        Some((at, found)) => Err(Invalid::OperationIdCharacter { found, at }),
        None => Ok(()),
    }
}

fn env_name(name: &str) -> Result<(), Invalid> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_ENV_NAME {
        "it is longer than 1024 bytes"
    } else if name.contains('=') {
        "it contains `=`"
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        "it contains whitespace or a control character"
    } else {
        return Ok(());
    };
    Err(Invalid::EnvName {
        name: name.chars().take(64).collect(),
        why,
    })
}

fn env_value(name: &str, value: &str) -> Result<(), Invalid> {
    let why = if value.contains('\0') {
        "contains a NUL byte".to_owned()
    } else if name.len() + 1 + value.len() >= MAX_ENV_ENTRY {
        format!(
            "is {} bytes long: Linux cannot start a process with an environment entry of {MAX_ENV_ENTRY} bytes or more",
            value.len()
        )
    } else {
        return Ok(());
    };
    Err(Invalid::EnvValue {
        name: name.to_owned(),
        why,
    })
}

/// An environment patch: every name valid, every value one a process can be started with.
pub fn env_patch(p: &EnvPatch) -> Result<(), Invalid> {
    for (k, v) in &p.set {
        env_name(k)?;
        env_value(k, v)?;
    }
    for k in &p.remove {
        env_name(k)?;
    }
    for (from, to) in &p.rename {
        env_name(from)?;
        env_name(to)?;
    }
    Ok(())
}

/// A hostname a recreate sets.
pub fn hostname(h: &str) -> Result<(), Invalid> {
    if kroll_shared::inventory::is_dns_name(h) && h.len() <= 253 {
        Ok(())
    } else {
        Err(Invalid::Hostname(h.chars().take(64).collect()))
    }
}

/// An image reference a recreate or pull names.
pub fn image(r: &str) -> Result<(), Invalid> {
    let ok = !r.is_empty()
        && r.len() <= 512
        && !r.starts_with(['-', ':', '/', '@'])
        && r.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Invalid::Image(r.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*) for property tests without a dependency.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % (n as u64)).unwrap_or(0)
        }

        /// A string biased towards the edges: the accepted charset, `=`, NUL, controls,
        /// whitespace, multi-byte characters, lengths around every limit.
        fn string(&mut self) -> String {
            const POOL: &[char] = &[
                'a', 'Z', '0', '9', '.', '_', '-', ':', '/', '@', '+', '=', '\0', '\n', '\t', ' ',
                'é', '€', '\u{7f}', '%', '"', '\\', '*', '&',
            ];
            let len = match self.below(6) {
                0 => 0,
                1 => MAX_OPERATION_ID + self.below(3),
                2 => MAX_OPERATION_ID - self.below(3),
                3 => MAX_ENV_NAME + 1 - self.below(3),
                _ => self.below(40),
            };
            (0..len).map(|_| POOL[self.below(POOL.len())]).collect()
        }
    }

    #[test]
    fn operation_ids_accepted_are_exactly_the_short_printable_ones() {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        for _ in 0..50_000 {
            let s = g.string();
            let expected =
                !s.is_empty() && s.len() <= MAX_OPERATION_ID && s.chars().all(id_char_ok);
            assert_eq!(operation_id(&s).is_ok(), expected, "{s:?}");
            if let Ok(()) = operation_id(&s) {
                assert!(s.bytes().all(|b| b.is_ascii_graphic()), "{s:?}");
            }
        }
        for good in [
            "r1/s",
            "20261203T0940/broker-kafka-01/rollback",
            "remediate/n/c/17",
        ] {
            assert_eq!(operation_id(good), Ok(()));
        }
        assert_eq!(operation_id(""), Err(Invalid::MissingOperationId));
        assert_eq!(
            operation_id(&"x".repeat(3_900_000)),
            Err(Invalid::OperationIdTooLong { len: 3_900_000 })
        );
        assert!(matches!(
            operation_id("a b"),
            Err(Invalid::OperationIdCharacter { found: ' ', at: 1 })
        ));
    }

    #[test]
    fn env_patches_accepted_never_carry_a_name_docker_or_exec_would_refuse() {
        let mut g = Gen(0xD1B5_4A32_D192_ED03);
        for _ in 0..50_000 {
            let (k, v) = (g.string(), g.string());
            let mut p = EnvPatch::setting(&k, &v);
            if g.below(2) == 0 {
                p.rename.insert(g.string(), g.string());
            }
            if g.below(2) == 0 {
                p.remove.push(g.string());
            }
            let names_ok = p
                .set
                .keys()
                .chain(&p.remove)
                .chain(p.rename.keys())
                .chain(p.rename.values())
                .all(|n| {
                    !n.is_empty()
                        && n.len() <= MAX_ENV_NAME
                        && !n.contains('=')
                        && !n.chars().any(|c| c.is_control() || c.is_whitespace())
                });
            let values_ok = !v.contains('\0');
            assert_eq!(env_patch(&p).is_ok(), names_ok && values_ok, "{p:?}");
        }
    }

    #[test]
    fn the_patches_of_the_issue_are_refused_with_their_reason() {
        let empty = EnvPatch::setting("", "x");
        assert!(
            env_patch(&empty)
                .unwrap_err()
                .to_string()
                .contains("is empty")
        );
        let long = EnvPatch::setting("BIG", &"a".repeat(MAX_ENV_ENTRY));
        assert!(
            env_patch(&long)
                .unwrap_err()
                .to_string()
                .contains("Linux cannot start a process")
        );
        assert_eq!(
            env_patch(&EnvPatch::setting("KAFKA_HEAP_OPTS", "-Xmx1g")),
            Ok(())
        );
        assert!(hostname("connect-01").is_ok() && hostname("bad host").is_err());
        assert!(image("reg:5000/bi/kafka:7.7.1").is_ok());
        assert!(image("").is_err() && image("a b").is_err() && image("-x").is_err());
    }
}
