//! A unified diff of the stack file before and after an edit, for the operator.

use similar::TextDiff;

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
}
