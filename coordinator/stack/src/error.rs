//! Typed errors: each names the file, the line and the key it is about.

use std::fmt;

/// A stack file that kroll cannot read, or a value it cannot resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {key}: {kind}")]
pub struct StackError {
    /// Where the text came from (a path, or a name a caller chose).
    pub origin: String,
    /// The 1-based line the problem is on.
    pub line: usize,
    /// The dotted key path (`services.kafka-01.environment`), or `(top level)`.
    pub key: KeyPath,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// A dotted key path inside the stack file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(pub String);

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(top level)")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// What is wrong with a stack file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The YAML parser's complaint.
    #[error("not valid YAML: {0}")]
    Syntax(String),
    /// More or fewer than one YAML document.
    #[error("a stack file holds one YAML document, this one holds {0}")]
    Documents(usize),
    /// A node of the wrong kind.
    #[error("expected {expected}, found {found}")]
    Shape {
        /// What the stack file format wants here.
        expected: &'static str,
        /// What the file has.
        found: &'static str,
    },
    /// `*name` without an `&name` before it.
    #[error("alias *{0} names no anchor defined before it")]
    UndefinedAlias(String),
    /// `<<:` with something other than a mapping (or a list of them).
    #[error("`<<` must merge a mapping or a list of mappings, this merges {0}")]
    MergeNotMapping(&'static str),
    /// A key written twice in one mapping (`<<` may repeat).
    #[error("key {0:?} appears twice in this mapping")]
    DuplicateKey(String),
    /// A key that YAML's merge rules and Docker's reader (go-yaml v2, where the
    /// later of two definitions wins) take from different places.
    #[error(
        "key {key:?} comes from line {yaml_line} by YAML's merge rules but from line {docker_line} as Docker reads \
         the file; put `<<:` first and do not merge two mappings that both define it"
    )]
    AmbiguousMerge {
        /// The key.
        key: String,
        /// Where YAML's rules (own keys first, then the first merge) take it from.
        yaml_line: usize,
        /// Where go-yaml v2 (document order, later wins) takes it from.
        docker_line: usize,
    },
    /// Merges or aliases nested beyond reason (or in a cycle).
    #[error("merges and aliases nest deeper than {0} levels")]
    TooDeep(usize),
    /// YAML kroll does not read in a stack file.
    #[error("not supported in a stack file kroll edits: {0}")]
    Unsupported(&'static str),
    /// A `${VARIABLE}` that cannot be resolved.
    #[error("{0}")]
    Interpolation(#[from] InterpolateError),
}

/// A `${VARIABLE}` reference that cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    /// No value for the variable and no default: Docker would use an empty string,
    /// which kroll refuses to guess at.
    #[error("variable {0} is not set (docker stack deploy would substitute an empty string)")]
    Unset(String),
    /// `${NAME?message}` / `${NAME:?message}` and the variable is missing.
    #[error("variable {name} is required: {message}")]
    Required {
        /// The variable.
        name: String,
        /// The file's message for it.
        message: String,
    },
    /// A `$` that starts no valid substitution.
    #[error("invalid substitution in {0:?}")]
    Invalid(String),
}

/// An edit kroll refuses to make, or one that did not turn out as intended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The file has no such service.
    #[error("{origin}: no service {service:?} in the stack file")]
    NoService {
        /// The stack file.
        origin: String,
        /// The service asked for.
        service: String,
    },
    /// The edit would change a service outside the set being changed, and YAML
    /// offers no way to override it for only some of the services that merge it.
    #[error(
        "{origin}:{line}: {key}: {what} is shared with {others:?}, which this edit must not change; \
         edit those services too or split the anchor by hand"
    )]
    Shared {
        /// The stack file.
        origin: String,
        /// The line of the shared definition.
        line: usize,
        /// Where it is defined.
        key: KeyPath,
        /// What the edit touches (`environment variable GROUP_ID`).
        what: String,
        /// The services outside the edit that merge the definition.
        others: Vec<String>,
    },
    /// A rename onto a variable the service already has.
    #[error("{origin}: service {service:?}: cannot rename {from} to {to}: {to} is already set")]
    RenameTarget {
        /// The stack file.
        origin: String,
        /// The service.
        service: String,
        /// The old name.
        from: String,
        /// The new name, already present.
        to: String,
    },
    /// A shape kroll does not edit (flow mappings, list-form merges, …).
    #[error("{origin}:{line}: {key}: cannot edit {what}")]
    Unsupported {
        /// The stack file.
        origin: String,
        /// The line.
        line: usize,
        /// Where.
        key: KeyPath,
        /// What kroll would have had to edit.
        what: &'static str,
    },
    /// The edited text no longer parses (a bug in kroll, never written out).
    #[error("the edited stack file does not parse: {0}")]
    Reparse(#[source] StackError),
    /// The edited file's effective spec is not the intended one (a bug in kroll,
    /// never written out).
    #[error("{origin}: service {service:?}: after the edit {what} is not what was intended")]
    Unverified {
        /// The stack file.
        origin: String,
        /// The service whose spec came out wrong.
        service: String,
        /// Which part (`environment`, `image`, …).
        what: &'static str,
    },
}
