//! One listing of a remote, and the checks every push and fetch make on it: the dataset it
//! holds, and nothing missing that this dataset saw there before (rollback).

use super::transfer;
use super::{Remote, Seen};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::repo::Dataset;
use crate::rules::{Chain, History};
use std::collections::{HashMap, HashSet};

/// One listing of a remote.
#[derive(Default)]
pub struct Listing {
    /// Policy ids.
    pub policies: HashSet<Id>,
    /// Version ids.
    pub versions: HashSet<Id>,
    /// Pack ids with size and last-modified time.
    pub packs: HashMap<Id, (u64, u64)>,
    /// Claim names.
    pub claims: HashSet<Id>,
    /// Checkpoint ids with last-modified time and size.
    pub checkpoints: HashMap<Id, (u64, u64)>,
    /// Cosignature ids with last-modified time and size.
    pub cosignatures: HashMap<Id, (u64, u64)>,
}

/// List the remote once.
pub fn list(r: &Remote) -> Result<Listing> {
    let mut l = Listing::default();
    for m in r.store.list_meta("").map_err(|e| r.explain(e))? {
        // Only an object at its own name counts (`packs/zz/<id>` is junk, not that pack).
        let Some(id) =
            transfer::expected_id(&m.name).filter(|i| crate::store::canonical(&m.name, i))
        else {
            continue;
        };
        match m.name.split('/').next() {
            Some("policy") => {
                l.policies.insert(id);
            }
            Some("versions") => {
                l.versions.insert(id);
            }
            Some("packs") => {
                l.packs.insert(id, (m.size, m.modified));
            }
            Some("claims") => {
                l.claims.insert(id);
            }
            Some("checkpoints") => {
                l.checkpoints.insert(id, (m.modified, m.size));
            }
            Some("cosignatures") => {
                l.cosignatures.insert(id, (m.modified, m.size));
            }
            _ => {}
        }
    }
    Ok(l)
}

/// Refuse a remote holding another dataset. True when the remote is empty.
pub(crate) fn check_dataset(r: &Remote, l: &Listing, dataset: &Id) -> Result<bool> {
    if l.policies.is_empty() && l.versions.is_empty() {
        return Ok(true);
    }
    if !l.policies.contains(dataset) {
        return Err(r.problem(format!(
            "holds a different dataset (its policies do not include this dataset's genesis {}): use another bucket or prefix",
            dataset.short()
        )));
    }
    Ok(false)
}

/// Refuse a remote that lost something it held when last seen, or altered it: the heads and
/// the newest policy this dataset saw there are read again and must hash to their names
/// (otherwise overwriting a head with garbage would be a silent rollback: new junk is
/// ignored, but what was seen must stay).
pub(crate) fn check_seen(r: &Remote, l: &Listing) -> Result<()> {
    check_listed(r, l)?;
    let mut names: Vec<String> = r
        .config
        .seen
        .heads
        .iter()
        .map(crate::store::version_path)
        .collect();
    if let Some((_, p)) = &r.config.seen.policy {
        names.push(crate::store::policy_path(p));
    }
    let got = transfer::get_all(&r.store, &names).map_err(|e| r.explain(e))?;
    for (name, b) in names.iter().zip(got) {
        let id = transfer::expected_id(name).unwrap_or(Id::ZERO);
        match b {
            Some(b) if Id::of_stored(&b) == id => {}
            Some(_) => {
                return Err(r.problem(format!(
                    "{name}, which this dataset saw there, was altered (it no longer hashes to its name): the remote was tampered with (nothing here was changed; ask whoever runs the store)"
                )))
            }
            None => {
                return Err(r.problem(format!(
                    "{name} was there when this dataset last saw the remote, and is gone: the remote was rolled back or objects were deleted (nothing here was changed; ask whoever runs the store)"
                )))
            }
        }
    }
    Ok(())
}

/// The listing still shows what this dataset saw there.
fn check_listed(r: &Remote, l: &Listing) -> Result<()> {
    let gone = |what: &str, id: &Id| {
        r.problem(format!(
            "{what} {} was there when this dataset last saw the remote, and is gone: the remote was rolled back or objects were deleted (nothing here was changed; ask whoever runs the store)",
            id.short()
        ))
    };
    for h in &r.config.seen.heads {
        if !l.versions.contains(h) {
            return Err(gone("version", h));
        }
    }
    if let Some((_, p)) = &r.config.seen.policy {
        if !l.policies.contains(p) {
            return Err(gone("policy", p));
        }
    }
    Ok(())
}

/// The versions of `ids` that are history and that no other such version names as a
/// parent (a remote's heads, as the rules see them: refused objects there are ignored).
pub(crate) fn heads(hist: &History, ids: &HashSet<Id>) -> Vec<Id> {
    let hist_ids: HashSet<Id> = ids.iter().filter(|i| hist.is_history(i)).copied().collect();
    let parents: HashSet<Id> = hist_ids
        .iter()
        .filter_map(|i| hist.versions.get(i))
        .flat_map(|v| v.parents.iter().copied())
        .collect();
    let mut h: Vec<Id> = hist_ids.difference(&parents).copied().collect();
    h.sort();
    h
}

/// The newest policy of `chain` that the remote holds.
pub(crate) fn remote_tip(chain: &Chain, l: &Listing) -> Option<(u64, Id)> {
    chain
        .policies
        .iter()
        .rev()
        .find(|(id, _)| l.policies.contains(id))
        .map(|(id, p)| (p.seq, *id))
}

pub(crate) fn record_seen(
    ds: &Dataset,
    r: &Remote,
    seen: Seen,
    conditional: Option<bool>,
) -> Result<()> {
    let mut remotes = super::Remotes::load(ds)?;
    if let Some(c) = remotes.map.get_mut(&r.name) {
        c.seen = seen;
        if conditional.is_some() {
            c.conditional = conditional;
        }
        remotes.save()?;
    }
    Ok(())
}

/// The packs in the dataset's own store.
pub(crate) fn pack_ids(ds: &Dataset) -> Result<HashSet<Id>> {
    Ok(ds
        .store
        .list_ids("packs")?
        .into_iter()
        .map(|(i, _)| i)
        .collect())
}

pub(crate) fn read_local(ds: &Dataset, name: &str, kind: &'static str, id: &Id) -> Result<Vec<u8>> {
    Ok(ds
        .store
        .get(name)?
        .ok_or(Error::Missing { kind, id: *id })?
        .to_vec())
}
