//! Minimal, lossless edits: each change is a splice of the original text at the
//! place the key is defined, so comments, anchors, merge keys, blank lines and
//! quoting stay as they are.
//!
//! Where a value is written:
//! - a key whose deciding definition is merged only by services being changed
//!   is edited there (an anchor such as `&kafka-envs`);
//! - a new key goes into the anchor merged only by services being changed that
//!   covers most of them (the highest-priority one on a tie);
//! - otherwise each service gets an override in its own block — service keys
//!   right after its `<<:` lines, variables at the end of its own `environment:`,
//!   which is created (with `<<: *anchor` for what it inherited) when needed;
//! - removals and renames happen at every definition, and are refused when a
//!   definition is shared with a service outside the edit (YAML merges cannot
//!   unset a key for only some of the services that merge it).
//!
//! After the splices the text is parsed again and every service's effective spec
//! is compared with the intended one; a difference is an error, never a file.

mod plan;
#[cfg(test)]
mod tests;
mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kroll_migrate::EnvPatch;

use crate::duration::{DEFAULT_STOP_GRACE_PERIOD, format_duration, parse_duration};
use crate::error::{EditError, KeyPath};
use crate::spec::{ServiceSpec, StackFile};
use crate::tree::NodeId;

/// Applies an environment patch (renames, then removals, then settings, as
/// [`EnvPatch::apply_env`] does) to an environment whose variables may lack a value.
pub(crate) fn apply_patch(
    patch: &EnvPatch,
    env: &BTreeMap<String, Option<String>>,
) -> BTreeMap<String, Option<String>> {
    let mut out = env.clone();
    for (from, to) in &patch.rename {
        if let Some(value) = out.remove(from) {
            out.insert(to.clone(), value);
        }
    }
    for name in &patch.remove {
        out.remove(name);
    }
    for (name, value) in &patch.set {
        out.insert(name.clone(), Some(value.clone()));
    }
    out
}

/// One change to a stack file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Set the `image` of these services.
    Image {
        /// Service names.
        services: Vec<String>,
        /// The image text to write (may hold `${…}`).
        image: String,
    },
    /// Set the `hostname` of these services.
    Hostname {
        /// Service names.
        services: Vec<String>,
        /// The hostname to write.
        hostname: String,
    },
    /// Change the environment of these services (kroll-migrate's patch type:
    /// renames first, then removals, then settings).
    Env {
        /// Service names.
        services: Vec<String>,
        /// The change.
        patch: EnvPatch,
    },
    /// Raise `stop_grace_period` of these services to at least `at_least`
    /// (Swarm's default is 10 s); services already at or above it are left alone.
    RaiseStopGracePeriod {
        /// Service names.
        services: Vec<String>,
        /// The least grace period.
        at_least: Duration,
    },
}

/// Where a key lives: in the service mapping or in its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Service,
    Env,
}

#[derive(Debug)]
enum Op<'a> {
    Set(Scope, &'a str, &'a str),
    Remove(&'a str),
    Rename(&'a str, &'a str),
}

#[derive(Debug)]
struct Splice {
    start: usize,
    end: usize,
    text: String,
}

/// The comparable values of a service's spec (no line numbers).
type Values = (
    Option<String>,
    BTreeMap<String, Option<String>>,
    Option<String>,
    Vec<String>,
    Option<String>,
);

fn values(spec: &ServiceSpec) -> Values {
    (
        spec.image.as_ref().map(|i| i.value.clone()),
        env_values(spec),
        spec.hostname.as_ref().map(|h| h.value.clone()),
        spec.constraints.clone(),
        spec.stop_grace_period.as_ref().map(|p| p.value.clone()),
    )
}

pub(crate) fn env_values(spec: &ServiceSpec) -> BTreeMap<String, Option<String>> {
    spec.environment
        .iter()
        .map(|(name, var)| (name.clone(), var.value.clone()))
        .collect()
}

impl StackFile {
    /// Applies `edits` in order and returns the edited file.
    ///
    /// The original is untouched; nothing is returned unless the edited text
    /// parses and every service's effective spec is the intended one.
    pub fn edit(&self, edits: &[Edit]) -> Result<StackFile, EditError> {
        let mut file = self.clone();
        for edit in edits {
            file = file.apply_edit(edit)?;
        }
        Ok(file)
    }

    fn apply_edit(&self, edit: &Edit) -> Result<StackFile, EditError> {
        let (services, ops, grace) = match edit {
            Edit::Image { services, image } => (
                services,
                vec![Op::Set(Scope::Service, "image", image.as_str())],
                None,
            ),
            Edit::Hostname { services, hostname } => (
                services,
                vec![Op::Set(Scope::Service, "hostname", hostname.as_str())],
                None,
            ),
            Edit::Env { services, patch } => {
                let mut ops: Vec<Op> = patch.rename.iter().map(|(f, t)| Op::Rename(f, t)).collect();
                ops.extend(patch.remove.iter().map(|name| Op::Remove(name)));
                ops.extend(patch.set.iter().map(|(k, v)| Op::Set(Scope::Env, k, v)));
                (services, ops, None)
            }
            Edit::RaiseStopGracePeriod { services, at_least } => {
                (services, Vec::new(), Some(format_duration(*at_least)))
            }
        };
        let mut targets = Vec::new();
        for name in services {
            let spec = self.service(name).ok_or_else(|| EditError::NoService {
                origin: self.origin().to_owned(),
                service: name.clone(),
            })?;
            targets.push(spec);
        }
        if let (Edit::RaiseStopGracePeriod { at_least, .. }, Some(text)) = (edit, &grace) {
            // Only services below the least period change.
            targets.retain(|spec| {
                let current = spec
                    .stop_grace_period
                    .as_ref()
                    .map_or(Some(DEFAULT_STOP_GRACE_PERIOD), |p| {
                        parse_duration(&p.value)
                    });
                current.is_none_or(|current| current < *at_least)
            });
            return self.run(
                targets,
                &[Op::Set(Scope::Service, "stop_grace_period", text)],
                edit,
            );
        }
        self.run(targets, &ops, edit)
    }

    fn run(
        &self,
        targets: Vec<&ServiceSpec>,
        ops: &[Op],
        edit: &Edit,
    ) -> Result<StackFile, EditError> {
        let names: BTreeSet<String> = targets.iter().map(|s| s.name.clone()).collect();
        let intended: Vec<(String, Values)> = self
            .specs()
            .iter()
            .map(|spec| {
                let mut v = values(spec);
                if names.contains(&spec.name) {
                    match (edit, ops.first()) {
                        (Edit::Env { patch, .. }, _) => v.1 = apply_patch(patch, &v.1),
                        (Edit::Image { image, .. }, _) => v.0 = Some(image.clone()),
                        (Edit::Hostname { hostname, .. }, _) => v.2 = Some(hostname.clone()),
                        (_, Some(Op::Set(_, _, text))) => v.4 = Some((*text).to_owned()),
                        _ => {}
                    }
                }
                (spec.name.clone(), v)
            })
            .collect();
        let mut file = self.clone();
        for op in ops {
            let splices = file.plan(op, &names)?;
            if !splices.is_empty() {
                file = file.splice(splices)?;
            }
        }
        for (name, want) in intended {
            let got = file.service(&name).map(values);
            if got.as_ref() != Some(&want) {
                let what = match got {
                    Some(got) if got.0 != want.0 => "image",
                    Some(got) if got.1 != want.1 => "environment",
                    Some(got) if got.2 != want.2 => "hostname",
                    Some(got) if got.4 != want.4 => "stop_grace_period",
                    _ => "the spec",
                };
                return Err(EditError::Unverified {
                    origin: self.origin().to_owned(),
                    service: name,
                    what,
                });
            }
        }
        Ok(file)
    }

    fn splice(&self, mut splices: Vec<Splice>) -> Result<StackFile, EditError> {
        splices.sort_by_key(|s| (s.start, s.end));
        splices.dedup_by(|a, b| a.start == b.start && a.end == b.end && a.text == b.text);
        let mut text = self.text().to_owned();
        let mut limit = usize::MAX;
        for splice in splices.iter().rev() {
            if splice.end > limit {
                return Err(self.unsupported(splice.start, "", "overlapping changes"));
            }
            text.replace_range(splice.start..splice.end, &splice.text);
            limit = splice.start;
        }
        StackFile::parse_with(text, self.origin(), self.reader()).map_err(EditError::Reparse)
    }

    fn unsupported(&self, offset: usize, path: &str, what: &'static str) -> EditError {
        EditError::Unsupported {
            origin: self.origin().to_owned(),
            line: self.tree.line(offset),
            key: KeyPath(path.to_owned()),
            what,
        }
    }

    fn service_node(&self, name: &str) -> NodeId {
        self.service_nodes
            .iter()
            .find(|(n, _)| n == name)
            .map_or(self.tree.root, |(_, id)| *id)
    }

    /// The mappings each service's keys come from in `scope`, in priority order;
    /// empty for a list-form or absent environment.
    fn orders(&self, scope: Scope) -> Result<Vec<(String, Vec<NodeId>)>, EditError> {
        let mut out = Vec::new();
        for (name, service) in &self.service_nodes {
            let order = match scope {
                Scope::Service => self.merge_order(*service).map_err(EditError::Reparse)?,
                Scope::Env => match self.env_node(*service).map_err(EditError::Reparse)? {
                    Some((_, entry)) if self.tree.entries(entry.value).is_some() => {
                        self.merge_order(entry.value).map_err(EditError::Reparse)?
                    }
                    _ => Vec::new(),
                },
            };
            out.push((name.clone(), order));
        }
        Ok(out)
    }
}
