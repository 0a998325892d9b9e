//! `kroll report RUN_DIR`: a run's `report.html` drawn again from its journal (for runs made
//! before the page existed, or a halted run looked at later). Reads the journal only; takes no
//! lock, so it also works while a run is under way.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{Cli, Output, UsageError};
use crate::upgrade::journal;
use crate::upgrade::report_html;
use crate::upgrade::timeline::Timeline;

/// `kroll report` options.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory (`<runs>/<run id>`, holding `journal.jsonl`).
    pub run_dir: PathBuf,
    /// Where to write the page. Default: `RUN_DIR/report.html`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(cli: &Cli, a: &ReportArgs) -> anyhow::Result<ExitCode> {
    let journal_file = a.run_dir.join("journal.jsonl");
    if !journal_file.is_file() {
        return Err(UsageError(format!(
            "{}: no journal here (`kroll report` takes a run directory, e.g. runs/<run id>)",
            journal_file.display()
        ))
        .into());
    }
    let entries = journal::read(&journal_file)?;
    let timeline =
        Timeline::from_journal(&entries).with_samples(&journal::read_samples(&a.run_dir));
    let page = report_html::render(&timeline);
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| a.run_dir.join("report.html"));
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .ok_or_else(|| UsageError(format!("--out {}: not a file name", out.display())))?
        .to_string_lossy()
        .into_owned();
    let written = journal::write_atomically(&dir, &name, page.as_bytes())?;
    if cli.output == Output::Json {
        println!(
            "{}",
            serde_json::json!({"report": written, "timeline": timeline})
        );
    } else {
        println!(
            "{}: {} steps of {} containers over {:.1} s",
            written.display(),
            timeline.segments().count(),
            timeline.rows.len(),
            timeline.span_ms as f64 / 1000.0
        );
    }
    Ok(ExitCode::SUCCESS)
}
