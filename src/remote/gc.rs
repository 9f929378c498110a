//! Garbage: packs no version references (left by interrupted commits and pushes, or by a
//! pusher that lost a race). Only packs older than the grace period go, so a push still
//! uploading its packs (which no version references until it finishes) keeps them. A
//! folder store's staged writes that old (`NAME#N`) go too: their writer was killed.

use super::claim::Claim;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::object::version::Version;
use crate::repo::now;
use crate::store::{self, Store};
use std::collections::HashSet;

/// Default grace period: twice the window in which a push reuses an unreferenced pack.
pub const DEFAULT_GRACE_SECS: u64 = 2 * super::push::REUSE_WINDOW_SECS;

/// What gc found, and removed unless it was a dry run.
#[derive(Debug, Default, serde::Serialize)]
pub struct GcOutcome {
    /// Unreferenced packs older than the grace period, and a folder store's staged writes
    /// as old (`NAME#N`, left by a writer that was killed): `(name, size)`.
    pub removed: Vec<(String, u64)>,
    /// How many of `removed` are staged writes.
    pub staged: usize,
    /// Bytes in them.
    pub bytes: u64,
    /// Unreferenced packs kept because they are younger than the grace period.
    pub young: usize,
    /// Packs referenced by some version or claim.
    pub referenced: usize,
    /// Nothing was deleted.
    pub dry_run: bool,
    /// Objects under `versions/` or `claims/` that could not be read, with the reason: they
    /// stop gc unless forced (a damaged version may be restored from another copy, and then
    /// needs its packs).
    pub unreadable: Vec<(String, String)>,
    /// Packs kept only because an unreadable object names them (with `force`).
    pub kept_for_unreadable: usize,
}

/// Find, and unless `dry_run` delete, unreferenced packs older than `grace_secs`.
///
/// References come from every version in the store and every claim (a push whose versions
/// are not all visible yet). Versions and policies are history and are never removed. An
/// object under `versions/` or `claims/` that cannot be read stops gc before anything is
/// deleted; with `force` gc goes on, keeping every pack whose id (raw or hex) occurs
/// anywhere in the bytes of such an object.
pub fn gc(
    s: &Store,
    dataset: &Id,
    grace_secs: u64,
    dry_run: bool,
    force: bool,
) -> Result<GcOutcome> {
    let listed = s.list_meta("")?;
    let mut referenced: HashSet<Id> = HashSet::new();
    let mut unreadable: Vec<(String, bytes::Bytes, String)> = Vec::new();
    let names: Vec<String> = listed
        .iter()
        .filter(|m| m.name.starts_with("versions/") || m.name.starts_with("claims/"))
        .map(|m| m.name.clone())
        .collect();
    for (name, b) in names.iter().zip(super::transfer::get_all(s, &names)?) {
        let Some(b) = b else { continue };
        let versions: Vec<(Id, Vec<u8>)> = if name.starts_with("versions/") {
            match super::transfer::expected_id(name) {
                Some(id) => vec![(id, b.to_vec())],
                None => continue,
            }
        } else {
            match Claim::decode(&b) {
                Ok(c) => c
                    .versions
                    .into_iter()
                    .map(|v| (Id::of_stored(&v), v.into_vec()))
                    .collect(),
                Err(e) => {
                    unreadable.push((name.clone(), b.clone(), e.to_string()));
                    continue;
                }
            }
        };
        for (id, vb) in versions {
            match Version::open(&id, &vb) {
                Ok(v) if v.dataset == *dataset => referenced.extend(v.packs),
                Ok(_) => {}
                Err(e) => unreadable.push((name.clone(), b.clone(), e.to_string())),
            }
        }
    }
    if !unreadable.is_empty() && !force {
        let list: Vec<String> = unreadable
            .iter()
            .map(|(n, _, why)| format!("{n}: {why}"))
            .collect();
        return Err(Error::Usage(format!(
            "gc stopped, nothing was deleted: {} object(s) that could name packs cannot be read ({}). A damaged version can often be restored from another copy and then needs its packs: restore it, or run gc --force, which keeps every pack named anywhere in these objects",
            unreadable.len(),
            list.join("; ")
        )));
    }
    let mut kept_for_unreadable = 0;
    if !unreadable.is_empty() {
        for m in &listed {
            let Some(id) = super::transfer::expected_id(&m.name) else {
                continue;
            };
            if m.name != store::pack_path(&id) || referenced.contains(&id) {
                continue;
            }
            let hex = id.to_hex();
            let named = unreadable.iter().any(|(_, b, _)| {
                b.windows(32).any(|w| w == id.0) || b.windows(64).any(|w| w == hex.as_bytes())
            });
            if named {
                referenced.insert(id);
                kept_for_unreadable += 1;
            }
        }
    }
    let t = now();
    let mut out = GcOutcome {
        dry_run,
        unreadable: unreadable.into_iter().map(|(n, _, why)| (n, why)).collect(),
        kept_for_unreadable,
        ..Default::default()
    };
    for m in &listed {
        let Some(id) = super::transfer::expected_id(&m.name) else {
            continue;
        };
        if m.name != store::pack_path(&id) {
            continue;
        }
        if referenced.contains(&id) {
            out.referenced += 1;
        } else if t.saturating_sub(m.modified) < grace_secs {
            out.young += 1;
        } else {
            out.bytes += m.size;
            out.removed.push((m.name.clone(), m.size));
        }
    }
    // A staged write that old is not in progress: its writer was killed.
    for m in s.list_staged()? {
        if t.saturating_sub(m.modified) >= grace_secs {
            out.bytes += m.size;
            out.staged += 1;
            out.removed.push((m.name, m.size));
        }
    }
    if !dry_run {
        for (name, _) in &out.removed {
            if store::is_staged(name) {
                s.delete_staged(name)?;
            } else {
                s.delete(name)?;
            }
        }
    }
    Ok(out)
}
