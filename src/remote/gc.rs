//! Garbage: packs no version references (left by interrupted commits and pushes, or by a
//! pusher that lost a race). Only packs older than the grace period go, so a push still
//! uploading its packs (which no version references until it finishes) keeps them.

use super::claim::Claim;
use crate::error::Result;
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
    /// Unreferenced packs older than the grace period: `(name, size)`.
    pub removed: Vec<(String, u64)>,
    /// Bytes in them.
    pub bytes: u64,
    /// Unreferenced packs kept because they are younger than the grace period.
    pub young: usize,
    /// Packs referenced by some version or claim.
    pub referenced: usize,
    /// Nothing was deleted.
    pub dry_run: bool,
}

/// Find, and unless `dry_run` delete, unreferenced packs older than `grace_secs`.
///
/// References come from every version in the store and every claim (a push whose versions
/// are not all visible yet). Versions and policies are history and are never removed.
pub fn gc(s: &Store, dataset: &Id, grace_secs: u64, dry_run: bool) -> Result<GcOutcome> {
    let listed = s.list_meta("")?;
    let mut referenced: HashSet<Id> = HashSet::new();
    let names: Vec<String> = listed
        .iter()
        .filter(|m| m.name.starts_with("versions/") || m.name.starts_with("claims/"))
        .map(|m| m.name.clone())
        .collect();
    for (name, b) in names.iter().zip(super::transfer::get_all(s, &names)?) {
        let Some(b) = b else { continue };
        // An unreadable version references nothing we can know of; verify reports it.
        let versions: Vec<(Id, Vec<u8>)> = if name.starts_with("versions/") {
            super::transfer::expected_id(name)
                .map(|id| vec![(id, b.to_vec())])
                .unwrap_or_default()
        } else {
            Claim::decode(&b)
                .map(|c| {
                    c.versions
                        .into_iter()
                        .map(|v| (Id::of_stored(&v), v.into_vec()))
                        .collect()
                })
                .unwrap_or_default()
        };
        for (id, vb) in versions {
            if let Ok(v) = Version::open(&id, &vb) {
                if v.dataset == *dataset {
                    referenced.extend(v.packs);
                }
            }
        }
    }
    let t = now();
    let mut out = GcOutcome {
        dry_run,
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
    if !dry_run {
        for (name, _) in &out.removed {
            s.delete(name)?;
        }
    }
    Ok(out)
}
