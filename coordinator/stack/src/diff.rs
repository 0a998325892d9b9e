//! A unified diff of the stack file before and after an edit, for the operator.

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

/// `diff -u`-style text of `old` → `new` with three lines of context; empty when equal.
///
/// `old_name` and `new_name` go into the `---` / `+++` header lines.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// The changed lines of `old` → `new` only (no context), each as `show` renders it: a diff
/// that can be printed when unchanged neighbours — or the changed values themselves — may hold
/// secrets. Hunk headers keep the line numbers; empty when equal.
pub fn changed_lines_diff(
    old: &str,
    new: &str,
    old_name: &str,
    new_name: &str,
    show: &dyn Fn(&str) -> String,
) -> String {
    if old == new {
        return String::new();
    }
    let diff = TextDiff::from_lines(old, new);
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for hunk in diff.unified_diff().context_radius(0).iter_hunks() {
        let _ = writeln!(out, "{}", hunk.header());
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            let line = change.value().trim_end_matches(['\n', '\r']);
            let _ = writeln!(out, "{sign}{}", show(line));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff_and_changes_show_with_context() {
        assert_eq!(unified_diff("a\n", "a\n", "old", "new"), "");
        let diff = unified_diff("a\nb\nc\n", "a\nB\nc\n", "stack.yml", "stack.yml (kroll)");
        assert_eq!(
            diff,
            "--- stack.yml\n+++ stack.yml (kroll)\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        );
    }

    #[test]
    fn the_changed_lines_diff_shows_no_context_and_renders_each_line() {
        assert_eq!(
            changed_lines_diff("a\n", "a\n", "o", "n", &|l| l.into()),
            ""
        );
        let old = "secret: s1\nIBP: 3.1\nother: s2\nimage: x:1\n";
        let new = "secret: s1\nIBP: 3.7\nother: s2\nimage: x:2\n";
        let diff = changed_lines_diff(old, new, "f", "f", &|l| l.to_uppercase());
        assert_eq!(
            diff,
            "--- f\n+++ f\n@@ -2 +2 @@\n-IBP: 3.1\n+IBP: 3.7\n@@ -4 +4 @@\n-IMAGE: X:1\n+IMAGE: X:2\n"
        );
        assert!(!diff.contains("s1") && !diff.contains("s2"), "{diff}");
    }
}
