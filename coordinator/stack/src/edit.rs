//! Minimal, lossless edits: each change is a splice of the original text at the
//! place the key is defined, so comments, anchors, merge keys, blank lines and
//! quoting stay as they are.
//!
//! Where a value is written:
//! - a key whose deciding definition is merged only by services being changed
//!   is edited there (an anchor such as `&kafka-envs`);
//! - a new key goes into the anchor that covers the most changed services when
//!   no other service would see it (the rest are shadowed by their own value);
//! - otherwise each service gets an override in its own block, creating its
//!   `environment:` (with `<<: *anchor` for what it inherited) when needed;
//! - removals and renames happen at every definition, and are refused when a
//!   definition is shared with a service outside the edit (YAML merges cannot
//!   unset a key for only some of the services that merge it).
//!
//! After the splices the text is parsed again and every service's effective spec
//! is compared with the intended one; a difference is an error, never a file.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kroll_migrate::EnvPatch;

use crate::duration::{DEFAULT_STOP_GRACE_PERIOD, format_duration, parse_duration};
use crate::error::{EditError, KeyPath, StackError};
use crate::scalar::{Style, plain_is_string, plain_round_trips, render};
use crate::spec::{ServiceSpec, StackFile};
use crate::tree::{Kind, NodeId};

/// Applies an environment patch (renames, then removals, then settings, as
/// [`EnvPatch::apply`] does) to an environment whose variables may lack a value.
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
        StackFile::parse(text, self.origin()).map_err(EditError::Reparse)
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

    fn plan(&self, op: &Op, names: &BTreeSet<String>) -> Result<Vec<Splice>, EditError> {
        // List-form environments are edited item by item; mapping forms by merge order.
        let mut splices = Vec::new();
        let mut mapped = names.clone();
        if !matches!(op, Op::Set(Scope::Service, _, _)) {
            let lists = self.list_env(names)?;
            for (name, _) in &lists {
                mapped.remove(name);
            }
            if !lists.is_empty() {
                splices.extend(self.plan_list(op, names, lists)?);
            }
        }
        splices.extend(match op {
            Op::Set(scope, key, value) => self.plan_set(*scope, key, value, &mapped)?,
            Op::Remove(key) => self.plan_remove_or_rename(key, None, &mapped)?,
            Op::Rename(from, to) => self.plan_remove_or_rename(from, Some(to), &mapped)?,
        });
        Ok(splices)
    }

    /// The services being changed whose environment is a list, with the list.
    fn list_env(&self, names: &BTreeSet<String>) -> Result<Vec<(String, NodeId)>, EditError> {
        let mut lists = Vec::new();
        for name in names {
            if let Some((_, entry)) = self
                .env_node(self.service_node(name))
                .map_err(EditError::Reparse)?
            {
                let value = self.tree.deref(entry.value);
                if matches!(self.tree.node(value).kind, Kind::Sequence { .. }) {
                    lists.push((name.clone(), value));
                }
            }
        }
        Ok(lists)
    }

    fn plan_set(
        &self,
        scope: Scope,
        key: &str,
        value: &str,
        names: &BTreeSet<String>,
    ) -> Result<Vec<Splice>, EditError> {
        let orders = self.orders(scope)?;
        let winner = |order: &[NodeId]| {
            order
                .iter()
                .copied()
                .find(|m| self.tree.own_entry(*m, key).is_some())
        };
        let mut splices = Vec::new();
        let mut lacking = Vec::new();
        let mut own = Vec::new();
        for (name, order) in orders.iter().filter(|(n, _)| names.contains(n)) {
            match winner(order) {
                Some(w)
                    if self
                        .tree
                        .own_entry(w, key)
                        .and_then(|e| self.tree.compose_value(e.value))
                        .as_deref()
                        == Some(value) => {}
                Some(w) => {
                    let users: Vec<&String> = orders
                        .iter()
                        .filter(|(_, o)| winner(o) == Some(w))
                        .map(|(n, _)| n)
                        .collect();
                    if users.iter().all(|u| names.contains(*u)) {
                        splices.push(self.replace_value(w, key, value)?);
                    } else {
                        own.push(name.clone());
                    }
                }
                None if order.is_empty() => own.push(name.clone()),
                None => lacking.push((name.clone(), order.clone())),
            }
        }
        // New keys: anchors that cover the most lacking services without reaching others.
        while !lacking.is_empty() {
            let qualifies = |m: NodeId| {
                orders.iter().all(|(n, o)| {
                    names.contains(n)
                        || o.iter().position(|x| *x == m).is_none_or(|at| {
                            o[..at]
                                .iter()
                                .any(|x| self.tree.own_entry(*x, key).is_some())
                        })
                }) && matches!(self.tree.node(m).kind, Kind::Mapping { flow: false, .. })
            };
            let best = lacking
                .iter()
                .flat_map(|(_, order)| order.iter().copied())
                .filter(|m| qualifies(*m))
                .max_by_key(|m| {
                    (
                        lacking.iter().filter(|(_, o)| o.contains(m)).count(),
                        std::cmp::Reverse(*m),
                    )
                });
            let Some(best) = best else {
                own.extend(lacking.drain(..).map(|(n, _)| n));
                break;
            };
            splices.push(self.append_entry(best, key, value)?);
            lacking.retain(|(_, o)| !o.contains(&best));
        }
        for name in own {
            splices.push(self.own_override(scope, &name, key, value)?);
        }
        Ok(splices)
    }

    fn plan_remove_or_rename(
        &self,
        key: &str,
        to: Option<&str>,
        names: &BTreeSet<String>,
    ) -> Result<Vec<Splice>, EditError> {
        let orders = self.orders(Scope::Env)?;
        let mut sites = BTreeSet::new();
        for (name, order) in orders.iter().filter(|(n, _)| names.contains(n)) {
            let has = |k: &str| order.iter().any(|m| self.tree.own_entry(*m, k).is_some());
            if let Some(to) = to
                && has(key)
                && has(to)
            {
                return Err(EditError::RenameTarget {
                    origin: self.origin().to_owned(),
                    service: name.clone(),
                    from: key.to_owned(),
                    to: to.to_owned(),
                });
            }
            sites.extend(
                order
                    .iter()
                    .copied()
                    .filter(|m| self.tree.own_entry(*m, key).is_some()),
            );
        }
        let mut splices = Vec::new();
        for site in sites {
            let others: Vec<String> = orders
                .iter()
                .filter(|(n, o)| !names.contains(n) && o.contains(&site))
                .map(|(n, _)| n.clone())
                .collect();
            let node = self.tree.node(site);
            let entry = self
                .tree
                .own_entry(site, key)
                .ok_or_else(|| self.unsupported(node.start, &node.path, "a vanished key"))?;
            if !others.is_empty() {
                return Err(EditError::Shared {
                    origin: self.origin().to_owned(),
                    line: self.tree.line(entry.start),
                    key: KeyPath(node.path.clone()),
                    what: format!("environment variable {key}"),
                    others,
                });
            }
            if matches!(node.kind, Kind::Mapping { flow: true, .. }) {
                return Err(self.unsupported(entry.start, &node.path, "a flow mapping"));
            }
            splices.push(match to {
                Some(to) => Splice {
                    start: entry.key_start,
                    end: entry.key_end,
                    text: self.render_new(to, entry.key_style),
                },
                None => self.remove_entry(site, entry),
            });
        }
        Ok(splices)
    }

    fn plan_list(
        &self,
        op: &Op,
        names: &BTreeSet<String>,
        lists: Vec<(String, NodeId)>,
    ) -> Result<Vec<Splice>, EditError> {
        let mut splices = Vec::new();
        let mut unique: Vec<NodeId> = lists.into_iter().map(|(_, list)| list).collect();
        unique.sort_unstable();
        unique.dedup();
        for list in unique {
            let node = self.tree.node(list);
            let Kind::Sequence { items, flow } = &node.kind else {
                continue;
            };
            let users: Vec<String> = self
                .service_nodes
                .iter()
                .filter(|(_, s)| matches!(self.env_node(*s), Ok(Some((_, e))) if self.tree.deref(e.value) == list))
                .map(|(n, _)| n.clone())
                .collect();
            let others: Vec<String> = users.into_iter().filter(|n| !names.contains(n)).collect();
            if !others.is_empty() {
                return Err(EditError::Shared {
                    origin: self.origin().to_owned(),
                    line: self.tree.line(node.start),
                    key: KeyPath(node.path.clone()),
                    what: "an environment list".into(),
                    others,
                });
            }
            if *flow || items.is_empty() {
                return Err(self.unsupported(
                    node.start,
                    &node.path,
                    "a flow-style or empty environment list",
                ));
            }
            let named = |k: &str| -> Vec<(NodeId, Option<String>)> {
                items
                    .iter()
                    .filter_map(|i| {
                        let text = self.tree.compose_value(*i)?;
                        let (n, v) = text
                            .split_once('=')
                            .map_or((text.as_str(), None), |(n, v)| (n, Some(v.to_owned())));
                        (n == k).then_some((*i, v))
                    })
                    .collect()
            };
            match op {
                Op::Set(_, key, value) => match named(key).last() {
                    Some((_, Some(old))) if old == value => {}
                    Some((item, _)) => {
                        splices.push(self.replace_scalar(*item, &format!("{key}={value}")))
                    }
                    None => {
                        let last = self.tree.node(*items.last().unwrap_or(&list));
                        let at = self.line_end(last.end);
                        let dash = self.tree.line_start(last.start);
                        let indent = &self.text()[dash..last.start];
                        splices.push(Splice {
                            start: at,
                            end: at,
                            text: format!(
                                "{}{indent}{}\n",
                                self.newline_before(at),
                                self.render_new(&format!("{key}={value}"), Style::Plain)
                            ),
                        });
                    }
                },
                Op::Remove(key) => {
                    for (item, _) in named(key) {
                        let item = self.tree.node(item);
                        splices.push(Splice {
                            start: self.tree.line_start(item.start),
                            end: self.line_end(item.end),
                            text: String::new(),
                        });
                    }
                }
                Op::Rename(from, to) => {
                    if !named(to).is_empty() && !named(from).is_empty() {
                        return Err(EditError::RenameTarget {
                            origin: self.origin().to_owned(),
                            service: names.iter().next().cloned().unwrap_or_default(),
                            from: (*from).to_owned(),
                            to: (*to).to_owned(),
                        });
                    }
                    for (item, value) in named(from) {
                        let text = value.map_or_else(|| (*to).to_owned(), |v| format!("{to}={v}"));
                        splices.push(self.replace_scalar(item, &text));
                    }
                }
            }
        }
        Ok(splices)
    }

    /// Deletes an entry's lines; the last entry of a mapping leaves `{}` behind,
    /// so that what merged or held the mapping still has one.
    fn remove_entry(&self, mapping: NodeId, entry: &crate::tree::Entry) -> Splice {
        let end = self.line_end(entry.end);
        if self.tree.entries(mapping).is_some_and(|e| e.len() == 1) {
            let start = self.text()[..self.tree.node(mapping).start]
                .trim_end()
                .len();
            return Splice {
                start,
                end,
                text: " {}\n".to_owned(),
            };
        }
        Splice {
            start: self.tree.line_start(entry.start),
            end,
            text: String::new(),
        }
    }

    /// The offset just past the line holding `end - 1` (its newline included).
    fn line_end(&self, end: usize) -> usize {
        let text = self.text();
        if end > 0 && text.as_bytes().get(end - 1) == Some(&b'\n') {
            return end;
        }
        text[end..].find('\n').map_or(text.len(), |at| end + at + 1)
    }

    fn newline_before(&self, at: usize) -> &'static str {
        if at == 0 || self.text().as_bytes().get(at - 1) == Some(&b'\n') {
            ""
        } else {
            "\n"
        }
    }

    fn column(&self, offset: usize) -> usize {
        offset - self.tree.line_start(offset)
    }

    /// A new scalar: plain when every reader takes it as this string, else in `style`
    /// (double quotes when that style is plain too).
    fn render_new(&self, value: &str, style: Style) -> String {
        match style {
            Style::Plain | Style::Block if plain_is_string(value) => value.to_owned(),
            Style::Plain | Style::Block => render(value, Style::Double),
            quoted => render(value, quoted),
        }
    }

    /// Replaces a scalar keeping its quoting where the new value allows.
    fn replace_scalar(&self, id: NodeId, value: &str) -> Splice {
        let node = self.tree.node(id);
        let old = &self.text()[node.start..node.end];
        let text = match Style::of(old) {
            _ if old.is_empty() => format!(" {}", self.render_new(value, Style::Plain)),
            Style::Plain if plain_round_trips(value) && !old.contains('\n') => value.to_owned(),
            Style::Plain | Style::Block => render(value, Style::Double),
            quoted => render(value, quoted),
        };
        Splice {
            start: node.start,
            end: node.end,
            text,
        }
    }

    fn replace_value(&self, mapping: NodeId, key: &str, value: &str) -> Result<Splice, EditError> {
        let node = self.tree.node(mapping);
        let entry = self
            .tree
            .own_entry(mapping, key)
            .ok_or_else(|| self.unsupported(node.start, &node.path, "a vanished key"))?;
        if !matches!(self.tree.node(entry.value).kind, Kind::Scalar { .. }) {
            return Err(self.unsupported(
                entry.start,
                &node.path,
                "a value that is not a plain scalar",
            ));
        }
        Ok(self.replace_scalar(entry.value, value))
    }

    /// Adds `key: value` after the last entry of a block mapping.
    fn append_entry(&self, mapping: NodeId, key: &str, value: &str) -> Result<Splice, EditError> {
        let node = self.tree.node(mapping);
        let entries = self.tree.entries(mapping).unwrap_or_default();
        let (Some(first), Some(last), Kind::Mapping { flow: false, .. }) =
            (entries.first(), entries.last(), &node.kind)
        else {
            return Err(self.unsupported(node.start, &node.path, "an empty or flow-style mapping"));
        };
        let at = self.line_end(last.end);
        let indent = " ".repeat(self.column(first.start));
        let line = format!(
            "{}{indent}{key}: {}\n",
            self.newline_before(at),
            self.render_new(value, Style::Plain)
        );
        Ok(Splice {
            start: at,
            end: at,
            text: line,
        })
    }

    /// Writes `key: value` into the service's own block (scope `Service`) or own
    /// `environment` (scope `Env`), creating the latter over what it inherited.
    fn own_override(
        &self,
        scope: Scope,
        service: &str,
        key: &str,
        value: &str,
    ) -> Result<Splice, EditError> {
        let id = self.service_node(service);
        let node = self.tree.node(id);
        let entries = self.tree.entries(id).unwrap_or_default();
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Err(self.unsupported(node.start, &node.path, "an empty service"));
        };
        let indent = self.column(first.start);
        let step = indent
            .saturating_sub(self.column(self.service_key_start(service)))
            .max(2);
        let rendered = self.render_new(value, Style::Plain);
        if scope == Scope::Service {
            // After the merges, so the override reads next to what it overrides.
            let after = entries.iter().rfind(|e| e.merge).unwrap_or(last);
            let at = self.line_end(after.end);
            return Ok(Splice {
                start: at,
                end: at,
                text: format!(
                    "{}{}{key}: {rendered}\n",
                    self.newline_before(at),
                    " ".repeat(indent)
                ),
            });
        }
        let inner = " ".repeat(indent + step);
        let inherited = self.env_node(id).map_err(EditError::Reparse)?;
        if let Some((holder, entry)) = inherited {
            let value_node = self.tree.node(entry.value);
            if holder == id {
                // The new block starts right after the colon: no trailing blank.
                let start = self.text()[..value_node.start]
                    .trim_end_matches([' ', '\t'])
                    .len();
                return match &value_node.kind {
                    Kind::Mapping { .. } => self.append_entry(entry.value, key, value),
                    Kind::Alias { name, .. } => Ok(Splice {
                        start,
                        end: value_node.end,
                        text: format!("\n{inner}<<: *{name}\n{inner}{key}: {rendered}"),
                    }),
                    _ if self.tree.is_null(entry.value) => Ok(Splice {
                        start,
                        end: value_node.end,
                        text: format!("\n{inner}{key}: {rendered}"),
                    }),
                    _ => Err(self.unsupported(entry.start, &node.path, "this environment")),
                };
            }
            let anchor = match &value_node.kind {
                Kind::Alias { name, .. } => Some(name.clone()),
                Kind::Mapping { .. } => value_node.anchor.clone(),
                _ => None,
            };
            let Some(anchor) = anchor else {
                return Err(self.unsupported(
                    entry.start,
                    &value_node.path,
                    "an inherited environment without an anchor to merge",
                ));
            };
            let at = self.line_end(last.end);
            let text = format!(
                "{}{}environment:\n{inner}<<: *{anchor}\n{inner}{key}: {rendered}\n",
                self.newline_before(at),
                " ".repeat(indent)
            );
            return Ok(Splice {
                start: at,
                end: at,
                text,
            });
        }
        let at = self.line_end(last.end);
        Ok(Splice {
            start: at,
            end: at,
            text: format!(
                "{}{}environment:\n{inner}{key}: {rendered}\n",
                self.newline_before(at),
                " ".repeat(indent)
            ),
        })
    }

    fn service_key_start(&self, service: &str) -> usize {
        let services = self
            .tree
            .own_entry(self.tree.root, "services")
            .map(|e| e.value);
        services
            .and_then(|s| self.tree.own_entry(s, service))
            .map_or(0, |e| e.key_start)
    }
}

impl From<StackError> for EditError {
    fn from(err: StackError) -> Self {
        EditError::Reparse(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EditError;
    use crate::test_support::set as env_set;
    use crate::unified_diff;

    const SMALL: &str = "\
x-common: &common
  image: reg/app:1 # pinned
  environment: &common-env
    SHARED: 'one'
    PORT: 9101

x-list: &list
  - A=1
  - B

services:
  alpha:
    <<: *common
    hostname: alpha
  beta:
    <<: *common
    environment:
      <<: *common-env
      OWN: \"x\"
  gamma:
    image: reg/other
    environment: *common-env
  delta:
    image: reg/list
    environment:
      - C=3
      - 'D=four'
  epsilon:
    image: reg/list
    environment: *list
  zeta:
    image: reg/list
    environment: *list
";

    fn small() -> StackFile {
        StackFile::parse(SMALL, "small.yml").expect("parses")
    }

    fn svc(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    /// The changed lines of an edit, `-old` / `+new`, without headers or context.
    fn changes(edits: &[Edit]) -> Result<Vec<String>, EditError> {
        let file = small();
        let edited = file.edit(edits)?;
        Ok(unified_diff(file.text(), edited.text(), "a", "b")
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .map(str::to_owned)
            .collect())
    }

    #[test]
    fn each_edit_lands_where_it_changes_exactly_the_services_asked() {
        let table: Vec<(&str, Vec<Edit>, Vec<&str>)> = vec![
            (
                "a key every user of the anchor changes is edited in the anchor, keeping quotes",
                vec![Edit::Env {
                    services: svc(&["alpha", "beta", "gamma"]),
                    patch: env_set(&[("SHARED", "two")]),
                }],
                vec!["-    SHARED: 'one'", "+    SHARED: 'two'"],
            ),
            (
                "a plain integer stays plain when the new value reads back the same",
                vec![Edit::Env {
                    services: svc(&["alpha", "beta", "gamma"]),
                    patch: env_set(&[("PORT", "9102")]),
                }],
                vec!["-    PORT: 9101", "+    PORT: 9102"],
            ),
            (
                "a plain value that would be retyped is quoted",
                vec![Edit::Env {
                    services: svc(&["alpha", "beta", "gamma"]),
                    patch: env_set(&[("PORT", "3.10")]),
                }],
                vec!["-    PORT: 9101", "+    PORT: \"3.10\""],
            ),
            (
                "a service with its own environment gets the override there",
                vec![Edit::Env {
                    services: svc(&["beta"]),
                    patch: env_set(&[("SHARED", "two")]),
                }],
                vec!["+      SHARED: two"],
            ),
            (
                "an inherited environment is created with a merge of its anchor",
                vec![Edit::Env {
                    services: svc(&["alpha"]),
                    patch: env_set(&[("NEW", "v")]),
                }],
                vec![
                    "+    environment:",
                    "+      <<: *common-env",
                    "+      NEW: v",
                ],
            ),
            (
                "an aliased environment becomes a mapping that merges the alias",
                vec![Edit::Env {
                    services: svc(&["gamma"]),
                    patch: env_set(&[("NEW", "true")]),
                }],
                vec![
                    "-    environment: *common-env",
                    "+    environment:",
                    "+      <<: *common-env",
                    "+      NEW: \"true\"",
                ],
            ),
            (
                "a new key for every user of the anchor goes into the anchor",
                vec![Edit::Env {
                    services: svc(&["alpha", "beta", "gamma"]),
                    patch: env_set(&[("NEW", "v")]),
                }],
                vec!["+    NEW: v"],
            ),
            (
                "an image shared through a merge is overridden after the merge for one service",
                vec![Edit::Image {
                    services: svc(&["alpha"]),
                    image: "reg/app:2".into(),
                }],
                vec!["+    image: reg/app:2"],
            ),
            (
                "an image shared by all its users is edited in the anchor, comment kept",
                vec![Edit::Image {
                    services: svc(&["alpha", "beta"]),
                    image: "reg/app:2".into(),
                }],
                vec![
                    "-  image: reg/app:1 # pinned",
                    "+  image: reg/app:2 # pinned",
                ],
            ),
            (
                "an own hostname is replaced in place",
                vec![Edit::Hostname {
                    services: svc(&["alpha"]),
                    hostname: "alpha-1".into(),
                }],
                vec!["-    hostname: alpha", "+    hostname: alpha-1"],
            ),
            (
                "list form: replace keeps quotes, add appends an item",
                vec![Edit::Env {
                    services: svc(&["delta"]),
                    patch: env_set(&[("D", "4"), ("E", "5")]),
                }],
                vec!["-      - 'D=four'", "+      - 'D=4'", "+      - E=5"],
            ),
            (
                "list form: rename and remove",
                vec![Edit::Env {
                    services: svc(&["delta"]),
                    patch: EnvPatch {
                        rename: [("C".to_owned(), "CC".to_owned())].into(),
                        remove: ["D".to_owned()].into(),
                        ..EnvPatch::default()
                    },
                }],
                vec!["-      - C=3", "-      - 'D=four'", "+      - CC=3"],
            ),
            (
                "a shared list changes when all its users do",
                vec![Edit::Env {
                    services: svc(&["epsilon", "zeta"]),
                    patch: env_set(&[("B", "2")]),
                }],
                vec!["-  - B", "+  - B=2"],
            ),
            (
                "removing a key defined in an anchor and an override removes both",
                vec![
                    Edit::Env {
                        services: svc(&["beta"]),
                        patch: env_set(&[("PORT", "1")]),
                    },
                    Edit::Env {
                        services: svc(&["alpha", "beta", "gamma"]),
                        patch: EnvPatch {
                            remove: ["PORT".to_owned()].into(),
                            ..EnvPatch::default()
                        },
                    },
                ],
                vec!["-    PORT: 9101"],
            ),
            (
                "renaming in the anchor renames for all its users",
                vec![Edit::Env {
                    services: svc(&["alpha", "beta", "gamma"]),
                    patch: EnvPatch {
                        rename: [("SHARED".to_owned(), "COMMON".to_owned())].into(),
                        ..EnvPatch::default()
                    },
                }],
                vec!["-    SHARED: 'one'", "+    COMMON: 'one'"],
            ),
            (
                "a grace period below the least is raised in the service's own block",
                vec![Edit::RaiseStopGracePeriod {
                    services: svc(&["gamma"]),
                    at_least: Duration::from_secs(90),
                }],
                vec!["+    stop_grace_period: 1m30s"],
            ),
        ];
        for (what, edits, want) in table {
            let got = changes(&edits).unwrap_or_else(|err| panic!("{what}: {err}"));
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn edits_that_would_reach_other_services_are_refused() {
        let shared = changes(&[Edit::Env {
            services: svc(&["alpha"]),
            patch: EnvPatch {
                remove: ["SHARED".to_owned()].into(),
                ..EnvPatch::default()
            },
        }])
        .expect_err("shared");
        let EditError::Shared {
            line, key, others, ..
        } = &shared
        else {
            panic!("{shared}")
        };
        assert_eq!((*line, key.0.as_str()), (4, "x-common.environment"));
        assert_eq!(others, &["beta", "gamma"]);
        assert!(
            shared
                .to_string()
                .starts_with("small.yml:4: x-common.environment: environment variable SHARED"),
            "{shared}"
        );

        let list = changes(&[Edit::Env {
            services: svc(&["epsilon"]),
            patch: env_set(&[("A", "9")]),
        }])
        .expect_err("list");
        assert!(
            matches!(&list, EditError::Shared { others, .. } if others == &["zeta"]),
            "{list}"
        );

        let rename = changes(&[Edit::Env {
            services: svc(&["beta"]),
            patch: EnvPatch {
                rename: [("OWN".to_owned(), "SHARED".to_owned())].into(),
                ..EnvPatch::default()
            },
        }])
        .expect_err("rename target");
        assert!(
            matches!(&rename, EditError::RenameTarget { to, .. } if to == "SHARED"),
            "{rename}"
        );

        let missing = changes(&[Edit::Image {
            services: svc(&["omega"]),
            image: "x".into(),
        }])
        .expect_err("no service");
        assert_eq!(
            missing.to_string(),
            "small.yml: no service \"omega\" in the stack file"
        );
    }

    #[test]
    fn a_grace_period_at_or_above_the_least_is_left_alone() {
        let text = "services:\n  a:\n    image: x\n    stop_grace_period: 5m\n  b:\n    image: x\n    stop_grace_period: 30s\n";
        let file = StackFile::parse(text, "g.yml").expect("parses");
        let raised = file
            .edit(&[Edit::RaiseStopGracePeriod {
                services: svc(&["a", "b"]),
                at_least: Duration::from_secs(120),
            }])
            .expect("raise");
        assert_eq!(raised.text(), text.replace("30s", "2m"));
    }
}

#[cfg(test)]
mod removal_tests {
    use super::*;

    /// Found by the generated-file test: deleting the only line of an anchor left
    /// `&env` holding null, and every `<<: *env` then failed to parse.
    #[test]
    fn removing_the_last_key_of_a_merged_mapping_leaves_it_empty() {
        let text = "x-env: &env\n  A: 1\nservices:\n  s:\n    image: x\n    environment:\n      <<: *env\n      B: 2\n";
        let file = StackFile::parse(text, "r.yml").expect("parses");
        let edited = file
            .edit(&[Edit::Env {
                services: vec!["s".into()],
                patch: EnvPatch {
                    remove: ["A".to_owned()].into(),
                    ..EnvPatch::default()
                },
            }])
            .expect("remove");
        assert_eq!(
            edited.text(),
            "x-env: &env {}\nservices:\n  s:\n    image: x\n    environment:\n      <<: *env\n      B: 2\n"
        );
    }
}
