//! `kroll-labbox`: the smallest program a lab or test container can run.
//!
//! ```text
//! kroll-labbox [--ignore-sigterm] [--stop-delay-ms N] [--exit-code N] [--log-every-ms N] [--exit-after-ms N]
//! ```
//! Prints a start line, then (optionally) a heartbeat line every N ms. On SIGTERM it waits
//! `--stop-delay-ms` (a slow, graceful shutdown), prints a stop line and exits with
//! `--exit-code` (default 0) — unless `--ignore-sigterm`, in which case only SIGKILL stops it
//! (the container runtime's stop timeout is then what ends it). `--exit-after-ms` makes it exit
//! on its own with `--exit-code` (a crashing service).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Opts {
    ignore_sigterm: bool,
    stop_delay: Duration,
    exit_code: i32,
    log_every: Option<Duration>,
    exit_after: Option<Duration>,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--ignore-sigterm" => o.ignore_sigterm = true,
            "--stop-delay-ms" => o.stop_delay = Duration::from_millis(num(&a)?),
            "--exit-code" => o.exit_code = i32::try_from(num(&a)?).map_err(|e| e.to_string())?,
            "--log-every-ms" => o.log_every = Some(Duration::from_millis(num(&a)?)),
            "--exit-after-ms" => o.exit_after = Some(Duration::from_millis(num(&a)?)),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(o)
}

fn main() {
    let opts = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kroll-labbox: {e}");
            std::process::exit(2);
        }
    };
    let term = Arc::new(AtomicBool::new(false));
    if !opts.ignore_sigterm {
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&term)) {
                eprintln!("kroll-labbox: cannot handle signal {sig}: {e}");
                std::process::exit(1);
            }
        }
    }
    println!(
        "labbox started pid={} ignore_sigterm={}",
        std::process::id(),
        opts.ignore_sigterm
    );
    let began = Instant::now();
    let mut last_log = Instant::now();
    loop {
        if term.load(Ordering::Relaxed) {
            println!("labbox stopping in {} ms", opts.stop_delay.as_millis());
            std::thread::sleep(opts.stop_delay);
            println!("labbox stopped");
            std::process::exit(opts.exit_code);
        }
        if opts.exit_after.is_some_and(|d| began.elapsed() >= d) {
            println!("labbox exiting with {}", opts.exit_code);
            std::process::exit(opts.exit_code);
        }
        if let Some(every) = opts.log_every
            && last_log.elapsed() >= every
        {
            println!("labbox alive {} ms", began.elapsed().as_millis());
            last_log = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
