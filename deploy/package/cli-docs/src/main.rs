//! `kroll-cli-docs OUT_DIR`: writes the man pages and shell completions of `kroll` and
//! `kroll-agent` under OUT_DIR for the packages (see `deploy/package/build.sh`).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: kroll-cli-docs OUT_DIR");
        return ExitCode::from(2);
    };
    match kroll_cli_docs::generate(&PathBuf::from(out)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kroll-cli-docs: {e}");
            ExitCode::FAILURE
        }
    }
}
