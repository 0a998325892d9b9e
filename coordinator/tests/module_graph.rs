//! No module circles in the coordinator (`coordinator/src`).
//!
//! Reads every source file, takes every path that starts with `crate::` or `super::` (in `use`
//! trees and in code; comments and string literals are skipped), resolves it to the module it
//! names — through `pub use` re-exports of a parent, globs included — and builds, for the crate
//! and for every module with submodules, the graph of imports between its direct children. A
//! child that imports a sibling which imports it back, directly or around a longer circle,
//! fails the test, naming the circle and the file and path of every edge on it.
//!
//! A parent declaring its children (`mod x;`) and children naming their parent's items are not
//! edges between siblings; a test module (`mod tests`, `*_tests.rs`) counts as a part of the
//! module it tests.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module path below the crate root: `["upgrade", "engine"]`.
type ModPath = Vec<String>;

/// Where an edge was seen: the file and the path as written (shortened).
type Evidence = (PathBuf, String);

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The source with comments, string, byte-string, raw-string and char literals blanked out
/// (line breaks kept), so that only code is searched.
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if (c[i] == 'r' || (c[i] == 'b' && next == Some('r')))
            && !c[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
            && {
                let start = if c[i] == 'b' { i + 2 } else { i + 1 };
                let hashes = c[start..].iter().take_while(|x| **x == '#').count();
                c.get(start + hashes) == Some(&'"')
            }
        {
            let start = if c[i] == 'b' { i + 2 } else { i + 1 };
            let hashes = c[start..].iter().take_while(|x| **x == '#').count();
            i = start + hashes + 1;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '"'
                    && c[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|x| **x == '#')
                        .count()
                        == hashes
                {
                    i += 1 + hashes;
                    break;
                }
                blank(&mut out, c[i]);
                i += 1;
            }
            out.push_str("\"\"");
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c[i] == '\'' {
            // A char literal ('x', '\n', '\''), else a lifetime or label ('a).
            if next == Some('\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push('\'');
                i += 1;
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// A tiny tokenizer: identifiers, `::`, and single punctuation characters.
fn tokens(code: &str) -> Vec<String> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphabetic() || c[i] == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push("::".to_owned());
            i += 2;
        } else if c[i].is_whitespace() {
            i += 1;
        } else {
            out.push(c[i].to_string());
            i += 1;
        }
    }
    out
}

/// The paths of a path or use tree starting at `tokens[i]` (after its leading `::`), each
/// prefixed with `prefix`. Returns them and the index after the tree.
fn tree(t: &[String], mut i: usize, prefix: &[String]) -> (Vec<Vec<String>>, usize) {
    let mut path = prefix.to_vec();
    loop {
        match t.get(i).map(String::as_str) {
            Some("{") => {
                let mut all = Vec::new();
                i += 1;
                while t.get(i).is_some_and(|x| x != "}") {
                    if t[i] == "," {
                        i += 1;
                        continue;
                    }
                    let (paths, next) = tree(t, i, &path);
                    all.extend(paths);
                    i = next;
                    // Skip `as alias` and anything up to the next item.
                    while t.get(i).is_some_and(|x| x != "," && x != "}") {
                        i += 1;
                    }
                }
                return (all, i + 1);
            }
            Some("*") => return (vec![path], i + 1),
            Some(seg)
                if seg
                    .chars()
                    .next()
                    .is_some_and(|ch| ch.is_alphabetic() || ch == '_') =>
            {
                if seg != "self" {
                    path.push(seg.to_owned());
                }
                i += 1;
                if t.get(i).map(String::as_str) == Some("::") {
                    i += 1;
                } else {
                    return (vec![path], i);
                }
            }
            _ => return (vec![path], i),
        }
    }
}

/// One parsed source file.
struct File {
    path: PathBuf,
    module: ModPath,
    /// Every `crate::` / `super::` path, resolved to an absolute path, with the text it came from.
    paths: Vec<(Vec<String>, String)>,
    /// `pub use child::…` re-exports of this module: name → the child module it comes from.
    reexports: BTreeMap<String, String>,
    /// `pub use child::*`.
    globs: Vec<String>,
    /// Names of public items declared here.
    items: BTreeSet<String>,
}

/// The module a file is, from its place under `src` (`#[path]` files are placed by the caller).
fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

fn parse(path: &Path, module: ModPath) -> File {
    let src = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let t = tokens(&code_only(&src));
    let mut paths = Vec::new();
    let mut reexports = BTreeMap::new();
    let mut globs = Vec::new();
    let mut items = BTreeSet::new();
    let mut i = 0;
    while i < t.len() {
        let start = i;
        let word = t[i].as_str();
        let after_path_sep = i > 0 && t[i - 1] == "::";
        if !after_path_sep && (word == "crate" || word == "super") {
            // `super::super::x` climbs once per `super`; `crate::x` starts at the root.
            let mut base: Vec<String> = if word == "crate" {
                Vec::new()
            } else {
                module[..module.len().saturating_sub(1)].to_vec()
            };
            let mut j = i + 1;
            if t.get(j).map(String::as_str) != Some("::") {
                i += 1;
                continue;
            }
            j += 1;
            while word == "super" && t.get(j).map(String::as_str) == Some("super") {
                base.pop();
                j += 1;
                if t.get(j).map(String::as_str) == Some("::") {
                    j += 1;
                }
            }
            let (found, next) = tree(&t, j, &base);
            let text: String = t[start..next.min(t.len())].concat();
            let text: String = text.chars().take(120).collect();
            paths.extend(found.into_iter().map(|p| (p, text.clone())));
            i = next;
            continue;
        }
        // `pub use child::{A, B as C}` / `pub use child::*` in this module.
        if word == "pub" {
            let mut j = i + 1;
            if t.get(j).map(String::as_str) == Some("(") {
                while t.get(j).is_some_and(|x| x != ")") {
                    j += 1;
                }
                j += 1;
            }
            match t.get(j).map(String::as_str) {
                Some("use") => {
                    let first = t.get(j + 1).cloned().unwrap_or_default();
                    if first != "crate" && first != "super" && first != "self" {
                        let (found, _) = tree(&t, j + 1, &[]);
                        for p in found {
                            if p.len() == 1 {
                                globs.push(p[0].clone());
                            } else if let Some(name) = p.last() {
                                reexports.insert(name.clone(), p[0].clone());
                            }
                        }
                    }
                }
                Some("struct" | "enum" | "fn" | "type" | "trait" | "const" | "static" | "mod") => {
                    if let Some(name) = t.get(j + 1) {
                        items.insert(name.clone());
                    }
                }
                Some("async" | "unsafe") => {
                    if let Some(name) = t.get(j + 2) {
                        items.insert(name.clone());
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    File {
        path: path.to_owned(),
        module,
        paths,
        reexports,
        globs,
        items,
    }
}

/// Every file of the crate, `#[path = "x_tests.rs"] mod tests;` files placed in their module.
fn crate_files() -> Vec<File> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut placed: BTreeMap<PathBuf, ModPath> = files
        .iter()
        .map(|f| {
            (
                f.clone(),
                module_of(f.strip_prefix(&src).expect("below src")),
            )
        })
        .collect();
    for f in &files {
        let text = fs::read_to_string(f).expect("read");
        let mut rest = text.as_str();
        while let Some(at) = rest.find("#[path = \"") {
            rest = &rest[at + 10..];
            let Some(end) = rest.find('"') else { break };
            let target = f.parent().expect("parent").join(&rest[..end]);
            let after = &rest[end..];
            let name: String = after
                .split("mod ")
                .nth(1)
                .unwrap_or("")
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let mut module = placed[f].clone();
            module.push(name);
            placed.insert(target, module);
        }
    }
    files.iter().map(|f| parse(f, placed[f].clone())).collect()
}

/// The crate's module tree: every module and its children.
fn children(files: &[File]) -> BTreeMap<ModPath, BTreeSet<String>> {
    let mut tree: BTreeMap<ModPath, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        for k in 0..f.module.len() {
            tree.entry(f.module[..k].to_vec())
                .or_default()
                .insert(f.module[k].clone());
        }
    }
    tree
}

/// The child of `parent` a path below it really lands in: itself when it is a child module,
/// else the child a `pub use` of the parent takes the name from.
fn child_of(
    parent: &[String],
    target: &[String],
    files: &BTreeMap<ModPath, &File>,
    kids: &BTreeSet<String>,
) -> Option<String> {
    let name = target.get(parent.len())?;
    if kids.contains(name) {
        return Some(name.clone());
    }
    let file = files.get(parent)?;
    if let Some(child) = file.reexports.get(name).filter(|c| kids.contains(*c)) {
        return Some(child.clone());
    }
    file.globs
        .iter()
        .filter(|g| kids.contains(*g))
        .find(|g| {
            let mut child = parent.to_vec();
            child.push((*g).clone());
            files.get(&child).is_some_and(|f| f.items.contains(name))
        })
        .cloned()
}

/// Edges between the children of every module: parent → (from, to) → where seen.
fn sibling_edges(files: &[File]) -> BTreeMap<ModPath, BTreeMap<(String, String), Vec<Evidence>>> {
    let tree = children(files);
    let by_module: BTreeMap<ModPath, &File> = files.iter().map(|f| (f.module.clone(), f)).collect();
    let mut graphs: BTreeMap<ModPath, BTreeMap<(String, String), Vec<Evidence>>> = BTreeMap::new();
    for f in files {
        for (target, text) in &f.paths {
            for (parent, kids) in &tree {
                let k = parent.len();
                if f.module.len() <= k
                    || !f.module.starts_with(parent)
                    || !target.starts_with(parent)
                {
                    continue;
                }
                let from = f.module[k].clone();
                let Some(to) = child_of(parent, target, &by_module, kids) else {
                    continue;
                };
                if from != to {
                    graphs
                        .entry(parent.clone())
                        .or_default()
                        .entry((from, to))
                        .or_default()
                        .push((f.path.clone(), text.clone()));
                }
            }
        }
    }
    graphs
}

/// One circle in `edges`, if there is any (depth-first search, nodes in name order).
fn find_cycle(edges: &BTreeMap<(String, String), Vec<Evidence>>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    fn visit<'a>(
        node: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(node, 1);
        stack.push(node);
        for &n in next.get(node).map(Vec::as_slice).unwrap_or(&[]) {
            match state.get(n) {
                Some(1) => {
                    let at = stack.iter().position(|s| *s == n).expect("on the stack");
                    let mut cycle: Vec<String> =
                        stack[at..].iter().map(|s| (*s).to_owned()).collect();
                    cycle.push(n.to_owned());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(n, next, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node, 2);
        None
    }
    let mut state = BTreeMap::new();
    let nodes: Vec<&str> = next.keys().copied().collect();
    for node in nodes {
        if !state.contains_key(node)
            && let Some(c) = visit(node, &next, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

fn describe(
    parent: &[String],
    cycle: &[String],
    edges: &BTreeMap<(String, String), Vec<Evidence>>,
) -> String {
    let name = |m: &str| {
        if parent.is_empty() {
            m.to_owned()
        } else {
            format!("{}::{m}", parent.join("::"))
        }
    };
    let mut out = format!(
        "module circle: {}\n",
        cycle
            .iter()
            .map(|m| name(m))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    for pair in cycle.windows(2) {
        let seen = &edges[&(pair[0].clone(), pair[1].clone())];
        let (file, text) = &seen[0];
        out.push_str(&format!(
            "  {} → {}: {} uses `{text}`{}\n",
            name(&pair[0]),
            name(&pair[1]),
            file.strip_prefix(src_dir()).unwrap_or(file).display(),
            if seen.len() > 1 {
                format!(" (and {} more)", seen.len() - 1)
            } else {
                String::new()
            }
        ));
    }
    out
}

/// Imports that close a circle which is not broken yet, each with why it is left. Each must still
/// exist (the test fails on a stale entry, so the list only shrinks); every other circle fails.
const KNOWN: &[(&str, &str, &str, &str)] = &[(
    "upgrade",
    "plan",
    "decide",
    "the plan's `done` marks use `decide::satisfied` and `decide` reads the plan's steps; breaking it moves `Change` out of `plan` (being reworked for the Swarm backend)",
)];

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let files = crate_files();
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut graphs = sibling_edges(&files);
    for (parent, from, to, why) in KNOWN {
        let parent: ModPath = vec![(*parent).to_owned()];
        let removed = graphs
            .get_mut(&parent)
            .and_then(|g| g.remove(&((*from).to_owned(), (*to).to_owned())));
        assert!(
            removed.is_some(),
            "KNOWN lists {}::{from} → {}::{to} ({why}), which no longer exists: remove it from the list",
            parent[0],
            parent[0]
        );
    }
    let top = graphs
        .get(&Vec::new())
        .expect("edges between top-level modules");
    assert!(
        top.contains_key(&("upgrade".to_owned(), "connect".to_owned())),
        "the checker must see the upgrade's imports of Connect: {:?}",
        top.keys().collect::<Vec<_>>()
    );
    let circles: Vec<String> = graphs
        .iter()
        .filter_map(|(parent, edges)| Some(describe(parent, &find_cycle(edges)?, edges)))
        .collect();
    assert!(circles.is_empty(), "{}", circles.join("\n"));
}

/// The checker itself: it sees `use` trees, `super::`, code paths and re-exports, and not
/// comments or strings.
#[test]
fn the_checker_finds_a_circle_through_a_use_tree_a_reexport_and_super() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, text).expect("write");
        p
    };
    let a = write(
        "a/mod.rs",
        "mod x;\npub use x::Thing;\n// crate::b::Nothing\n",
    );
    let x = write(
        "a/x.rs",
        "use crate::{b::{self, Other as O}};\npub struct Thing;\n",
    );
    let b = write(
        "b.rs",
        "fn f() { let _ = \"crate::c::X\"; let _ = 'x'; crate::a::Thing; }\npub struct Other;\n",
    );
    let c = write("c/mod.rs", "mod p;\nmod q;\n");
    let p = write("c/p.rs", "use super::q::Q;\npub struct P;\n");
    let q = write(
        "c/q.rs",
        "pub struct Q;\nfn g() -> super::p::P { todo!() }\n",
    );
    let files: Vec<File> = [
        (a, vec!["a"]),
        (x, vec!["a", "x"]),
        (b, vec!["b"]),
        (c, vec!["c"]),
        (p, vec!["c", "p"]),
        (q, vec!["c", "q"]),
    ]
    .into_iter()
    .map(|(f, m)| parse(&f, m.into_iter().map(str::to_owned).collect()))
    .collect();
    let graphs = sibling_edges(&files);
    let top = &graphs[&Vec::new()];
    let keys: Vec<_> = top.keys().cloned().collect();
    assert_eq!(
        keys,
        vec![
            ("a".to_owned(), "b".to_owned()),
            ("b".to_owned(), "a".to_owned())
        ],
        "a comment or a string is not an edge; a `use` tree and a re-exported item are"
    );
    assert_eq!(
        find_cycle(top),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
    let inner = &graphs[&vec!["c".to_owned()]];
    assert_eq!(
        find_cycle(inner),
        Some(vec!["p".into(), "q".into(), "p".into()])
    );
    let text = describe(
        &["c".to_owned()],
        &["p".into(), "q".into(), "p".into()],
        inner,
    );
    assert!(
        text.contains("c::p → c::q: ") && text.contains("uses `super::q::Q`"),
        "{text}"
    );
}
