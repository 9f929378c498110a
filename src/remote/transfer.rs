//! Copying content-named objects between two stores with bounded parallelism: each object is
//! checked against its name (BLAKE3 of its bytes) before it is written, so a tampered remote
//! object never lands in a dataset, and an interrupted copy resumes by copying what is missing.

use crate::error::{Error, Result};
use crate::id::Id;
use crate::repo::progress_bar;
use crate::store::Store;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Objects in flight at once: enough to hide request latency, few enough that memory stays
/// at a few packs (each object is held whole while it travels).
pub const JOBS: usize = 8;

/// The id a content-named object must hash to: the last segment of its name.
pub fn expected_id(name: &str) -> Option<Id> {
    Id::from_hex(name.rsplit('/').next()?)
}

/// Check that `bytes` hash to the id in `name`.
pub fn check_content(name: &str, bytes: &[u8]) -> Result<()> {
    let want = expected_id(name).ok_or_else(|| Error::Malformed {
        what: "object name",
        reason: format!("{name} does not end in an object id"),
    })?;
    if Id::of_stored(bytes) != want {
        let kind = match name.split('/').next() {
            Some("packs") => "pack",
            Some("versions") => "version",
            Some("policy") => "policy",
            _ => "object",
        };
        return Err(Error::Corrupt {
            kind,
            id: want,
            reason: "content does not hash to its name (altered in storage)".into(),
        });
    }
    Ok(())
}

/// What a copy moved.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Moved {
    /// Objects copied.
    pub objects: usize,
    /// Bytes copied.
    pub bytes: u64,
}

/// Copy `names` (with their sizes, for progress) from `src` to `dst`, `JOBS` at a time.
/// Stops at the first error; what was copied before it stays (every object is complete or
/// absent), so running again copies only the rest.
pub fn copy(src: &Store, dst: &Store, names: &[(String, u64)], progress: bool) -> Result<Moved> {
    if names.is_empty() {
        return Ok(Moved::default());
    }
    let total: u64 = names.iter().map(|(_, s)| *s).sum();
    let pb = progress_bar(progress, total);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    let moved = Mutex::new(Moved::default());
    std::thread::scope(|s| {
        for _ in 0..JOBS.min(names.len()) {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((name, _)) = names.get(i) else { break };
                    let r = (|| -> Result<u64> {
                        let bytes = src.get(name)?.ok_or_else(|| Error::Missing {
                            kind: "object",
                            id: expected_id(name).unwrap_or(Id::ZERO),
                        })?;
                        check_content(name, &bytes)?;
                        let n = bytes.len() as u64;
                        dst.put_content(name, bytes)?;
                        Ok(n)
                    })();
                    match r {
                        Ok(n) => {
                            pb.inc(n);
                            let mut m = moved.lock().unwrap_or_else(|p| p.into_inner());
                            m.objects += 1;
                            m.bytes += n;
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            first_err
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    pb.finish_and_clear();
    if let Some(e) = first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(moved.into_inner().unwrap_or_else(|p| p.into_inner()))
}
