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

/// [`parallel`] for requests to `stores`: in order on one thread when they are all folders on
/// this machine (threads would cost more than the reads), `JOBS` at a time otherwise.
pub fn for_stores<T: Sync, R: Send>(
    stores: &[&Store],
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    if stores
        .iter()
        .all(|s| s.is_local() && s.fallback().is_none())
    {
        items.iter().map(f).collect()
    } else {
        parallel(items, f)
    }
}

/// Run `f` on every item, `JOBS` at a time, keeping the order of results. Stops at the
/// first error (items already done stay done).
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..JOBS.min(items.len()) {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    match crate::interrupt::check().and_then(|()| f(item)) {
                        Ok(r) => results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r),
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
    if let Some(e) = first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect())
}

/// Read many objects at once; `None` for those absent.
pub fn get_all(src: &Store, names: &[String]) -> Result<Vec<Option<bytes::Bytes>>> {
    for_stores(&[src], names, |n| src.get(n))
}

/// Copy `names` (with their sizes, for progress) from `src` to `dst`, `JOBS` at a time.
/// Stops at the first error; what was copied before it stays (every object is complete or
/// absent), so running again copies only the rest.
pub fn copy(src: &Store, dst: &Store, names: &[(String, u64)], progress: bool) -> Result<Moved> {
    let total: u64 = names.iter().map(|(_, s)| *s).sum();
    let pb = progress_bar(progress && !names.is_empty(), total);
    let sizes = for_stores(&[src, dst], names, |(name, _)| {
        let bytes = src.get(name)?.ok_or_else(|| Error::Missing {
            kind: "object",
            id: expected_id(name).unwrap_or(Id::ZERO),
        })?;
        check_content(name, &bytes)?;
        let n = bytes.len() as u64;
        dst.put_content(name, bytes)?;
        crate::testhook::pause(if name.starts_with("packs/") {
            "pack"
        } else {
            "object"
        });
        pb.inc(n);
        Ok(n)
    });
    pb.finish_and_clear();
    let sizes = sizes?;
    Ok(Moved {
        objects: sizes.len(),
        bytes: sizes.iter().sum(),
    })
}
