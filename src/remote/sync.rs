//! `push`, `fetch` and `pull`: only missing objects travel, packs before the policies and
//! versions that need them, so a reader of the remote never sees a version whose objects are
//! not all there; every object read from a remote is checked before it lands.

use super::claim::{self, Claim};
use super::transfer::{self, Moved};
use super::{Remote, Seen};
use crate::error::{Error, Result};
use crate::history;
use crate::id::Id;
use crate::identity::Identity;
use crate::object::policy::Policy;
use crate::object::version::Version;
use crate::repo::checkout::{self, CheckoutOptions, CheckoutOutcome};
use crate::repo::merge::{self, MergeOutcome};
use crate::repo::{now, Dataset};
use crate::sharing::chain::{self, Chain};
use crate::store;
use std::collections::{BTreeSet, HashMap, HashSet};

/// A push reuses a pack it finds on the remote but that no version there references (left
/// by an interrupted push) only while it is younger than this; an older one is uploaded
/// again. `gc` never deletes an unreferenced pack younger than twice this.
pub const REUSE_WINDOW_SECS: u64 = 12 * 3600;

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
}

/// List the remote once.
pub fn list(r: &Remote) -> Result<Listing> {
    let mut l = Listing::default();
    for m in r.store.list_meta("").map_err(|e| r.explain(e))? {
        let Some(id) = transfer::expected_id(&m.name) else {
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
            _ => {}
        }
    }
    Ok(l)
}

/// Refuse a remote holding another dataset. True when the remote is empty.
fn check_dataset(r: &Remote, l: &Listing, dataset: &Id) -> Result<bool> {
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

/// Refuse a remote that lost something it held when last seen.
fn check_seen(r: &Remote, l: &Listing) -> Result<()> {
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

/// Versions in `ids` that no other version in `ids` names as a parent.
fn heads(ds: &Dataset, ids: &HashSet<Id>) -> Result<Vec<Id>> {
    let mut parents = HashSet::new();
    for id in ids {
        parents.extend(ds.version(id)?.parents);
    }
    let mut h: Vec<Id> = ids.difference(&parents).copied().collect();
    h.sort();
    Ok(h)
}

/// The newest policy of `chain` that the remote holds.
fn remote_tip(chain: &Chain, l: &Listing) -> Option<(u64, Id)> {
    chain
        .policies
        .iter()
        .rev()
        .find(|(id, _)| l.policies.contains(id))
        .map(|(id, p)| (p.seq, *id))
}

fn record_seen(ds: &Dataset, r: &Remote, seen: Seen, conditional: Option<bool>) -> Result<()> {
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

/// What a push did.
#[derive(Debug, Default, serde::Serialize)]
pub struct PushOutcome {
    /// The remote's name.
    pub remote: String,
    /// Versions made visible.
    pub versions: usize,
    /// Policies made visible.
    pub policies: usize,
    /// Packs uploaded.
    pub packs: Moved,
    /// The remote's head afterwards.
    pub head: Option<Id>,
    /// Whether the store honours `If-None-Match: *` (probed once per remote).
    pub conditional: bool,
    /// Requests made to the remote.
    pub requests: u64,
}

/// Push the branch head and the policy chain to a remote.
pub fn push(ds: &Dataset, name: Option<&str>, progress: bool) -> Result<PushOutcome> {
    let _lock = ds.lock()?;
    let (_, mut r) = Remote::open(ds, name)?;
    let conditional = match r.config.conditional {
        Some(c) => c,
        None => r.probe()?,
    };
    r.config.conditional = Some(conditional);
    // A claim that turns out to be our own earlier attempt, or one whose versions we already
    // have, is finished and the push starts over from the new state.
    for _ in 0..3 {
        if let Some(out) = push_once(ds, &r, progress)? {
            return Ok(PushOutcome {
                conditional,
                requests: r.store.requests(),
                ..out
            });
        }
    }
    Err(r.problem("the remote kept changing while pushing; try again"))
}

fn push_once(ds: &Dataset, r: &Remote, progress: bool) -> Result<Option<PushOutcome>> {
    let l = list(r)?;
    check_dataset(r, &l, &ds.id)?;
    check_seen(r, &l)?;
    let chain = ds.chain()?;
    let behind = |what: String| Error::Behind {
        name: r.name.clone(),
        what,
    };
    let local_policies: HashSet<Id> = chain.policies.iter().map(|(i, _)| *i).collect();
    let unknown = l.policies.difference(&local_policies).count();
    if unknown > 0 {
        return Err(behind(format!("{unknown} policy change(s)")));
    }
    let local_versions: HashSet<Id> = ds.version_ids()?.into_iter().collect();
    let unknown = l.versions.difference(&local_versions).count();
    if unknown > 0 {
        return Err(behind(format!("{unknown} version(s)")));
    }
    let head = ds.head()?;
    let ancestors = match head {
        Some(h) => history::log(ds, &h)?,
        None => Vec::new(),
    };
    let anc: HashSet<Id> = ancestors.iter().map(|(i, _)| *i).collect();
    let unmerged = l.versions.difference(&anc).count();
    if unmerged > 0 {
        return Err(behind(format!(
            "{unmerged} version(s) not merged into your head"
        )));
    }
    let mut new_versions: Vec<&(Id, Version)> = ancestors
        .iter()
        .filter(|(id, _)| !l.versions.contains(id))
        .collect();
    new_versions.sort_by_key(|(id, v)| (v.seq, *id));
    let new_policies: Vec<&(Id, Policy)> = chain
        .policies
        .iter()
        .filter(|(id, _)| !l.policies.contains(id))
        .collect();
    let (tip_id, tip) = chain.tip();
    let seen = Seen {
        heads: head.into_iter().collect(),
        policy: Some((tip.seq, *tip_id)),
    };
    if new_versions.is_empty() && new_policies.is_empty() {
        record_seen(ds, r, seen, r.config.conditional)?;
        return Ok(Some(PushOutcome {
            remote: r.name.clone(),
            head,
            ..Default::default()
        }));
    }

    // Packs first. One the remote holds but no version there references may be the
    // leftover of an interrupted push: reused while young, sent again once gc could take it.
    let referenced: HashSet<Id> = ancestors
        .iter()
        .filter(|(id, _)| l.versions.contains(id))
        .flat_map(|(_, v)| v.packs.iter().copied())
        .collect();
    let local_packs: HashMap<Id, u64> = ds.store.list_ids("packs")?.into_iter().collect();
    let need: BTreeSet<Id> = new_versions
        .iter()
        .flat_map(|(_, v)| v.packs.iter().copied())
        .collect();
    let t = now();
    let mut send = Vec::new();
    for p in need {
        let size = *local_packs.get(&p).ok_or(Error::Missing {
            kind: "pack",
            id: p,
        })?;
        let reuse = match l.packs.get(&p) {
            Some((remote_size, modified)) => {
                referenced.contains(&p)
                    || (*remote_size == size && t.saturating_sub(*modified) < REUSE_WINDOW_SECS)
            }
            None => false,
        };
        if !reuse {
            send.push((store::pack_path(&p), size));
        }
    }
    let packs = transfer::copy(&ds.store, &r.store, &send, progress).map_err(|e| r.explain(e))?;

    // The claim: the one step two pushers from the same state cannot both pass.
    let mut claim = Claim::default();
    for (id, _) in &new_policies {
        claim
            .policies
            .push(read_local(ds, &store::policy_path(id), "policy", id)?.into());
    }
    for (id, _) in &new_versions {
        claim
            .versions
            .push(read_local(ds, &store::version_path(id), "version", id)?.into());
    }
    let remote_heads = heads(ds, &l.versions)?;
    let base_policy = remote_tip(&chain, &l).map(|(_, id)| id).unwrap_or(ds.id);
    let state = claim::state_id(&ds.id, &base_policy, &remote_heads);
    let name = store::claim_path(&state);
    let body = claim.encode();
    r.store
        .put_new(&name, body.clone())
        .map_err(|e| r.explain(e))?;
    // Read back whether written now or before: a store that ignores the condition may have
    // let another writer replace it, and an existing claim may be our own earlier attempt.
    let standing = r.store.get(&name).map_err(|e| r.explain(e))?;
    if standing.as_deref() != Some(body.as_slice()) {
        let Some(other) = standing else {
            return Err(r.problem(format!(
                "claim {} vanished after it was written",
                state.short()
            )));
        };
        let other = Claim::decode(&other)
            .map_err(|e| r.problem(format!("claim {}: {e}", state.short())))?;
        let theirs = finish_claim(ds, r, &other)?;
        if theirs
            .iter()
            .all(|v| anc.contains(v) || new_versions.iter().any(|(i, _)| i == v))
        {
            // An earlier attempt of ours: now finished, start over from the new state.
            return Ok(None);
        }
        return Err(behind(
            "versions another writer pushed at the same moment".into(),
        ));
    }
    for (id, _) in &new_policies {
        let b = read_local(ds, &store::policy_path(id), "policy", id)?;
        r.store
            .put_content(&store::policy_path(id), b.into())
            .map_err(|e| r.explain(e))?;
    }
    for (id, _) in &new_versions {
        let b = read_local(ds, &store::version_path(id), "version", id)?;
        r.store
            .put_content(&store::version_path(id), b.into())
            .map_err(|e| r.explain(e))?;
    }
    record_seen(ds, r, seen, r.config.conditional)?;
    Ok(Some(PushOutcome {
        remote: r.name.clone(),
        versions: new_versions.len(),
        policies: new_policies.len(),
        packs,
        head,
        ..Default::default()
    }))
}

/// The packs in the dataset's own store.
fn pack_ids(ds: &Dataset) -> Result<HashSet<Id>> {
    Ok(ds
        .store
        .list_ids("packs")?
        .into_iter()
        .map(|(i, _)| i)
        .collect())
}

fn read_local(ds: &Dataset, name: &str, kind: &'static str, id: &Id) -> Result<Vec<u8>> {
    Ok(ds
        .store
        .get(name)?
        .ok_or(Error::Missing { kind, id: *id })?
        .to_vec())
}

/// Make the objects of someone's claim visible, if the remote holds everything they need.
/// Returns the claim's version ids.
fn finish_claim(ds: &Dataset, r: &Remote, c: &Claim) -> Result<Vec<Id>> {
    let l = list(r)?;
    let mut ids = Vec::new();
    let mut writes = Vec::new();
    for b in &c.policies {
        let id = Id::of_stored(b);
        Policy::open(&id, b).map_err(|e| r.problem(format!("a claim holds a bad policy: {e}")))?;
        if !l.policies.contains(&id) {
            writes.push((store::policy_path(&id), b.clone()));
        }
    }
    for b in &c.versions {
        let id = Id::of_stored(b);
        let v = Version::open(&id, b)
            .map_err(|e| r.problem(format!("a claim holds a bad version: {e}")))?;
        if v.dataset != ds.id {
            return Err(r.problem(format!(
                "a claim holds version {} of another dataset",
                id.short()
            )));
        }
        if let Some(p) = v.packs.iter().find(|p| !l.packs.contains_key(p)) {
            return Err(r.problem(format!(
                "another writer's unfinished push needs pack {}, which is not there yet; try again shortly",
                p.short()
            )));
        }
        ids.push(id);
        if !l.versions.contains(&id) {
            writes.push((store::version_path(&id), b.clone()));
        }
    }
    for (name, b) in writes {
        r.store
            .put_content(&name, b.into_vec().into())
            .map_err(|e| r.explain(e))?;
    }
    Ok(ids)
}

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
                        "its policy {} and this dataset's {} both follow seq {}: two share changes were made at once; this dataset keeps its own",
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

/// What a pull did.
#[derive(Debug, Default, serde::Serialize)]
pub struct PullOutcome {
    /// The fetch.
    pub fetch: FetchOutcome,
    /// The head before.
    pub before: Option<Id>,
    /// The head after.
    pub head: Option<Id>,
    /// Merge versions made, with the paths both sides changed.
    pub merges: Vec<MergeOutcome>,
    /// The checkout of the new head, when it moved.
    pub checkout: Option<CheckoutOutcome>,
}

/// Fetch, then bring the remote's heads into the branch: fast-forward when the branch is
/// behind, a merge version when both sides moved (see [`merge`]); then update the folder.
pub fn pull(
    ds: &Dataset,
    identity: &Identity,
    name: Option<&str>,
    progress: bool,
) -> Result<PullOutcome> {
    let chain = ds.chain()?;
    let keys = ds.keyring(&chain, identity)?;
    let before = ds.head()?;
    if let Some(h) = before {
        merge::ensure_clean(ds, &keys, h)?;
    }
    let fetched = fetch(ds, name, progress)?;
    let mut cur = before;
    let mut merges = Vec::new();
    let mut targets: Vec<(u64, Id)> = Vec::new();
    for h in &fetched.heads {
        targets.push((ds.version(h)?.seq, *h));
    }
    targets.sort();
    for (_, t) in targets {
        cur = Some(match cur {
            None => t,
            Some(c) if ancestors(ds, &c)?.contains(&t) => c,
            Some(c) if ancestors(ds, &t)?.contains(&c) => t,
            Some(c) => {
                let m = merge::merge(
                    ds,
                    identity,
                    c,
                    t,
                    &format!("merge {} from {}", t.short(), fetched.remote),
                )?;
                let v = m.version;
                merges.push(m);
                v
            }
        });
    }
    let mut out = PullOutcome {
        fetch: fetched,
        before,
        head: cur,
        merges,
        checkout: None,
    };
    if cur != before {
        if let Some(h) = cur {
            let keys = ds.keyring(&ds.chain()?, identity)?;
            prefetch_trees(ds, &keys, &h)?;
            out.checkout = Some(checkout::checkout(
                ds,
                &keys,
                h,
                &CheckoutOptions {
                    target: None,
                    force: true,
                    progress,
                },
            )?);
            ds.set_head(&h)?;
        }
    }
    Ok(out)
}

fn ancestors(ds: &Dataset, id: &Id) -> Result<HashSet<Id>> {
    Ok(history::log(ds, id)?.into_iter().map(|(i, _)| i).collect())
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
