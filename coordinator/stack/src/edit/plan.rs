//! Where each change is written: the anchor that exactly the changed services
//! merge, each service's own block, or a refusal.

use std::collections::BTreeSet;

use super::{Op, Scope, Splice};
use crate::error::{EditError, KeyPath};
use crate::scalar::Style;
use crate::spec::StackFile;
use crate::tree::{Kind, NodeId};

impl StackFile {
    pub(super) fn plan(&self, op: &Op, names: &BTreeSet<String>) -> Result<Vec<Splice>, EditError> {
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
    pub(super) fn list_env(
        &self,
        names: &BTreeSet<String>,
    ) -> Result<Vec<(String, NodeId)>, EditError> {
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

    pub(super) fn plan_set(
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
                    // Every service merging the mapping, shadowed or not: an
                    // anchor keeps one meaning for all who merge it.
                    let merged_only_by_targets = orders
                        .iter()
                        .all(|(n, o)| names.contains(n) || !o.contains(&w));
                    if merged_only_by_targets {
                        splices.push(self.replace_value(w, key, value)?);
                    } else {
                        own.push(name.clone());
                    }
                }
                None if order.is_empty() => own.push(name.clone()),
                None => lacking.push((name.clone(), order.clone())),
            }
        }
        // A new key goes into a mapping that only services being changed merge:
        // the one covering most of them, the highest-priority one on a tie. A
        // service's own block is written by `own_override` (after its merges).
        while !lacking.is_empty() {
            let qualifies = |m: NodeId| {
                orders
                    .iter()
                    .all(|(n, o)| names.contains(n) || !o.contains(&m))
                    && matches!(self.tree.node(m).kind, Kind::Mapping { flow: false, .. })
            };
            let mut best: Option<(NodeId, usize)> = None;
            for m in lacking.iter().flat_map(|(_, o)| o.iter().copied()) {
                let covered = lacking.iter().filter(|(_, o)| o.contains(&m)).count();
                if qualifies(m) && best.is_none_or(|(_, most)| covered > most) {
                    best = Some((m, covered));
                }
            }
            let Some((best, _)) = best else {
                own.extend(lacking.drain(..).map(|(n, _)| n));
                break;
            };
            if self.service_nodes.iter().any(|(_, id)| *id == best) {
                own.extend(
                    lacking
                        .iter()
                        .filter(|(_, o)| o.first() == Some(&best))
                        .map(|(n, _)| n.clone()),
                );
            } else {
                splices.push(self.append_entry(best, key, value)?);
            }
            lacking.retain(|(_, o)| !o.contains(&best));
        }
        for name in own {
            splices.push(self.own_override(scope, &name, key, value)?);
        }
        Ok(splices)
    }

    pub(super) fn plan_remove_or_rename(
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

    pub(super) fn plan_list(
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
}
