//! Progress lines for people: the sink long operations (quiesce, resume, migration, backup,
//! drift checks) report to, one line at a time. A leaf: it imports nothing of the crate.

/// Where long operations report progress (one line at a time, for people).
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// A progress sink that drops everything.
pub fn quiet(_: &str) {}
