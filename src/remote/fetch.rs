//! `fetch`: bring a remote's policies, versions and packs into the dataset, checking every
//! object before it lands (spec/format.md §11.1); and, for partial clones, the packs of trees.

use super::listing::{check_dataset, check_seen, heads, list, pack_ids, record_seen, remote_tip};
use super::transfer::{self, Moved};
use super::{Remote, Seen};
use crate::error::Result;
use crate::id::Id;
use crate::object::version::Version;
use crate::repo::Dataset;
use crate::sharing::chain::{self, Chain};
use crate::store;
use std::collections::{BTreeSet, HashSet};

/// What a fetch did.
#[derive(Debug, Default, serde::Serialize)]
pub struct FetchOutcome {
    /// The remote's name.
    pub remote: String,
    /// Versions new to this dataset.
    pub versions: Vec<Id>,
    /// Policies new to this dataset.
    pub policies: usize,
    /// Packs downloaded.
    pub packs: Moved,
    /// The remote's head versions.
    pub heads: Vec<Id>,
    /// Requests made to the remote.
    pub requests: u64,
}

/// Why a version read from a remote cannot be accepted under `chain`, if it cannot.
fn check_version(chain: &Chain, v: &Version) -> Option<String> {
    let Some((_, p)) = chain.get(&v.policy) else {
        return Some(format!(
            "made under policy {}, which is not in the dataset's policy chain",
            v.policy.short()
        ));
    };
    match p.member_by_sign_key(&v.author.0) {
        Some(m) if m.can_write() => {}
        Some(m) => return Some(format!("signed by {}, who is not a writer", m.label())),
        None => return Some("signed by a key that is not a member of the dataset".into()),
    }
    (v.epoch != p.epoch).then(|| {
        format!(
            "sealed under epoch {}, not its policy's {}",
            v.epoch, p.epoch
        )
    })
}

/// Bring a remote's policies, versions and packs into the dataset. Nothing a remote holds is
/// written here unless it checks out: hashes, signatures, the policy chain, authors' roles.
pub fn fetch(ds: &Dataset, name: Option<&str>, progress: bool) -> Result<FetchOutcome> {
    let _lock = ds.lock()?;
    let (_, r) = Remote::open(ds, name)?;
    fetch_from(ds, &r, progress)
}

/// [`fetch`] from an open remote (the caller holds the lock, or the dataset is new).
pub(crate) fn fetch_from(ds: &Dataset, r: &Remote, progress: bool) -> Result<FetchOutcome> {
    let mut out = FetchOutcome {
        remote: r.name.clone(),
        ..Default::default()
    };
    let l = list(r)?;
    if check_dataset(r, &l, &ds.id)? {
        return Ok(out);
    }
    check_seen(r, &l)?;
    let local = ds.chain()?;
    let known: HashSet<Id> = local.policies.iter().map(|(i, _)| *i).collect();
    if l.policies.iter().any(|p| !known.contains(p)) {
        let remote = chain::load(&r.store, &ds.id).map_err(|e| r.explain(e))?;
        for (i, (id, _)) in local.policies.iter().enumerate() {
            match remote.policies.get(i) {
                Some((rid, _)) if rid == id => {}
                Some((rid, _)) => {
                    return Err(r.problem(format!(
                        "its policy {} and this dataset's {} both follow seq {}: two share changes were made at once and the other was pushed first: clone the remote again and repeat your share change there (this dataset is unchanged)",
                        rid.short(),
                        id.short(),
                        i.saturating_sub(1)
                    )))
                }
                None => break,
            }
        }
        let names: Vec<(String, u64)> = remote
            .policies
            .iter()
            .skip(local.policies.len())
            .map(|(id, _)| (store::policy_path(id), 0))
            .collect();
        out.policies = names.len();
        transfer::copy(&r.store, &ds.store, &names, false).map_err(|e| r.explain(e))?;
    }
    let chain = ds.chain()?;

    let local_versions: HashSet<Id> = ds.version_ids()?.into_iter().collect();
    let mut new: Vec<(Id, Version, bytes::Bytes)> = Vec::new();
    let ids: Vec<Id> = l.versions.difference(&local_versions).copied().collect();
    let names: Vec<String> = ids.iter().map(store::version_path).collect();
    let got = transfer::get_all(&r.store, &names).map_err(|e| r.explain(e))?;
    for (id, b) in ids.iter().zip(got) {
        let b =
            b.ok_or_else(|| r.problem(format!("version {} vanished while fetching", id.short())))?;
        let v = Version::open(id, &b).map_err(|e| r.problem(e.to_string()))?;
        if v.dataset != ds.id {
            return Err(r.problem(format!("version {} belongs to another dataset", id.short())));
        }
        if let Some(why) = check_version(&chain, &v) {
            return Err(r.problem(format!("version {}: {why}", id.short())));
        }
        new.push((*id, v, b));
    }
    let all: HashSet<Id> = local_versions.union(&l.versions).copied().collect();
    let local_packs = pack_ids(ds)?;
    let mut want: BTreeSet<Id> = BTreeSet::new();
    for (id, v, _) in &new {
        if let Some(p) = v.parents.iter().find(|p| !all.contains(p)) {
            return Err(r.problem(format!(
                "version {} names parent {}, which the remote does not hold",
                id.short(),
                p.short()
            )));
        }
        for p in &v.packs {
            if !local_packs.contains(p) {
                if !l.packs.contains_key(p) {
                    return Err(r.problem(format!(
                        "version {} needs pack {}, which is missing from the remote (deleted?)",
                        id.short(),
                        p.short()
                    )));
                }
                want.insert(*p);
            }
        }
    }
    // A partial clone reads packs from the remote when it needs them.
    if ds.partial().is_some() {
        want.clear();
    }
    let names: Vec<(String, u64)> = want
        .iter()
        .map(|p| (store::pack_path(p), l.packs[p].0))
        .collect();
    out.packs = transfer::copy(&r.store, &ds.store, &names, progress).map_err(|e| r.explain(e))?;
    // Versions last, parents first: a crash leaves no version without its packs.
    new.sort_by_key(|(id, v, _)| (v.seq, *id));
    for (id, _, b) in &new {
        ds.store.put_new(&store::version_path(id), b.clone())?;
        out.versions.push(*id);
    }
    out.heads = heads(ds, &l.versions)?;
    let seen = Seen {
        heads: out.heads.clone(),
        policy: remote_tip(&chain, &l),
    };
    record_seen(ds, r, seen, None)?;
    out.requests = r.store.requests();
    Ok(out)
}

/// In a partial clone, copy the packs holding version `vid`'s trees (trees have packs of
/// their own): walking folders then costs a few whole-pack reads instead of one range request
/// per folder. Pack headers are read as ranges.
pub fn prefetch_trees(ds: &Dataset, keys: &crate::repo::Keyring, vid: &Id) -> Result<Moved> {
    let Some(origin) = ds.store.fallback() else {
        return Ok(Moved::default());
    };
    let v = ds.version(vid)?;
    let mut index = crate::repo::index::Index::load(ds, keys)?;
    let locs = index.view(ds, keys, &v.packs)?;
    index.save(ds)?;
    let local = pack_ids(ds)?;
    let mut want: BTreeSet<Id> = BTreeSet::new();
    for loc in locs.values() {
        if loc.entry.kind() == crate::object::blob::KIND_TREE && !local.contains(&loc.pack) {
            want.insert(loc.pack);
        }
    }
    let names: Vec<(String, u64)> = want.iter().map(|p| (store::pack_path(p), 0)).collect();
    transfer::copy(origin, &ds.store, &names, false)
}
