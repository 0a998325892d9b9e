//! The text splices themselves: replacing a scalar in its quoting, appending an
//! entry at the mapping's indentation, creating a service's own `environment`.

use super::{Scope, Splice};
use crate::error::EditError;
use crate::scalar::{Style, plain_is_string, plain_round_trips, render};
use crate::spec::StackFile;
use crate::tree::{Entry, Kind, NodeId};

impl StackFile {
    /// Deletes an entry's lines; the last entry of a mapping leaves `{}` behind,
    /// so that what merged or held the mapping still has one.
    pub(super) fn remove_entry(&self, mapping: NodeId, entry: &Entry) -> Splice {
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
    pub(super) fn line_end(&self, end: usize) -> usize {
        let text = self.text();
        if end > 0 && text.as_bytes().get(end - 1) == Some(&b'\n') {
            return end;
        }
        text[end..].find('\n').map_or(text.len(), |at| end + at + 1)
    }

    pub(super) fn newline_before(&self, at: usize) -> &'static str {
        if at == 0 || self.text().as_bytes().get(at - 1) == Some(&b'\n') {
            ""
        } else {
            "\n"
        }
    }

    pub(super) fn column(&self, offset: usize) -> usize {
        offset - self.tree.line_start(offset)
    }

    /// A new scalar: plain when every reader takes it as this string, else in `style`
    /// (double quotes when that style is plain too).
    pub(super) fn render_new(&self, value: &str, style: Style) -> String {
        match style {
            Style::Plain | Style::Block if plain_is_string(value) => value.to_owned(),
            Style::Plain | Style::Block => render(value, Style::Double),
            quoted => render(value, quoted),
        }
    }

    /// Replaces a scalar keeping its quoting where the new value allows.
    pub(super) fn replace_scalar(&self, id: NodeId, value: &str) -> Splice {
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

    pub(super) fn replace_value(
        &self,
        mapping: NodeId,
        key: &str,
        value: &str,
    ) -> Result<Splice, EditError> {
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
    pub(super) fn append_entry(
        &self,
        mapping: NodeId,
        key: &str,
        value: &str,
    ) -> Result<Splice, EditError> {
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
    pub(super) fn own_override(
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

    pub(super) fn service_key_start(&self, service: &str) -> usize {
        let services = self
            .tree
            .own_entry(self.tree.root, "services")
            .map(|e| e.value);
        services
            .and_then(|s| self.tree.own_entry(s, service))
            .map_or(0, |e| e.key_start)
    }
}
