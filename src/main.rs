//! The `coffer` binary: parse, run, map errors to messages and exit codes
//! (0 ok, 1 verify found problems, 2 error).
#![deny(unsafe_code)]

mod cli;

use clap::Parser;

fn hint(e: &coffer::Error) -> Option<&'static str> {
    use coffer::Error::*;
    match e {
        Corrupt { .. } | Missing { .. } => {
            Some("run `coffer verify` for a full report of what is damaged")
        }
        UnknownVersion { .. } => Some("this data was written by a newer coffer"),
        _ => None,
    }
}

/// Die quietly on a closed pipe (`coffer log | head`), as Unix tools do, instead of panicking
/// in `println!`.
#[allow(unsafe_code)]
fn reset_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    reset_sigpipe();
    let cli = cli::Cli::parse();
    let code = match cli::run(cli) {
        Ok(cli::Outcome::Ok) => 0,
        Ok(cli::Outcome::Findings) => 1,
        Err(coffer::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            0
        }
        Err(e) => {
            eprintln!("coffer: {e}");
            if let Some(h) = hint(&e) {
                eprintln!("hint: {h}");
            }
            2
        }
    };
    std::process::exit(code);
}
