//! `${VARIABLE}` substitution as `docker stack deploy` (Docker 20.10) does it.
//!
//! `$$` is a literal `$`; `$NAME` and `${NAME}` substitute; `${NAME:-default}` /
//! `${NAME-default}` fall back when unset-or-empty / unset; `${NAME:?message}` /
//! `${NAME?message}` require the variable. Docker substitutes an empty string for
//! an unset variable without a default and only warns; kroll refuses instead
//! ([`InterpolateError::Unset`]), since comparing against a blank is a guess.

use std::collections::BTreeMap;

use crate::error::InterpolateError;

/// Variables for interpolation: name → value.
pub type Vars = BTreeMap<String, String>;

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// Substitutes every variable in `text`.
pub fn interpolate(text: &str, vars: &Vars) -> Result<String, InterpolateError> {
    let invalid = || InterpolateError::Invalid(text.to_owned());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let next = after.chars().next();
        if next == Some('$') {
            out.push('$');
            rest = &after[1..];
        } else if next == Some('{') {
            let close = after.find('}').ok_or_else(invalid)?;
            out.push_str(&braced(&after[1..close], vars).ok_or_else(invalid)??);
            rest = &after[close + 1..];
        } else if next.is_some_and(is_name_start) {
            let len = after.find(|c| !is_name_char(c)).unwrap_or(after.len());
            let name = &after[..len];
            let value = vars
                .get(name)
                .ok_or_else(|| InterpolateError::Unset(name.to_owned()))?;
            out.push_str(value);
            rest = &after[len..];
        } else {
            return Err(invalid());
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The body of `${…}`; `None` when it is not a valid substitution.
fn braced(body: &str, vars: &Vars) -> Option<Result<String, InterpolateError>> {
    let name_len = body.find(|c| !is_name_char(c)).unwrap_or(body.len());
    let (name, modifier) = body.split_at(name_len);
    if !name.starts_with(is_name_start) {
        return None;
    }
    let value = vars.get(name);
    let set_nonempty = value.filter(|v| !v.is_empty());
    let result = match modifier {
        "" => value
            .cloned()
            .ok_or_else(|| InterpolateError::Unset(name.to_owned())),
        m if m.starts_with(":-") => Ok(set_nonempty.cloned().unwrap_or_else(|| m[2..].to_owned())),
        m if m.starts_with('-') => Ok(value.cloned().unwrap_or_else(|| m[1..].to_owned())),
        m if m.starts_with(":?") => set_nonempty.cloned().ok_or_else(|| required(name, &m[2..])),
        m if m.starts_with('?') => value.cloned().ok_or_else(|| required(name, &m[1..])),
        _ => return None,
    };
    Some(result)
}

fn required(name: &str, message: &str) -> InterpolateError {
    InterpolateError::Required {
        name: name.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutions_follow_docker_stack_deploy() {
        let vars: Vars = [
            ("CI_REGISTRY_IMAGE", "registry.example/bi/rhodry"),
            ("EMPTY", ""),
            ("PORT", "8083"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let table: &[(&str, Result<&str, InterpolateError>)] = &[
            (
                "${CI_REGISTRY_IMAGE}/kafka",
                Ok("registry.example/bi/rhodry/kafka"),
            ),
            ("$PORT:8083", Ok("8083:8083")),
            ("$$HOME", Ok("$HOME")),
            ("${MISSING:-dflt}", Ok("dflt")),
            ("${EMPTY:-dflt}", Ok("dflt")),
            ("${EMPTY-dflt}", Ok("")),
            ("${MISSING-x}y", Ok("xy")),
            ("no variables", Ok("no variables")),
            ("${MISSING}", Err(InterpolateError::Unset("MISSING".into()))),
            ("$MISSING", Err(InterpolateError::Unset("MISSING".into()))),
            (
                "${EMPTY:?needs a value}",
                Err(InterpolateError::Required {
                    name: "EMPTY".into(),
                    message: "needs a value".into(),
                }),
            ),
            ("${EMPTY?set}", Ok("")),
            ("${1BAD}", Err(InterpolateError::Invalid("${1BAD}".into()))),
            ("${OPEN", Err(InterpolateError::Invalid("${OPEN".into()))),
            ("cost $5", Err(InterpolateError::Invalid("cost $5".into()))),
        ];
        for (text, want) in table {
            let got = interpolate(text, &vars);
            assert_eq!(
                got.as_deref().map_err(Clone::clone),
                want.clone(),
                "{text:?}"
            );
        }
    }
}
