//! The lossless syntax tree (yaml-edit's rowan tree) read into a small arena of
//! nodes that keep their byte ranges, anchors and key paths, so that resolving
//! merges and planning edits need not walk rowan again.

use std::collections::HashMap;

use rowan::ast::AstNode;
use yaml_edit::{Lang, SyntaxKind, YamlFile};

use crate::error::{ErrorKind, KeyPath, StackError};
use crate::scalar::{CliYaml, Style, compose_string};

type SyntaxNode = rowan::SyntaxNode<Lang>;

/// Index of a node in [`Tree::nodes`].
pub(crate) type NodeId = usize;

/// How deep merges and aliases may nest before the file is refused.
pub(crate) const MAX_DEPTH: usize = 32;

/// A node of the document.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Byte range of the content (after any anchor or tag).
    pub start: usize,
    pub end: usize,
    /// `&name` on this node.
    pub anchor: Option<String>,
    /// Dotted key path of the node.
    pub path: String,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Scalar {
        /// The scalar's string content (unquoted, unescaped, folded).
        decoded: String,
        style: Style,
    },
    Mapping {
        entries: Vec<Entry>,
        flow: bool,
    },
    Sequence {
        items: Vec<NodeId>,
        flow: bool,
    },
    Alias {
        name: String,
        target: NodeId,
    },
}

/// One `key: value` of a mapping.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub key_start: usize,
    pub key_end: usize,
    pub key_style: Style,
    /// A `<<` merge key.
    pub merge: bool,
    pub value: NodeId,
    /// Byte range of the whole entry, from its key to the end of its line(s).
    pub start: usize,
    pub end: usize,
}

/// The document as an arena of nodes.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    pub root: NodeId,
    /// How the deploying CLI types plain scalars.
    pub reader: CliYaml,
    line_starts: Vec<usize>,
}

impl Tree {
    /// Parses `text`; errors name `origin`, the line and the key.
    pub fn parse(text: &str, origin: &str, reader: CliYaml) -> Result<Self, StackError> {
        let mut builder = Builder {
            text,
            origin,
            nodes: Vec::new(),
            anchors: HashMap::new(),
            line_starts: line_starts(text),
        };
        let parse = YamlFile::parse(text);
        let file: YamlFile = parse.tree();
        if let Some(first) = parse.positioned_errors().first() {
            let at = first.range.start as usize;
            let path = key_path_at(file.syntax(), at);
            return Err(builder.error(at, &path, ErrorKind::Syntax(first.message.clone())));
        }
        if file.syntax().text() != text {
            // Edits splice the original text at the tree's offsets: a tree that
            // does not hold the text byte for byte cannot be edited safely.
            return Err(builder.error(
                0,
                "",
                ErrorKind::Unsupported("text the parser does not reproduce byte for byte"),
            ));
        }
        if let Some(tab) = file
            .syntax()
            .descendants_with_tokens()
            .find(|t| t.kind() == SyntaxKind::INDENT && t.to_string().contains('\t'))
        {
            let at = usize::from(tab.text_range().start());
            return Err(builder.error(at, "", ErrorKind::Syntax("a tab in indentation".into())));
        }
        let documents: Vec<SyntaxNode> = file
            .syntax()
            .children()
            .filter(|n| n.kind() == SyntaxKind::DOCUMENT)
            .collect();
        let [document] = documents.as_slice() else {
            return Err(builder.error(0, "", ErrorKind::Documents(documents.len())));
        };
        let root = builder.content(document, "")?.ok_or_else(|| {
            builder.error(
                0,
                "",
                ErrorKind::Shape {
                    expected: "a mapping",
                    found: "an empty document",
                },
            )
        })?;
        Ok(Self {
            nodes: builder.nodes,
            root,
            reader,
            line_starts: builder.line_starts,
        })
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        line_of(&self.line_starts, offset)
    }

    /// The byte offset where the line holding `offset` starts.
    pub fn line_start(&self, offset: usize) -> usize {
        self.line_starts[self.line(offset) - 1]
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// Follows aliases to the node they name.
    pub fn deref(&self, mut id: NodeId) -> NodeId {
        for _ in 0..MAX_DEPTH {
            match self.nodes[id].kind {
                Kind::Alias { target, .. } => id = target,
                _ => return id,
            }
        }
        id
    }

    /// The entries of a mapping node (after aliases), or `None`.
    pub fn entries(&self, id: NodeId) -> Option<&[Entry]> {
        match &self.nodes[self.deref(id)].kind {
            Kind::Mapping { entries, .. } => Some(entries),
            _ => None,
        }
    }

    /// The own (non-merge) entry `key` of a mapping.
    pub fn own_entry(&self, id: NodeId, key: &str) -> Option<&Entry> {
        self.entries(id)?
            .iter()
            .find(|entry| !entry.merge && entry.key == key)
    }

    /// The value Docker passes on for a scalar node (`None` for null or non-scalars).
    pub fn compose_value(&self, id: NodeId) -> Option<String> {
        match &self.nodes[self.deref(id)].kind {
            Kind::Scalar { decoded, style } => compose_string(decoded, *style, self.reader),
            _ => None,
        }
    }

    /// A short name of what a node is, for errors.
    pub fn what(&self, id: NodeId) -> &'static str {
        match &self.nodes[self.deref(id)].kind {
            Kind::Scalar { decoded, style }
                if compose_string(decoded, *style, self.reader).is_none() =>
            {
                "null"
            }
            Kind::Scalar { .. } => "a scalar",
            Kind::Mapping { .. } => "a mapping",
            Kind::Sequence { .. } => "a sequence",
            Kind::Alias { .. } => "an alias",
        }
    }

    /// Whether a scalar node is a null.
    pub fn is_null(&self, id: NodeId) -> bool {
        matches!(&self.nodes[self.deref(id)].kind,
            Kind::Scalar { decoded, style } if compose_string(decoded, *style, self.reader).is_none())
    }
}

/// The dotted keys of the mapping entries around `offset`, outermost first.
fn key_path_at(root: &SyntaxNode, offset: usize) -> String {
    let Ok(offset) = u32::try_from(offset) else {
        return String::new();
    };
    let Some(token) = root.token_at_offset(offset.into()).left_biased() else {
        return String::new();
    };
    let mut keys: Vec<String> = token
        .parent_ancestors()
        .filter(|n| n.kind() == SyntaxKind::MAPPING_ENTRY)
        .filter_map(|entry| entry.children().find(|c| c.kind() == SyntaxKind::KEY))
        .map(|key| key.text().to_string().trim().to_owned())
        .collect();
    keys.reverse();
    keys.join(".")
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
        .collect()
}

fn line_of(line_starts: &[usize], offset: usize) -> usize {
    line_starts.partition_point(|start| *start <= offset).max(1)
}

struct Builder<'a> {
    text: &'a str,
    origin: &'a str,
    nodes: Vec<Node>,
    anchors: HashMap<String, NodeId>,
    line_starts: Vec<usize>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn range(node: &SyntaxNode) -> (usize, usize) {
    let range = node.text_range();
    (range.start().into(), range.end().into())
}

impl Builder<'_> {
    fn error(&self, offset: usize, path: &str, kind: ErrorKind) -> StackError {
        StackError {
            origin: self.origin.to_owned(),
            line: line_of(&self.line_starts, offset),
            key: KeyPath(path.to_owned()),
            kind,
        }
    }

    /// Reads the node held by `parent` (a VALUE, DOCUMENT or SEQUENCE_ENTRY).
    fn content(&mut self, parent: &SyntaxNode, path: &str) -> Result<Option<NodeId>, StackError> {
        let mut anchor = None;
        let mut content = None;
        for child in parent.children_with_tokens() {
            match child {
                rowan::NodeOrToken::Token(token) if token.kind() == SyntaxKind::ANCHOR => {
                    anchor = Some(token.text().trim_start_matches('&').to_owned());
                }
                rowan::NodeOrToken::Token(token) if token.kind() == SyntaxKind::TAG => {
                    let at = usize::from(token.text_range().start());
                    return Err(self.error(at, path, ErrorKind::Unsupported("YAML tags")));
                }
                rowan::NodeOrToken::Node(node) => match node.kind() {
                    SyntaxKind::SCALAR
                    | SyntaxKind::MAPPING
                    | SyntaxKind::SEQUENCE
                    | SyntaxKind::ALIAS => {
                        content.get_or_insert(node);
                    }
                    SyntaxKind::TAGGED_NODE => {
                        let at = range(&node).0;
                        return Err(self.error(at, path, ErrorKind::Unsupported("YAML tags")));
                    }
                    SyntaxKind::ERROR => {
                        let at = range(&node).0;
                        let message = format!("cannot parse {:?}", node.text().to_string());
                        return Err(self.error(at, path, ErrorKind::Syntax(message)));
                    }
                    _ => {}
                },
                rowan::NodeOrToken::Token(_) => {}
            }
        }
        let Some(content) = content else {
            return Ok(None);
        };
        let id = self.node(&content, path)?;
        if let Some(name) = anchor {
            self.nodes[id].anchor = Some(name.clone());
            self.anchors.insert(name, id);
        }
        Ok(Some(id))
    }

    fn push(&mut self, node: &SyntaxNode, path: &str, kind: Kind) -> NodeId {
        let (start, end) = range(node);
        self.nodes.push(Node {
            start,
            end,
            anchor: None,
            path: path.to_owned(),
            kind,
        });
        self.nodes.len() - 1
    }

    fn node(&mut self, node: &SyntaxNode, path: &str) -> Result<NodeId, StackError> {
        let flow = node
            .children_with_tokens()
            .any(|c| matches!(c.kind(), SyntaxKind::LEFT_BRACE | SyntaxKind::LEFT_BRACKET));
        match node.kind() {
            SyntaxKind::MAPPING => {
                let entries = self.mapping(node, path)?;
                Ok(self.push(node, path, Kind::Mapping { entries, flow }))
            }
            SyntaxKind::SEQUENCE => {
                let mut items = Vec::new();
                for (index, entry) in node
                    .children()
                    .filter(|c| c.kind() == SyntaxKind::SEQUENCE_ENTRY)
                    .enumerate()
                {
                    let item_path = format!("{path}[{index}]");
                    let item = match self.content(&entry, &item_path)? {
                        Some(item) => item,
                        None => self.null(&entry, &item_path),
                    };
                    items.push(item);
                }
                if !flow {
                    let dashes: Vec<usize> = node
                        .children()
                        .filter(|c| c.kind() == SyntaxKind::SEQUENCE_ENTRY)
                        .map(|c| range(&c).0)
                        .collect();
                    self.check_aligned(&dashes, path, "a list item")?;
                }
                Ok(self.push(node, path, Kind::Sequence { items, flow }))
            }
            SyntaxKind::ALIAS => {
                let name = node.text().to_string().trim_start_matches('*').to_owned();
                let Some(target) = self.anchors.get(&name).copied() else {
                    return Err(self.error(range(node).0, path, ErrorKind::UndefinedAlias(name)));
                };
                Ok(self.push(node, path, Kind::Alias { name, target }))
            }
            _ => {
                let (decoded, style) = self.scalar(node, path)?;
                Ok(self.push(node, path, Kind::Scalar { decoded, style }))
            }
        }
    }

    fn scalar(&self, node: &SyntaxNode, path: &str) -> Result<(String, Style), StackError> {
        if let Some(bad) = node
            .children_with_tokens()
            .find(|c| c.kind() == SyntaxKind::UNTERMINATED_STRING)
        {
            let at = usize::from(bad.text_range().start());
            let message = "unterminated quoted string".to_owned();
            return Err(self.error(at, path, ErrorKind::Syntax(message)));
        }
        let scalar = yaml_edit::Scalar::cast(node.clone()).ok_or_else(|| {
            self.error(
                range(node).0,
                path,
                ErrorKind::Shape {
                    expected: "a scalar",
                    found: "something else",
                },
            )
        })?;
        let (start, end) = range(node);
        Ok((scalar.as_string(), Style::of(&self.text[start..end])))
    }

    /// An empty value (`key:`) as a null scalar at the end of its parent.
    fn null(&mut self, parent: &SyntaxNode, path: &str) -> NodeId {
        let end = range(parent).1;
        self.nodes.push(Node {
            start: end,
            end,
            anchor: None,
            path: path.to_owned(),
            kind: Kind::Scalar {
                decoded: String::new(),
                style: Style::Plain,
            },
        });
        self.nodes.len() - 1
    }

    fn column(&self, offset: usize) -> usize {
        offset - self.line_starts[line_of(&self.line_starts, offset) - 1]
    }

    /// The parser tolerates block entries at differing columns; YAML (and
    /// Docker) does not, so neither does kroll.
    fn check_aligned(
        &self,
        starts: &[usize],
        path: &str,
        what: &'static str,
    ) -> Result<(), StackError> {
        let Some(first) = starts.first() else {
            return Ok(());
        };
        match starts
            .iter()
            .find(|s| self.column(**s) != self.column(*first))
        {
            Some(bad) => Err(self.error(
                *bad,
                path,
                ErrorKind::Syntax(format!(
                    "{what} not aligned with the one on line {}",
                    line_of(&self.line_starts, *first)
                )),
            )),
            None => Ok(()),
        }
    }

    fn mapping(&mut self, node: &SyntaxNode, path: &str) -> Result<Vec<Entry>, StackError> {
        let mut entries: Vec<Entry> = Vec::new();
        for entry in node
            .children()
            .filter(|c| c.kind() == SyntaxKind::MAPPING_ENTRY)
        {
            let (start, end) = range(&entry);
            let key_node = entry
                .children()
                .find(|c| c.kind() == SyntaxKind::KEY)
                .and_then(|key| key.children().find(|c| c.kind() == SyntaxKind::SCALAR))
                .ok_or_else(|| {
                    self.error(
                        start,
                        path,
                        ErrorKind::Unsupported("a key that is not a scalar"),
                    )
                })?;
            let merge = key_node
                .children_with_tokens()
                .any(|c| c.kind() == SyntaxKind::MERGE_KEY);
            let (key, key_style) = self.scalar(&key_node, path)?;
            let (key_start, key_end) = range(&key_node);
            let entry_path = join(path, &key);
            if !merge && entries.iter().any(|e| !e.merge && e.key == key) {
                return Err(self.error(key_start, path, ErrorKind::DuplicateKey(key)));
            }
            let value = match entry.children().find(|c| c.kind() == SyntaxKind::VALUE) {
                Some(value) => self.content(&value, &entry_path)?,
                None => None,
            };
            let value = match value {
                Some(value) => value,
                None => self.null(&entry, &entry_path),
            };
            entries.push(Entry {
                key,
                key_start,
                key_end,
                key_style,
                merge,
                value,
                start,
                end,
            });
        }
        if !node
            .children_with_tokens()
            .any(|c| c.kind() == SyntaxKind::LEFT_BRACE)
        {
            let starts: Vec<usize> = entries.iter().map(|e| e.start).collect();
            self.check_aligned(&starts, path, "a key")?;
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_from_one() {
        let starts = line_starts("a\nb\n\nc");
        assert_eq!(line_of(&starts, 0), 1);
        assert_eq!(line_of(&starts, 2), 2);
        assert_eq!(line_of(&starts, 4), 3);
        assert_eq!(line_of(&starts, 5), 4);
    }
}
