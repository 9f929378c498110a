//! Ctrl-C. The binary's signal handler calls [`request`]; long loops (chunking files,
//! checkout windows, transfers, reseal) call [`check`] and stop at the next safe point with
//! [`Error::Interrupted`], removing their temporary files on the way out. Stopping anywhere
//! else would lose nothing either: every write is crash-safe (spec §11, tests/crash.rs).

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Ask running work to stop (called from a signal handler: one atomic store).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// `Err(Interrupted)` once a stop was asked for.
pub fn check() -> Result<()> {
    if requested() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}
