//! The `coffer` binary: parse, run, map errors to messages and exit codes
//! (0 ok, 1 verify found problems, 2 error).
#![deny(unsafe_code)]

mod cli;

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

/// Ctrl-C: ask running work to stop at its next safe point (it then reports and exits 130);
/// if it has not within two seconds, or on a second Ctrl-C, exit at once, which is safe too.
fn on_ctrl_c() {
    const GRACE: std::time::Duration = std::time::Duration::from_secs(2);
    let bye = || {
        eprintln!("\ncoffer: {}", coffer::Error::Interrupted);
        std::process::exit(130);
    };
    let _ = ctrlc::set_handler(move || {
        if coffer::interrupt::requested() {
            bye();
        }
        coffer::interrupt::request();
        std::thread::spawn(move || {
            std::thread::sleep(GRACE);
            bye();
        });
    });
}

fn main() {
    reset_sigpipe();
    on_ctrl_c();
    let cli = cli::parse();
    let code = match cli::run(cli) {
        Ok(cli::Outcome::Ok) => 0,
        Ok(cli::Outcome::Findings) => 1,
        Err(coffer::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            0
        }
        Err(e @ coffer::Error::Interrupted) => {
            eprintln!("\ncoffer: {e}");
            130
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
